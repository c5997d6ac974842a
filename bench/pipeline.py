"""Pipeline overhead: calls a second through every stage of a call's life, with the services
outside (recording download, audio store, transcriber, audio redactor, CRM) replaced by instant
in-memory stand-ins, so what is measured is our own work: the use case and its state machine,
the lease, redaction (its scratch files included), the rules analyzer, scoring, the CRM sync's
bookkeeping and persisting each stage to SQLite (synchronous=FULL, the default).

The use case is the one the container builds for `serve` (with its tracing and metrics), on a
SQLite file in a temporary directory. 2,000 calls are stored as received before the clock
starts; each then goes RECEIVED -> ... -> COMPLETED, 8 at a time (as a worker pool of 8)."""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from dependency_injector import providers

from adapters.memory.fakes import (
    InMemoryAudioStore,
    InMemoryCrmGateway,
    InMemoryCrmGatewayFactory,
    InMemoryRecordingSource,
    MarkingAudioRedactor,
    ScriptedTranscriber,
)
from bench.common import VECTOR, Check, fmt, tenant_document
from domain.call import Call
from domain.results import Segment, Transcript
from domain.tenant import parse_tenant
from domain.usecases.processing import Outcome, ProcessCallCommand
from domain.webhook import parse_incoming_call
from entrypoints.config import load_settings
from entrypoints.container import Container, build_container
from entrypoints.demo.runner import load_manifest
from entrypoints.migrations import migrate_database

TARGET_PER_S = 200.0
CALLS, CONCURRENCY, WARMUP = 2000, 8, 20
TENANT_ID, COMPANY_ID = "bench-tenant", "155920786"


def tenant() -> dict[str, Any]:
    document = tenant_document(TENANT_ID, COMPANY_ID, "bench-signing-key")
    document["config"].update(
        crm_config={"type": "hubspot"},  # answered by the in-memory gateway
        redact_pii=True,
        ai_config={
            "lead_scoring_threshold": 70,
            "business_context": "Acme Heating & Air: furnace and AC repair, installation and "
            "maintenance in Denver. A good lead needs a repair or a new system.",
        },
    )
    return document


def transcripts(count: int) -> list[Transcript]:
    """The six sample calls' scripts as transcripts (card number included), one turn every
    4 s, in turn: what the transcriber would have heard."""
    found = []
    manifest = load_manifest()
    for n in range(count):
        lines = manifest[n % len(manifest)]["lines"]
        segments = tuple(
            Segment(line["speaker"], 4.0 * i, 4.0 * i + 3.5, line["text"])
            for i, line in enumerate(lines)
        )
        text = " ".join(s.text for s in segments)
        found.append(
            Transcript("bench", "en-US", text, segments, audio_duration_s=4.0 * len(segments))
        )
    return found


def with_stand_ins(container: Container, calls: list[Call]) -> None:
    audio = b"ID3" + bytes(64 * 1024 - 3)
    stand_ins = {
        container.recordings: InMemoryRecordingSource({c.call_id: audio for c in calls}),
        container.audio: InMemoryAudioStore(),
        container.transcriber: ScriptedTranscriber(transcripts(len(calls))),
        container.crm: InMemoryCrmGatewayFactory(InMemoryCrmGateway("hubspot")),
        # decoding and encoding audio is the redactor's work, as transcribing is Whisper's:
        # instant here; the scratch files it reads and writes are real
        container.audio_redactor: MarkingAudioRedactor(),
    }
    for provider, stand_in in stand_ins.items():
        provider.override(providers.Object(stand_in))


async def measure(workdir: Path) -> tuple[int, float, Counter[str]]:
    """(calls timed, seconds, their outcomes)."""
    container = build_container(
        load_settings(
            {
                "PIPELINE_DATABASE_URL": f"sqlite:///{workdir / 'pipeline.db'}",
                "PIPELINE_AUDIO_STORE_URL": f"file://{workdir / 'audio'}",
                "PIPELINE_SCRATCH_DIR": str(workdir / "scratch"),
            }
        )
    )
    payload: dict[str, Any] = json.loads(VECTOR.read_bytes())
    payload.update({"answered": True, "voicemail": False, "company_id": COMPANY_ID})
    now = container.clock().now()
    calls = []
    for n in range(WARMUP + CALLS):
        payload.update({"id": 10_000_000 + n, "resource_id": f"CALBENCH{n:07d}"})
        calls.append(Call.receive(TENANT_ID, parse_incoming_call(payload), now))
    with_stand_ins(container, calls)
    db = container.database()
    await db.open()
    try:
        await migrate_database(container)
        async with container.uow()() as work:
            await work.tenants.add(parse_tenant(tenant(), now))
            for call in calls:
                await work.calls.add(call)
            await work.commit()
        process = container.process_call()
        outcomes: Counter[str] = Counter()

        async def lane(mine: list[Call]) -> None:
            for call in mine:
                done = await process(ProcessCallCommand(TENANT_ID, call.call_id, "bench"))
                outcomes[done.outcome.value] += 1

        await lane(calls[:WARMUP])
        outcomes.clear()
        timed = calls[WARMUP:]
        started = time.perf_counter()
        await asyncio.gather(*(lane(timed[i::CONCURRENCY]) for i in range(CONCURRENCY)))
        return len(timed), time.perf_counter() - started, outcomes
    finally:
        await db.close()


def run() -> tuple[list[Check], list[str]]:
    print(f"\n== pipeline: {CALLS} calls through every stage, {CONCURRENCY} at a time ==")
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        calls, seconds, outcomes = asyncio.run(measure(Path(tmp)))
    rate = calls / seconds
    print(f"  {calls} calls in {seconds:.2f} s: {fmt(rate)} calls/s; {dict(outcomes)}", flush=True)
    check = Check(
        "pipeline",
        "calls/s through every stage (SQLite FULL)",
        rate,
        TARGET_PER_S,
        "calls/s",
        higher_is_better=True,
        note=f"{CONCURRENCY} in flight, outside services instant",
        failures=sum(v for k, v in outcomes.items() if k != Outcome.DONE.value),
    )
    return [check], []
