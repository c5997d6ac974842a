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
  saturation closed loops, back to back, at 64 or 128 connections, in rounds

Server CPU is the CPU of all the server's processes.

Saturation is measured in rounds (twenty by default). In each round every server in turn runs
one closed loop of 2 s, all at the same connection count (64 in odd rounds, 128 in even ones;
the service's requests mostly wait for their commits, so at 32 its processes stood idle a
quarter of the time, and at 64 or 128 both servers made 20-32 % more), in an order reversed
every other round (the hello-world, the service FULL, NORMAL; then NORMAL, FULL, the
hello-world), so no server always runs next to the hello-world or always first.

The share of the ceiling is taken per round, of the hello-world's loop in that same round,
and the verdict is on the median round (the lower of the middle two for an even count). The
development VM has slow phases of seconds to a minute: the hello-world's best ranged
8,000-13,000 req/s over runs of unchanged code, and in one run of three rounds of three 3-s
loops a server, a round's share of the hello-world ranged 24.6-43.2 % as the phases fell on
one server or the other. Loops short against those phases, taken next to each other, often
share one, and the median of twenty pairs is not decided by one phase either way; every server
gets the same loops. (Until 2026-11 the ceiling was the best of six hello-world loops, before
and after the service, and the service the best of its three: a bias toward a high ceiling.)

Why twenty: over six runs of unchanged intake code (60 rounds, 2026-11), a round's share of
the hello-world had a standard deviation of 4.3 points, so a verdict of ten rounds moved by
about 1.5 points from run to run (the six gave 27.6-32.2 % about a pooled median of 31.2 %);
drawn from those rounds, twenty make it move by about 1.0. The verdict is still the lower of
the middle two.

All servers run for the whole benchmark; those not being measured stand idle (their CPU
meanwhile is printed), and before each loop the generator waits until all of them are.

Every request is a new call (a new CallRail id), signed with the tenant's key, so each one is
verified, stored with its job in one transaction and answered 202.

    python -m bench.intake [--quick] [--rounds N] [--connections 64,128]
                           [--modes full,normal] [--processes N]
                           [--event-loop auto|uvloop|asyncio]
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
    saturation_s: float = 2.0  # each closed loop
    rounds: int = 20  # of saturation: one closed loop of every server, in turn, in each

    @classmethod
    def quick(cls) -> Durations:
        return cls(0.5, 2.0, 2.0, 1.0, rounds=2)


SATURATION_CONNECTIONS = (64, 128)  # by round, in turn
SATURATION = "saturation"


HELLO = "hello-world"


@attrs.frozen
class ServerRun:
    label: str  # HELLO, "service FULL", "service NORMAL"
    detail: str
    phases: tuple[PhaseResult, ...]  # the open loops: 100/s, 1000/s
    rounds: tuple[PhaseResult, ...]  # its closed loop in each round

    def phase(self, name: str) -> PhaseResult:
        return next(p for p in self.phases if p.name == name)

    @property
    def saturation_failures(self) -> int:
        """Failed requests in any round's closed loop."""
        return sum(p.failed for p in self.rounds)


@attrs.frozen
class RoundShare:
    """A server's saturation in one round, as a share of the hello-world's in the same round."""

    round: int  # from 1
    measured: PhaseResult
    ceiling: PhaseResult

    @property
    def percent(self) -> float:
        return 100 * ratio(self.measured.throughput, self.ceiling.throughput)


def round_shares(server: ServerRun, hello: ServerRun) -> list[RoundShare]:
    return [
        RoundShare(i + 1, measured, ceiling)
        for i, (measured, ceiling) in enumerate(zip(server.rounds, hello.rounds, strict=True))
    ]


def shares_text(shares: Sequence[RoundShare]) -> str:
    """Every round's share, in round order: "32.0 / 33.0 / 31.0"."""
    return " / ".join(f"{s.percent:.1f}" for s in shares)


