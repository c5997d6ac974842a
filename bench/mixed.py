"""Mixed load: webhooks answered while the worker transcribes.

One `serve` process as `make run` runs it (SQLite FULL, the local queue, two workers, real
Whisper in its worker process). A tenant's recorded calls (the demo's six sample recordings,
four times over: longer than the phase) are posted first and their recordings served from
127.0.0.1, so the worker downloads and transcribes them back to back. Once Whisper is busy,
another tenant's signed webhooks arrive at a steady 100 a second for 20 s (an open loop:
each latency counts from the request's scheduled time, so a stall shows in every request it
delays). What a webhook must not do is wait for transcription.

The Whisper worker's CPU over the phase is printed, to show it was busy throughout."""

from __future__ import annotations

import asyncio
import functools
import json
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.common import (
    VECTOR,
    WEBHOOK_PATH,
    Check,
    ServerProcess,
    fmt,
    service,
    tenant_document,
    webhooks,
)
from bench.loadgen import PhaseResult, open_loop, session
from domain.webhook import sign
from entrypoints.demo.runner import audio_dir, load_manifest
from entrypoints.standins import start_server
from entrypoints.standins.recordings import RecordingServer

RATE, SECONDS = 100.0, 20.0
P99_TARGET_MS, MAX_TARGET_MS = 10.0, 50.0
ROUNDS_OF_RECORDINGS = 4
TOKEN = "bench-operator-token"  # noqa: S105  (a throwaway service on 127.0.0.1)
LOAD = ("bench-tenant", "155920786", "bench-signing-key")
RECORDED = ("bench-recorded", "155920787", "bench-recorded-key")


def recorded_webhook(call_id: str, recording_url: str) -> tuple[bytes, dict[str, str]]:
    payload: dict[str, Any] = json.loads(VECTOR.read_bytes())
    payload.update(
        {
            "resource_id": call_id,
            "company_id": RECORDED[1],
            "answered": True,
            "voicemail": False,
            "recording": recording_url,
            "recording_player": None,
        }
    )
    body = json.dumps(payload).encode()
    return body, {"Content-Type": "application/json", "Signature": sign(RECORDED[2], body)}


def stages(serving: ServerProcess) -> list[str]:
    """The recorded calls' stages."""
    request = urllib.request.Request(  # noqa: S310  (loopback)
        f"{serving.url}/v1/tenants/{RECORDED[0]}/calls?limit=100",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310  (loopback)
        return [call["stage"] for call in json.loads(answer.read())["calls"]]


async def whisper_busy(serving: ServerProcess, timeout_s: float = 120.0) -> None:
    """Returns once the Whisper worker uses at least half a core (the model is loaded and it
    transcribes)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        before = serving.children_cpu_s()
        await asyncio.sleep(0.5)
        if serving.children_cpu_s() - before > 0.25:
            return
    raise RuntimeError("the worker did not start transcribing")


async def measure(serving: ServerProcess) -> tuple[PhaseResult, float, list[str]]:
    """The phase; the Whisper worker's cores over it; the recorded calls' stages at its end."""
    manifest = load_manifest()
    files = {
        f"CALREC{n:04d}": audio_dir() / manifest[n % len(manifest)]["file"]
        for n in range(ROUNDS_OF_RECORDINGS * len(manifest))
    }
    recordings = RecordingServer(files)
    recording_server = await start_server(recordings.app())
    try:
        async with session(serving.url + WEBHOOK_PATH, 1) as http:
            for call_id in files:
                url = recordings.recording_url(recording_server.url, call_id)
                status = await http.post(*recorded_webhook(call_id, url))
                if status != 202:
                    raise RuntimeError(f"a recorded call's webhook was answered {status}")
        await whisper_busy(serving)
        make = functools.partial(next, webhooks(LOAD[1], LOAD[2], "CALMIX"))
        whisper0, wall0 = serving.children_cpu_s(), time.perf_counter()
        async with session(serving.url + WEBHOOK_PATH, 100) as http:
            phase = await open_loop(
                http, make, name="mixed", rate=RATE, duration_s=SECONDS, server_cpu=serving.cpu_s
            )
        whisper = (serving.children_cpu_s() - whisper0) / (time.perf_counter() - wall0)
        return phase, whisper, await asyncio.to_thread(stages, serving)
    finally:
        await recording_server.close()


def run() -> tuple[list[Check], list[str]]:
    print(
        f"\n== mixed load: {RATE:.0f} webhooks/s for {SECONDS:.0f} s while Whisper transcribes =="
    )
    with tempfile.TemporaryDirectory(prefix="bench-mixed-") as tmp:
        env = {
            "PIPELINE_OPERATOR_TOKEN": TOKEN,
            "PIPELINE_RECORDING_ALLOWED_HOSTS": "127.0.0.1",
        }
        tenants = [tenant_document(*LOAD), tenant_document(*RECORDED)]
        with service(Path(tmp), env, tenants) as serving:
            phase, whisper, seen = asyncio.run(measure(serving))
    waiting = sum(stage in ("RECEIVED", "RECORDING_STORED") for stage in seen)
    note = (
        f"Whisper worker {whisper:.2f} cores over the phase; {len(seen) - waiting} recordings "
        f"transcribed, {waiting} still waiting at its end"
    )
    print(
        f"  {phase.ok} answered, {phase.failed} failed; p50 {fmt(phase.p50_ms)} ms, p99 "
        f"{fmt(phase.p99_ms)} ms, max {fmt(phase.max_ms)} ms; serve used "
        f"{phase.server_cpu:.0%} of a core; {note}",
        flush=True,
    )
    if waiting == 0:
        note += " (transcription ended before the phase did: not a mixed load throughout)"
    checks = [
        Check(
            "mixed",
            f"webhook p99 at {RATE:.0f}/s while transcribing",
            phase.p99_ms,
            P99_TARGET_MS,
            "ms",
            higher_is_better=False,
            note=note,
            failures=phase.failed,
        ),
        Check(
            "mixed",
            f"webhook max at {RATE:.0f}/s while transcribing",
            phase.max_ms,
            MAX_TARGET_MS,
            "ms",
            higher_is_better=False,
            failures=phase.failed,
        ),
    ]
    return checks, []
