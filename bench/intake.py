"""Intake: signed CallRail webhooks per second, and their latency, on the embedded default.

The service runs as `ingestion-pipeline serve`, processes of its own (as many as `serve` runs
by default: one per core; `--processes N` to choose), on a SQLite file in a temporary directory
with PIPELINE_WORKER_CONCURRENCY=0 (it accepts calls and processes none, so only intake is
measured), once with the default `synchronous=FULL` and once with `?synchronous=normal`. The
baseline is an aiohttp hello-world (bench/hello.py: read the body, answer 202) served the same
way, with as many processes. All three get the same load from the same generator
(bench/loadgen.py, this process), over loopback only, each phase on new connections (a phase
that reused the last one's would start with most of them on whichever process answered last):

  warm-up    closed loop, 8 connections, 1 s, not counted
  100/s      open loop, latency from each request's scheduled time
  1000/s     open loop, likewise
  saturation closed loop, back to back, at 32, then 64, then 128 connections

Server CPU is the CPU of all the server's processes.

A server's saturation throughput is the highest of its three closed loops. The service's
requests mostly wait (each one's transaction is committed with an fsync, in turn with the other
process's): at 32 connections its processes stood idle a quarter of the time (server CPU
140-150 % of 200 %, the generator 30 %), and the hello-world was not saturated either (113-116 %
and 61-64 %); at 128 connections both made 20-32 % more, the machine ~93 % busy. A fixed
connection count measures a latency as much as a ceiling; every server gets the same three
loops and is taken at its own best, and every loop is printed.

The ceiling is the hello-world's saturation throughput, measured twice: before the service and
again after it (warm-up and saturation only), and the higher of the two is the one the share is
taken of. On this kind of machine one measurement of it ranged 8,000-11,100 req/s over runs of
unchanged code, so a ceiling measured once, low, could pass a share that a second one fails.

Every request is a new call (a new CallRail id), signed with the tenant's key, so each one is
verified, stored with its job in one transaction and answered 202.

    python -m bench.intake [--quick] [--connections 32,64,128] [--modes full,normal]
                           [--processes N] [--event-loop auto|uvloop|asyncio]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import attrs

from bench.common import (
    ROOT,
    Check,
    OthersWatch,
    children,
    fmt,
    machine_note,
    process_tree_cpu_s,
    ratio,
    table,
)
from bench.loadgen import (
    MakeRequest,
    PhaseResult,
    closed_loop,
    open_loop,
    session,
    settle,
)
from domain.webhook import sign
from entrypoints.loops import LOOPS, loop_name
from entrypoints.processes import default_processes

VECTOR = ROOT / "tests" / "fixtures" / "callrail_post_call_vector.json"
TENANT_ID = "bench-tenant"
COMPANY_ID = "155920786"  # the CallRail test vector's company
SIGNING_KEY = "bench-signing-key-0001"  # a throwaway tenant in a temp directory
WEBHOOK_PATH = "/v1/callrail/webhook"

CEILING_SHARE_TARGET = 30.0  # % of the hello-world ceiling
P99_TARGET_MS = 25.0  # at 1,000 req/s


@attrs.frozen
class Durations:
    warmup_s: float = 1.0
    low_s: float = 5.0
    high_s: float = 6.0
    saturation_s: float = 4.0  # each of the closed loops

    @classmethod
    def quick(cls) -> Durations:
        return cls(0.5, 2.0, 2.0, 2.0)


SATURATION_CONNECTIONS = (32, 64, 128)
SATURATION = "saturation"


HELLO = "hello-world"
HELLO_AGAIN = "hello-world again"  # its saturation phase only, after the service's runs


@attrs.frozen
class ServerRun:
    label: str  # HELLO, "service FULL", "service NORMAL", HELLO_AGAIN
    detail: str
    phases: tuple[PhaseResult, ...]

    def phase(self, name: str) -> PhaseResult:
        return next(p for p in self.phases if p.name == name)

    @property
    def saturation(self) -> PhaseResult:
        """The closed loop (of the 32, 64, 128 connections ones) that made the most requests."""
        return max((p for p in self.phases if p.name == SATURATION), key=lambda p: p.throughput)

    @property
    def saturation_failures(self) -> int:
        """Failed requests in any of the closed loops, the best or not."""
        return sum(p.failed for p in self.phases if p.name == SATURATION)

    @property
    def is_baseline(self) -> bool:
        return self.label in (HELLO, HELLO_AGAIN)


def ceiling_run(runs: Sequence[ServerRun]) -> ServerRun:
    """The hello-world measurement whose saturation throughput was the higher."""
    return max((r for r in runs if r.is_baseline), key=lambda r: r.saturation.throughput)


@attrs.frozen
class IntakeReport:
    runs: tuple[ServerRun, ...]
    checks: tuple[Check, ...]
    machine: str


# --- requests --------------------------------------------------------------------------------


def webhook_requests() -> MakeRequest:
    """A fresh signed post-call webhook (CallRail's own test body, a new call id) per call."""
    payload: dict[str, Any] = json.loads(VECTOR.read_bytes())
    payload.update(
        {"id": "@ID@", "resource_id": "CAL@ID@", "company_id": COMPANY_ID, "answered": True}
    )
    template = json.dumps(payload, separators=(",", ":")).encode()
    template = template.replace(b'"@ID@"', b"@ID@")  # the numeric id, unquoted
    counter = itertools.count(1)

    def make() -> tuple[bytes, Mapping[str, str]]:
        body = template.replace(b"@ID@", str(next(counter)).encode())
        return body, {"Content-Type": "application/json", "Signature": sign(SIGNING_KEY, body)}

    return make


def tenant_document() -> dict[str, Any]:
    return {
        "tenant_id": TENANT_ID,
        "name": "Bench Heating & Air",
        "config": {
            "callrail_company_id": COMPANY_ID,
            "webhook_secret": SIGNING_KEY,
            "crm_config": {"type": "none"},
            "ai_config": {"lead_scoring_threshold": 70, "business_context": "HVAC in Denver"},
        },
    }


# --- processes -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def cli() -> list[str]:
    script = Path(sys.executable).parent / "ingestion-pipeline"
    return [str(script)] if script.exists() else [sys.executable, "-m", "entrypoints.cli"]


def clean_env(extra: Mapping[str, str]) -> dict[str, str]:
    """This environment without any PIPELINE_* or PORT setting, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_") and k != "PORT"}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


class ServerProcess:
    def __init__(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        cwd: Path,
        log: Path,
        processes: int = 1,
    ):
        self.argv = list(argv)
        self.processes = processes
        self.env = dict(env)
        self.cwd = cwd
        self.log_path = log
        self.port = int(env["PORT"]) if "PORT" in env else 0
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cpu_s(self) -> float:
        return process_tree_cpu_s(self.process.pid) if self.process else math.nan

    def start(self, timeout_s: float = 60.0) -> None:
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(  # noqa: S603  (our own interpreter and console script)
            self.argv, cwd=self.cwd, env=self.env, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.argv[0]} exited at start; see {self.log_path}")
            with contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError):
                ready = f"{self.url}/health/ready"
                with urllib.request.urlopen(ready, timeout=1) as answer:  # noqa: S310  (loopback)
                    if answer.status == 200:
                        self._all_serving(deadline)
                        return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.argv[0]} was not ready within {timeout_s:.0f}s")

    def _all_serving(self, deadline: float) -> None:
        """The first process answers before the others have started: wait until all of them
        run and have finished starting (the group is idle), so none misses the load."""
        assert self.process is not None
        while time.monotonic() < deadline:
            if len(children(self.process.pid)) >= self.processes - 1:
                before = self.cpu_s()
                time.sleep(0.5)
                if (self.cpu_s() - before) / 0.5 < 0.05:
                    return
            else:
                time.sleep(0.1)
        raise RuntimeError(f"{self.processes} processes were not serving in time")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None


@contextlib.contextmanager
def running(server: ServerProcess) -> Iterator[ServerProcess]:
    server.start()
    try:
        yield server
    finally:
        server.stop()


def hello_server(workdir: Path, processes: int, event_loop: str = "auto") -> ServerProcess:
    port = free_port()
    return ServerProcess(
        [sys.executable, "-m", "bench.hello", "--port", str(port), "--processes", str(processes)],
        clean_env({"PORT": str(port), "PIPELINE_EVENT_LOOP": event_loop}),
        ROOT,
        workdir / "hello.log",
        processes,
    )


def service_server(
    workdir: Path, synchronous: str, processes: int, event_loop: str = "auto"
) -> tuple[ServerProcess, str]:
    """The service on a new SQLite file in `workdir`, the bench tenant already created."""
    workdir.mkdir(parents=True, exist_ok=True)
    database = f"sqlite:///{workdir / 'pipeline.db'}"
    if synchronous != "full":
        database += f"?synchronous={synchronous}"
    port = free_port()
    env = clean_env(
        {
            "PORT": str(port),
            "PIPELINE_DATABASE_URL": database,
            "PIPELINE_AUDIO_STORE_URL": f"file://{workdir / 'audio'}",
            "PIPELINE_WORKER_CONCURRENCY": "0",
            "PIPELINE_EVENT_LOOP": event_loop,
        }
    )
    tenant = workdir / "tenant.json"
    tenant.write_text(json.dumps(tenant_document()))
    subprocess.run(  # noqa: S603
        [*cli(), "tenants", "create", "--file", str(tenant)],
        cwd=workdir,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=120,
    )
    argv = [*cli(), "serve", "--host", "127.0.0.1", "--processes", str(processes)]
    return ServerProcess(argv, env, workdir, workdir / "service.log", processes), database


# --- the phases ------------------------------------------------------------------------------


async def _phases(
    server: ServerProcess,
    make: MakeRequest,
    durations: Durations,
    connections: Sequence[int],
    *,
    rates: bool = True,
) -> tuple[PhaseResult, ...]:
    """Each phase on connections of its own: a phase that reused the last one's would start
    with whichever of the server's processes answered last holding the most of them.
    `rates=False`: the warm-up and saturation only."""
    url = server.url + WEBHOOK_PATH
    cpu = server.cpu_s
    results: list[PhaseResult] = []
    async with session(url, 8) as http:
        await closed_loop(
            http,
            make,
            name="warm-up",
            connections=8,
            duration_s=durations.warmup_s,
            server_cpu=cpu,
        )
    for rate, duration in ((100.0, durations.low_s), (1000.0, durations.high_s)) if rates else ():
        await settle(cpu)
        async with session(url, 1000) as http:
            results.append(
                await open_loop(
                    http,
                    make,
                    name=f"{rate:.0f}/s",
                    rate=rate,
                    duration_s=duration,
                    server_cpu=cpu,
                )
            )
    for n in connections:
        await settle(cpu)
        async with session(url, n) as http:
            results.append(
                await closed_loop(
                    http,
                    make,
                    name=SATURATION,
                    connections=n,
                    duration_s=durations.saturation_s,
                    server_cpu=cpu,
                )
            )
    if not server.alive():
        raise RuntimeError(f"the server died during the run; see {server.log_path}")
    return tuple(results)


def _measure(
    label: str,
    detail: str,
    server: ServerProcess,
    durations: Durations,
    connections: Sequence[int],
    *,
    rates: bool = True,
) -> ServerRun:
    with running(server):
        phases = asyncio.run(
            _phases(server, webhook_requests(), durations, connections, rates=rates)
        )
    return ServerRun(label, detail, phases)


def run(
    durations: Durations | None = None,
    connections: Sequence[int] = SATURATION_CONNECTIONS,
    modes: Sequence[str] = ("full", "normal"),
    out: IO[str] = sys.stdout,
    processes: int | None = None,
    event_loop: str = "auto",
) -> IntakeReport:
    """`processes`: serving processes for the service and the hello-world alike (default: what
    `serve` runs by default, one per core); `event_loop`: theirs, as PIPELINE_EVENT_LOOP."""
    durations = durations or Durations()
    processes = processes or default_processes()
    machine = machine_note()
    watch = OthersWatch()
    serving = f"{processes} serving processes on the {loop_name(event_loop)} event loop"
    print(f"\n== intake ==  ({machine}; {serving})", file=out, flush=True)
    runs: list[ServerRun] = []
    with tempfile.TemporaryDirectory(prefix="bench-intake-") as tmp:
        workdir = Path(tmp)
        hello = hello_server(workdir, processes, event_loop)
        runs.append(_measure(HELLO, "bench/hello.py", hello, durations, connections))
        print(f"  measured {HELLO} on {hello.url}", file=out, flush=True)
        for mode in modes:
            server, database = service_server(workdir / mode, mode, processes, event_loop)
            label = f"service {mode.upper()}"
            runs.append(_measure(label, database, server, durations, connections))
            print(f"  measured {label} on {server.url} ({database})", file=out, flush=True)
        # Its log goes on after the first run's.
        hello = hello_server(workdir, processes, event_loop)
        detail = "bench/hello.py, saturation again"
        runs.append(_measure(HELLO_AGAIN, detail, hello, durations, connections, rates=False))
        print(f"  measured {HELLO_AGAIN} on {hello.url}", file=out, flush=True)
    report = IntakeReport(tuple(runs), tuple(_checks(runs)), machine)
    print_report(report, out)
    print(f"  machine at the end: {machine_note(before=False)}; {watch.note()}", file=out)
    return report


def _checks(runs: Sequence[ServerRun]) -> list[Check]:
    hello = runs[0]
    ceiling = ceiling_run(runs).saturation.throughput
    measured = " and ".join(
        f"{fmt(r.saturation.throughput)} ({r.saturation.connections} conns)"
        for r in runs
        if r.is_baseline
    )
    checks = []
    for server in (r for r in runs if not r.is_baseline):
        mode = server.label.removeprefix("service ")
        share = 100 * ratio(server.saturation.throughput, ceiling)
        best = f"{fmt(server.saturation.throughput)} req/s at {server.saturation.connections} conns"
        checks.append(
            Check(
                "intake",
                f"saturation, % of hello-world ({mode})",
                share,
                CEILING_SHARE_TARGET,
                "%",
                higher_is_better=True,
                baseline_note=(
                    f"{best}; hello-world {fmt(ceiling)} req/s, the higher of {measured}"
                ),
                failures=server.saturation_failures,
            )
        )
        high = server.phase("1000/s")
        checks.append(
            Check(
                "intake",
                f"p99 at 1,000 req/s ({mode})",
                high.p99_ms,
                P99_TARGET_MS,
                "ms",
                higher_is_better=False,
                baseline_note=f"hello-world {fmt(hello.phase('1000/s').p99_ms)} ms",
                # A request that failed or was never sent has no latency: the p99 cannot pass.
                failures=high.failed,
            )
        )
    return checks


def print_report(report: IntakeReport, out: IO[str]) -> None:
    header = [
        "server",
        "phase",
        "offered",
        "achieved/s",
        "ok",
        "failed",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "server cpu",
        "cpu ms/req",
        "client cpu",
    ]
    rows = []
    for server in report.runs:
        for p in server.phases:
            offered = f"{p.offered_rps:.0f}/s" if p.offered_rps else f"{p.connections} conns"
            best = p.name == SATURATION and p is server.saturation
            rows.append(
                [
                    server.label,
                    f"{p.name} (best)" if best else p.name,
                    offered,
                    fmt(p.throughput),
                    str(p.ok),
                    str(p.failed),
                    fmt(p.p50_ms),
                    fmt(p.p90_ms),
                    fmt(p.p99_ms),
                    fmt(p.max_ms),
                    f"{p.server_cpu:.0%}",
                    fmt(p.server_cpu_ms_per_request),
                    f"{p.client_cpu:.0%}",
                ]
            )
    print(table(header, rows), file=out)
    for server in report.runs:
        for p in server.phases:
            if p.failed:
                answers = ", ".join(f"{k}: {v}" for k, v in sorted(p.statuses.items()))
                print(f"  {server.label} {p.name}: answers {answers}", file=out)
    hello = report.runs[0]
    ceiling = ceiling_run(report.runs)
    print(
        "\n  ratio to the hello-world baseline (same run, same load generator; saturation: "
        f"to the higher of its two, {fmt(ceiling.saturation.throughput)}/s):",
        file=out,
    )
    for server in (r for r in report.runs if not r.is_baseline):
        sat = ratio(server.saturation.throughput, ceiling.saturation.throughput)
        p99 = ratio(server.phase("1000/s").p99_ms, hello.phase("1000/s").p99_ms)
        p50 = ratio(server.phase("1000/s").p50_ms, hello.phase("1000/s").p50_ms)
        cost = ratio(
            server.saturation.server_cpu_ms_per_request,
            ceiling.saturation.server_cpu_ms_per_request,
        )
        print(
            f"  {server.label:15} saturation throughput x{fmt(sat)} ({sat:.0%} of the ceiling); "
            f"server CPU per request x{fmt(cost)}; at 1,000/s p50 x{fmt(p50)}, p99 x{fmt(p99)}"
            f"\n  {'':15} [{server.detail}]",
            file=out,
        )
    saturation = ceiling.saturation
    if saturation.client_cpu > 0.9 and saturation.server_cpu < 0.9:
        print(
            "  note: at saturation the load generator used "
            f"{saturation.client_cpu:.0%} of a core and the hello-world "
            f"{saturation.server_cpu:.0%}: the ceiling is the generator's, not the server's "
            "(the measured share flatters the service)",
            file=out,
        )
    print(
        "  CPU-bound ceilings (1000 / server CPU ms per request at saturation, one core): "
        + ", ".join(
            f"{s.label} ~{fmt(1000 / s.saturation.server_cpu_ms_per_request)}/s"
            for s in report.runs
        ),
        file=out,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 s phases instead of 5-6 s")
    parser.add_argument(
        "--connections",
        default=",".join(map(str, SATURATION_CONNECTIONS)),
        help="the saturation closed loops' connections, comma-separated",
    )
    parser.add_argument(
        "--modes", default="full,normal", help="SQLite synchronous modes, comma-separated"
    )
    parser.add_argument(
        "--processes", type=int, default=None, help="serving processes (default: one per core)"
    )
    parser.add_argument(
        "--event-loop",
        choices=LOOPS,
        default="auto",
        help="the servers' event loop, as PIPELINE_EVENT_LOOP (default: uvloop where installed)",
    )
    args = parser.parse_args(argv)
    modes = [m.strip().lower() for m in args.modes.split(",") if m.strip()]
    durations = Durations.quick() if args.quick else None
    try:
        connections = [int(n) for n in args.connections.split(",") if n.strip()]
    except ValueError:
        parser.error("--connections: whole numbers, comma-separated, like 32,64,128")
    if not connections or min(connections) < 1:
        parser.error("--connections: at least one count, each 1 or more")
    report = run(
        durations, connections, modes, processes=args.processes, event_loop=args.event_loop
    )
    for check in report.checks:
        print(f"  {check.verdict}  {check.figure}: {check.measured_text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
