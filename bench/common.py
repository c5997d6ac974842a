"""What the benchmarks share: a target and its verdict, the table, signed webhooks, and a server
run as its own process (the service's `serve`, or the hello-world) on 127.0.0.1."""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import attrs

from domain.webhook import sign

ROOT = Path(__file__).resolve().parents[1]
VECTOR = ROOT / "tests" / "fixtures" / "callrail_post_call_vector.json"
WEBHOOK_PATH = "/v1/callrail/webhook"


# --- targets ---------------------------------------------------------------------------------


@attrs.frozen
class Check:
    """One figure against its target. A figure with failed requests or calls never passes."""

    benchmark: str
    figure: str
    measured: float
    target: float
    unit: str
    higher_is_better: bool
    note: str = ""
    failures: int = 0

    @property
    def passed(self) -> bool:
        if math.isnan(self.measured) or self.failures:
            return False
        if self.higher_is_better:
            return self.measured >= self.target
        return self.measured < self.target

    def row(self) -> list[str]:
        measured = f"{fmt(self.measured)} {self.unit}".strip()
        if self.failures:
            measured += f" ({self.failures} failed)"
        target = f"{'>=' if self.higher_is_better else '<'} {fmt(self.target)} {self.unit}"
        verdict = "PASS" if self.passed else "FAIL"
        return [self.benchmark, self.figure, measured, target.strip(), verdict, self.note]


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of `values`; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def fmt(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def machine_note() -> str:
    one, five, _ = os.getloadavg()
    return f"{cores()} cores, load average {one:.2f} (1 min) {five:.2f} (5 min)"


def others_busy(window_s: float = 1.0) -> float:
    """How many cores other processes use, over the next `window_s` while this one waits
    between benchmarks: figures made while that is well above zero are pessimistic."""

    def busy() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(fields) - fields[3] - fields[4], sum(fields)  # all but idle and iowait

    (busy0, total0), cpu0 = busy(), time.process_time()
    time.sleep(window_s)
    (busy1, total1), cpu1 = busy(), time.process_time()
    machine = (busy1 - busy0) / max(1, total1 - total0) * cores()
    return max(0.0, machine - (cpu1 - cpu0) / window_s)


# --- webhooks --------------------------------------------------------------------------------


def tenant_document(tenant_id: str, company_id: str, signing_key: str) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "name": f"{tenant_id} (bench)",
        "config": {
            "callrail_company_id": company_id,
            "webhook_secret": signing_key,
            "crm_config": {"type": "none"},
            "ai_config": {"lead_scoring_threshold": 70, "business_context": "HVAC in Denver"},
        },
    }


def webhooks(
    company_id: str, signing_key: str, prefix: str
) -> Iterator[tuple[bytes, dict[str, str]]]:
    """Post-call webhooks as CallRail sends them: its own test body (about 2.3 KB) with a new
    call id each, signed with the company's key (base64 HMAC-SHA1 of the raw body). The
    recording link is dropped: no benchmark fetches anything beyond 127.0.0.1."""
    payload: dict[str, Any] = json.loads(VECTOR.read_bytes())
    payload.update({"company_id": company_id, "recording": None, "recording_player": None})
    for n in itertools.count(1):
        payload.update({"id": n, "resource_id": f"{prefix}{n:08d}"})
        body = json.dumps(payload, separators=(",", ":")).encode()
        yield body, {"Content-Type": "application/json", "Signature": sign(signing_key, body)}


# --- server processes ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def cli() -> list[str]:
    script = Path(sys.executable).parent / "ingestion-pipeline"
    return [str(script)] if script.exists() else [sys.executable, "-m", "entrypoints.cli"]


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) process `pid` has used; NaN when it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError, ValueError):
                found += [int(c) for c in (task / "children").read_text().split()]
    return found


class ServerProcess:
    """A server started as a process of its own, ready once /health/ready answers 200."""

    def __init__(
        self, name: str, argv: Sequence[str], workdir: Path, env: Mapping[str, str] | None = None
    ):
        self.name = name
        self.argv = list(argv)
        self.workdir = workdir
        self.port = free_port()
        keep = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_")}
        self.env = {**keep, "PYTHONPATH": str(ROOT), **(env or {}), "PORT": str(self.port)}
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / f"{name}.log"
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cpu_s(self) -> float:
        """The server's CPU seconds so far (not its children's)."""
        return process_cpu_s(self.process.pid) if self.process else math.nan

    def children_cpu_s(self) -> float:
        """The CPU seconds of its live child processes (the Whisper worker)."""
        if self.process is None:
            return math.nan
        return sum(process_cpu_s(c) for c in children(self.process.pid))

    def start(self, timeout_s: float = 60.0) -> None:
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(  # noqa: S603  (our own interpreter and console script)
            self.argv, cwd=self.workdir, env=self.env, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start; see {self.log_path}")
            with contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError):
                ready = f"{self.url}/health/ready"
                with urllib.request.urlopen(ready, timeout=1) as answer:  # noqa: S310  (loopback)
                    if answer.status == 200:
                        return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} was not ready within {timeout_s:.0f} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
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


def service(
    workdir: Path, env: Mapping[str, str], tenants: Sequence[dict[str, Any]]
) -> contextlib.AbstractContextManager[ServerProcess]:
    """`ingestion-pipeline serve` on a new SQLite file in `workdir` (synchronous=FULL, the
    default), its tenants created first with the CLI."""
    workdir.mkdir(parents=True, exist_ok=True)
    server = ServerProcess(
        "service",
        [*cli(), "serve", "--host", "127.0.0.1"],
        workdir,
        {
            "PIPELINE_DATABASE_URL": f"sqlite:///{workdir / 'pipeline.db'}",
            "PIPELINE_AUDIO_STORE_URL": f"file://{workdir / 'audio'}",
            **env,
        },
    )
    for tenant in tenants:
        path = workdir / f"{tenant['tenant_id']}.json"
        path.write_text(json.dumps(tenant))
        subprocess.run(  # noqa: S603
            [*cli(), "tenants", "create", "--file", str(path)],
            cwd=workdir,
            env=server.env,
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=120,
        )
    return running(server)
