"""Pipeline overhead: calls per second through every stage of ProcessCall, and the CPU one call
costs, with zero-latency stand-ins for the services outside (adapters/memory: the recording
source, the audio store, the transcriber, the CRM) and the real SQLite repositories, so what is
measured is our own work: the use case, the state machine, the lease, redaction, the rules
analyzer, scoring, the CRM sync's bookkeeping, and persisting every stage's result.

Baseline: the same loop on the in-memory repositories, so the ratio is the cost of storage.
SQLite is measured with the default `synchronous=FULL` and with `normal`.

Calls are received (stored at RECEIVED) before the clock starts; each timed call then goes
RECEIVED -> RECORDING_STORED -> TRANSCRIBED -> ANALYZED -> SCORED -> SYNCED -> COMPLETED,
with 8 calls in flight (a worker pool of 8, PIPELINE_WORKER_CONCURRENCY=8: throughput, with
the commits of calls in flight grouped) unless --concurrency says otherwise; --concurrency 1
measures one call at a time (latency: every commit waits for its own fsync). CPU is
time.process_time() over the timed calls (every thread of this process, SQLite's included).

    python -m bench.pipeline [--quick] [--calls 1000] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import IO, Any

import attrs

from adapters.memory.fakes import (
    InMemoryAudioStore,
    InMemoryCrmGateway,
    InMemoryCrmGatewayFactory,
    InMemoryRecordingSource,
    ScriptedTranscriber,
)
from adapters.memory.repositories import InMemoryUnitOfWorkFactory
from adapters.rules.analyzer import RulesCallAnalyzer
from adapters.sqlite.database import SqliteDatabase
from adapters.sqlite.migrations import migrate
from adapters.sqlite.repositories import SqliteUnitOfWorkFactory
from adapters.system.clock import SystemClock
from bench.common import ROOT, Check, OthersWatch, fmt, machine_note, percentile, ratio, table
from domain.call import Call
from domain.results import Segment, Transcript
from domain.retry import RetryPolicy
from domain.tenant import parse_tenant
from domain.usecases.processing import Outcome, ProcessCall, ProcessCallCommand
from domain.webhook import parse_incoming_call
from ports.repositories import UnitOfWorkFactory

VECTOR = ROOT / "tests" / "fixtures" / "callrail_post_call_vector.json"
MANIFEST = ROOT / "entrypoints" / "demo" / "audio" / "calls.json"
TENANT_ID = "bench-tenant"
COMPANY_ID = "155920786"
RECORDING_BYTES = 64 * 1024
WARMUP_CALLS = 20
TARGET_CALLS_PER_S = 200.0


@attrs.frozen
class Budget:
    calls: int = 1000
    seconds: float = 8.0

    @classmethod
    def quick(cls) -> Budget:
        return cls(200, 2.0)


@attrs.frozen
class LoopResult:
    label: str
    calls: int
    wall_s: float
    cpu_s: float
    p50_ms: float
    p99_ms: float
    outcomes: dict[str, int]

    @property
    def calls_per_s(self) -> float:
        return self.calls / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def cpu_ms_per_call(self) -> float:
        return 1000 * self.cpu_s / self.calls if self.calls else float("nan")


@attrs.frozen
class PipelineReport:
    results: tuple[LoopResult, ...]
    checks: tuple[Check, ...]
    machine: str


# --- the calls -------------------------------------------------------------------------------


def tenant_document() -> dict[str, Any]:
    return {
        "tenant_id": TENANT_ID,
        "name": "Acme Heating & Air (bench)",
        "config": {
            "callrail_company_id": COMPANY_ID,
            "webhook_secret": "bench-signing-key",
            "crm_config": {"type": "hubspot"},  # served by the in-memory gateway
            "ai_config": {
                "lead_scoring_threshold": 70,
                "business_context": "Acme Heating & Air: furnace and AC repair, installation "
                "and maintenance in Denver. A good lead needs a repair or a new system.",
            },
            "redact_pii": True,
        },
    }


def transcripts() -> list[Transcript]:
    """The six sample calls' scripts (entrypoints/demo/audio/calls.json) as transcripts, one
    turn every 4 s: what the transcriber would have heard, card number included."""
    calls: list[dict[str, Any]] = json.loads(MANIFEST.read_text())["calls"]
    found = []
    for call in calls:
        segments = tuple(
            Segment(line["speaker"], 4.0 * i, 4.0 * i + 3.5, line["text"])
            for i, line in enumerate(call["lines"])
        )
        text = " ".join(s.text for s in segments)
        found.append(
            Transcript("bench", "en-US", text, segments, audio_duration_s=4.0 * len(segments))
        )
    return found


def received_calls(count: int) -> list[Call]:
    payload: dict[str, Any] = json.loads(VECTOR.read_bytes())
    payload.update({"answered": True, "voicemail": False, "company_id": COMPANY_ID})
    clock = SystemClock()
    calls = []
    for n in range(count):
        payload.update({"id": 10_000_000 + n, "resource_id": f"CALBENCH{n:07d}"})
        calls.append(Call.receive(TENANT_ID, parse_incoming_call(payload), clock.now()))
    return calls


# --- the loop --------------------------------------------------------------------------------

Backend = Callable[[Path], AbstractAsyncContextManager[UnitOfWorkFactory]]


def sqlite_backend(synchronous: str) -> Backend:
    @asynccontextmanager
    async def open_backend(workdir: Path) -> Any:
        db = SqliteDatabase(
            str(workdir / f"pipeline-{synchronous.lower()}.db"), synchronous=synchronous
        )
        await db.open()
        try:
            await migrate(db)
            yield SqliteUnitOfWorkFactory(db)
        finally:
            await db.close()

    return open_backend


@asynccontextmanager
async def memory_backend(workdir: Path) -> Any:
    yield InMemoryUnitOfWorkFactory()


async def measure(label: str, backend: Backend, budget: Budget, concurrency: int) -> LoopResult:
    total = budget.calls + WARMUP_CALLS
    calls = received_calls(total)
    script = transcripts()
    clock = SystemClock()
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        async with backend(Path(tmp)) as uow:
            async with uow() as work:
                await work.tenants.add(parse_tenant(tenant_document(), clock.now()))
                for call in calls:
                    await work.calls.add(call)
                await work.commit()
            audio = b"ID3" + bytes(RECORDING_BYTES - 3)
            process = ProcessCall(
                uow,
                InMemoryRecordingSource({c.call_id: audio for c in calls}),
                InMemoryAudioStore(),
                ScriptedTranscriber(script[i % len(script)] for i in range(total)),
                RulesCallAnalyzer(),
                InMemoryCrmGatewayFactory(InMemoryCrmGateway("hubspot")),
                clock,
                RetryPolicy(),
                lease_s=60,
            )
            outcomes: Counter[str] = Counter()
            latencies: list[float] = []

            async def one(call: Call) -> None:
                started = time.perf_counter()
                result = await process(ProcessCallCommand(TENANT_ID, call.call_id, "bench"))
                latencies.append(time.perf_counter() - started)
                outcomes[result.outcome.value] += 1

            for call in calls[:WARMUP_CALLS]:
                await one(call)
            outcomes.clear()
            latencies.clear()
            done, wall, cpu = await _timed(calls[WARMUP_CALLS:], one, budget.seconds, concurrency)
    ms = [s * 1000 for s in latencies]
    return LoopResult(
        label, done, wall, cpu, percentile(ms, 50), percentile(ms, 99), dict(outcomes)
    )


async def _timed(
    calls: Sequence[Call],
    one: Callable[[Call], Awaitable[None]],
    seconds: float,
    concurrency: int,
) -> tuple[int, float, float]:
    """Runs `one` over `calls` with `concurrency` at a time until done or `seconds` pass;
    (calls done, wall seconds, CPU seconds)."""
    pending = iter(calls)
    done = 0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    deadline = wall0 + seconds

    async def lane() -> None:
        nonlocal done
        for call in pending:
            if time.perf_counter() >= deadline:
                return
            await one(call)
            done += 1

    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return done, time.perf_counter() - wall0, time.process_time() - cpu0


CONCURRENCY = 8


def run(
    budget: Budget | None = None, concurrency: int = CONCURRENCY, out: IO[str] = sys.stdout
) -> PipelineReport:
    budget = budget or Budget()
    machine = machine_note()
    watch = OthersWatch()
    print(f"\n== pipeline ==  ({machine})", file=out, flush=True)
    backends: list[tuple[str, Backend]] = [
        ("memory (baseline)", memory_backend),
        ("sqlite FULL", sqlite_backend("FULL")),
        ("sqlite NORMAL", sqlite_backend("NORMAL")),
    ]
    results = []
    for label, backend in backends:
        results.append(asyncio.run(measure(label, backend, budget, concurrency)))
        print(f"  measured {label}", file=out, flush=True)
    baseline = results[0]
    header = [
        "repositories",
        "calls",
        "calls/s",
        "x baseline",
        "cpu ms/call",
        "x baseline",
        "p50 ms",
        "p99 ms",
        "outcomes",
    ]
    rows = [
        [
            r.label,
            str(r.calls),
            fmt(r.calls_per_s),
            fmt(ratio(r.calls_per_s, baseline.calls_per_s)),
            fmt(r.cpu_ms_per_call),
            fmt(ratio(r.cpu_ms_per_call, baseline.cpu_ms_per_call)),
            fmt(r.p50_ms),
            fmt(r.p99_ms),
            ", ".join(f"{k}: {v}" for k, v in r.outcomes.items()),
        ]
        for r in results
    ]
    print(table(header, rows), file=out)
    print(
        f"  fakes: recording {RECORDING_BYTES // 1024} KiB, scripted transcripts (the six sample "
        f"calls), rules analyzer, in-memory HubSpot; concurrency {concurrency}",
        file=out,
    )
    checks = []
    for r in results[1:]:
        mode = r.label.removeprefix("sqlite ")
        bad = sum(v for k, v in r.outcomes.items() if k != Outcome.DONE.value)
        checks.append(
            Check(
                "pipeline",
                f"calls/s through every stage ({mode})",
                r.calls_per_s,
                TARGET_CALLS_PER_S,
                "calls/s",
                higher_is_better=True,
                baseline_note=f"in-memory {fmt(baseline.calls_per_s)} calls/s; "
                f"{fmt(r.cpu_ms_per_call)} CPU ms/call",
                failures=bad,
            )
        )
    print(f"  machine at the end: {machine_note(before=False)}; {watch.note()}", file=out)
    return PipelineReport(tuple(results), tuple(checks), machine)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="200 calls or 2 s per loop")
    parser.add_argument("--calls", type=int, help="calls per loop (default 1000)")
    parser.add_argument("--seconds", type=float, help="time bound per loop (default 8)")
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    args = parser.parse_args(argv)
    budget = Budget.quick() if args.quick else Budget()
    budget = Budget(args.calls or budget.calls, args.seconds or budget.seconds)
    report = run(budget, max(1, args.concurrency))
    for check in report.checks:
        print(f"  {check.verdict}  {check.figure}: {check.measured_text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