def median_round(shares: Sequence[RoundShare]) -> RoundShare:
    """The round whose share is the median (for an even count, the lower of the middle two,
    so the verdict is always a round that was measured, and never the kinder one)."""
    ordered = sorted(shares, key=lambda s: s.percent)
    return ordered[(len(ordered) - 1) // 2]


@attrs.frozen
class IntakeReport:
    runs: tuple[ServerRun, ...]  # the hello-world first
    checks: tuple[Check, ...]
    machine: str
    # The most CPU (of one core) the servers not being measured used during any closed loop.
    idle_cpu: float = math.nan


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


@attrs.frozen
class Serving:
    label: str
    detail: str
    server: ServerProcess


class _Measurement:
    """The servers, all running; the loops run against one at a time."""

    def __init__(self, servings: Sequence[Serving], durations: Durations):
        self.servings = list(servings)
        self.durations = durations
        self.make = webhook_requests()
        self.idle_cpu = 0.0

    def all_cpu(self) -> float:
        return sum(s.server.cpu_s() for s in self.servings)

    async def open_loops(self, serving: Serving) -> tuple[PhaseResult, ...]:
        """The warm-up (not kept), then 100/s and 1,000/s."""
        url, cpu, d = serving.server.url + WEBHOOK_PATH, serving.server.cpu_s, self.durations
        await settle(self.all_cpu)
        async with session(url, 8) as http:
            await closed_loop(
                http,
                self.make,
                name="warm-up",
                connections=8,
                duration_s=d.warmup_s,
                server_cpu=cpu,
            )
        results = []
        for rate, duration in ((100.0, d.low_s), (1000.0, d.high_s)):
            await settle(self.all_cpu)
            async with session(url, 1000) as http:
                results.append(
                    await open_loop(
                        http,
                        self.make,
                        name=f"{rate:.0f}/s",
                        rate=rate,
                        duration_s=duration,
                        server_cpu=cpu,
                    )
                )
        self._check_alive(serving)
        return tuple(results)

    async def closed_loop(self, serving: Serving, connections: int) -> PhaseResult:
        """On connections of its own: a loop that reused the last one's would start with
        whichever of the server's processes answered last holding the most of them."""
        url, cpu = serving.server.url + WEBHOOK_PATH, serving.server.cpu_s
        others = [s.server for s in self.servings if s is not serving]
        await settle(self.all_cpu)
        idle0, start = sum(o.cpu_s() for o in others), time.perf_counter()
        async with session(url, connections) as http:
            result = await closed_loop(
                http,
                self.make,
                name=SATURATION,
                connections=connections,
                duration_s=self.durations.saturation_s,
                server_cpu=cpu,
            )
        idle = (sum(o.cpu_s() for o in others) - idle0) / (time.perf_counter() - start)
        self.idle_cpu = max(self.idle_cpu, idle)
        self._check_alive(serving)
        return result

    @staticmethod
    def _check_alive(serving: Serving) -> None:
        if not serving.server.alive():
            log = serving.server.log_path
            raise RuntimeError(f"{serving.label} died during the run; see {log}")


async def _measure(
    measurement: _Measurement, connections: Sequence[int], out: IO[str]
) -> list[ServerRun]:
    opened = []
    for serving in measurement.servings:
        opened.append(await measurement.open_loops(serving))
        print(
            f"  measured {serving.label} at 100/s and 1,000/s on {serving.server.url}",
            file=out,
            flush=True,
        )
    servings = measurement.servings
    rounds: dict[str, list[PhaseResult]] = {s.label: [] for s in servings}
    for r in range(measurement.durations.rounds):
        n = connections[r % len(connections)]
        for serving in servings if r % 2 == 0 else servings[::-1]:
            rounds[serving.label].append(await measurement.closed_loop(serving, n))
        made = ", ".join(f"{s.label} {fmt(rounds[s.label][r].throughput)}/s" for s in servings)
        print(
            f"  saturation round {r + 1} of {measurement.durations.rounds} ({n} conns): {made}",
            file=out,
            flush=True,
        )
    return [
        ServerRun(s.label, s.detail, phases, tuple(rounds[s.label]))
        for s, phases in zip(servings, opened, strict=True)
    ]


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
    with tempfile.TemporaryDirectory(prefix="bench-intake-") as tmp, contextlib.ExitStack() as up:
        workdir = Path(tmp)
        servings = [Serving(HELLO, "bench/hello.py", hello_server(workdir, processes, event_loop))]
        for mode in modes:
            server, database = service_server(workdir / mode, mode, processes, event_loop)
            servings.append(Serving(f"service {mode.upper()}", database, server))
        for s in servings:
            up.enter_context(running(s.server))
        measurement = _Measurement(servings, durations)
        runs = asyncio.run(_measure(measurement, connections, out))
    report = IntakeReport(tuple(runs), tuple(_checks(runs)), machine, measurement.idle_cpu)
    print_report(report, out)
    print(f"  machine at the end: {machine_note(before=False)}; {watch.note()}", file=out)
    return report


def _checks(runs: Sequence[ServerRun]) -> list[Check]:
    hello = runs[0]
    checks = []
    for server in runs[1:]:
        mode = server.label.removeprefix("service ")
        shares = round_shares(server, hello)
        mid = median_round(shares)
        every = shares_text(shares)
        checks.append(
            Check(
                "intake",
                f"saturation, % of hello-world ({mode})",
                mid.percent,
                CEILING_SHARE_TARGET,
                "%",
                higher_is_better=True,
                baseline_note=(
                    f"median of {len(shares)} rounds ({every} %); round {mid.round} "
                    f"({mid.measured.connections} conns): {fmt(mid.measured.throughput)} "
                    f"req/s, hello-world {fmt(mid.ceiling.throughput)} req/s"
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


def _row(label: str, p: PhaseResult, name: str) -> list[str]:
    offered = f"{p.offered_rps:.0f}/s" if p.offered_rps else f"{p.connections} conns"
    return [
        label,
        name,
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
        rows += [_row(server.label, p, p.name) for p in server.phases]
        rows += [
            _row(server.label, p, f"{SATURATION} {i + 1}") for i, p in enumerate(server.rounds)
        ]
    print(table(header, rows), file=out)
    for server in report.runs:
        for p in (*server.phases, *server.rounds):
            if p.failed:
                answers = ", ".join(f"{k}: {v}" for k, v in sorted(p.statuses.items()))
                print(f"  {server.label} {p.name}: answers {answers}", file=out)
    hello = report.runs[0]
    print(
        "\n  ratio to the hello-world baseline (same run, same load generator; saturation: "
        "each round's loop to the hello-world's in that round, the median round counted):",
        file=out,
    )
    for server in report.runs[1:]:
        shares = round_shares(server, hello)
        mid = median_round(shares)
        p99 = ratio(server.phase("1000/s").p99_ms, hello.phase("1000/s").p99_ms)
        p50 = ratio(server.phase("1000/s").p50_ms, hello.phase("1000/s").p50_ms)
        cost = ratio(mid.measured.server_cpu_ms_per_request, mid.ceiling.server_cpu_ms_per_request)
        every = shares_text(shares)
        print(
            f"  {server.label:15} saturation throughput by round {every} %: median "
            f"x{fmt(mid.percent / 100)} (round {mid.round}); server CPU per request "
            f"x{fmt(cost)} in that round; at 1,000/s p50 x{fmt(p50)}, p99 x{fmt(p99)}"
            f"\n  {'':15} [{server.detail}]",
            file=out,
        )
    for i, saturation in enumerate(hello.rounds):
        if saturation.client_cpu > 0.9 and saturation.server_cpu < 0.9:
            print(
                f"  note: in round {i + 1} at saturation the load generator used "
                f"{saturation.client_cpu:.0%} of a core and the hello-world "
                f"{saturation.server_cpu:.0%}: the ceiling is the generator's, not the "
                "server's (the measured share flatters the service)",
                file=out,
            )
    print(
        "  server CPU ms a request at saturation, by round: "
        + "; ".join(
            f"{s.label} " + " / ".join(fmt(p.server_cpu_ms_per_request) for p in s.rounds)
            for s in report.runs
        ),
        file=out,
    )
    print(
        "  servers not being measured used at most "
        f"{report.idle_cpu:.1%} of a core during any closed loop",
        file=out,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter phases, two rounds")
    parser.add_argument(
        "--rounds", type=int, default=None, help="saturation rounds (default 20; --quick: 2)"
    )
    parser.add_argument(
        "--connections",
        default=",".join(map(str, SATURATION_CONNECTIONS)),
        help="the saturation closed loops' connections, by round in turn, comma-separated",
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
    durations = Durations.quick() if args.quick else Durations()
    if args.rounds is not None:
        if args.rounds < 1:
            parser.error("--rounds: 1 or more")
        durations = attrs.evolve(durations, rounds=args.rounds)
    try:
        connections = [int(n) for n in args.connections.split(",") if n.strip()]
    except ValueError:
        parser.error("--connections: whole numbers, comma-separated, like 64,128")
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
