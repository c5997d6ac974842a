"""Crash recovery: a stream of webhooks, the service SIGKILLed while it is transcribing, then
restarted. Every accepted call still reaches a terminal state, and no recording is written
twice."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from domain.webhook import sign
from entrypoints.demo.runner import audio_dir, load_manifest
from entrypoints.standins.recordings import RecordingServer
from tests.e2e.process import ServiceProcess, ThreadedServer, http
from tests.support import tenant_document

TOKEN = "crash-operator-token"
KEY = "crash-signing-key"
CALLS = 12


@pytest.fixture
def recordings() -> Iterator[tuple[RecordingServer, str]]:
    files = [audio_dir() / entry["file"] for entry in load_manifest()]
    server = RecordingServer({f"CALCRASH{n:03d}": files[n % len(files)] for n in range(CALLS)})
    with ThreadedServer(server.app()) as running:
        yield server, running.url


def post_call(service: ServiceProcess, recordings: RecordingServer, base: str, n: int) -> None:
    call_id = f"CALCRASH{n:03d}"
    body = json.dumps(
        {
            "resource_id": call_id,
            "company_id": "777",
            "customer_phone_number": "+13035550142",
            "duration": "30",
            "answered": "true",
            "recording": recordings.recording_url(base, call_id),
        }
    ).encode()
    headers = {"Content-Type": "application/json", "Signature": sign(KEY, body)}
    answer = http(f"{service.url}/v1/callrail/webhook", body, headers)
    assert answer["call_id"] == call_id


def stages(service: ServiceProcess) -> dict[str, dict[str, Any]]:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    listing = http(f"{service.url}/v1/tenants/acme/calls?limit=200", headers=auth)["calls"]
    return {c["call_id"]: c for c in listing}


def test_sigkill_mid_processing_loses_nothing_and_writes_no_recording_twice(
    tmp_path: Path, recordings: tuple[RecordingServer, str]
) -> None:
    server, base = recordings
    service = ServiceProcess(
        tmp_path,
        {
            "PIPELINE_OPERATOR_TOKEN": TOKEN,
            "PIPELINE_RECORDING_ALLOWED_HOSTS": "127.0.0.1",
            "PIPELINE_LEASE_SECONDS": "2",
            "PIPELINE_RETRY_BASE_SECONDS": "0.2",
        },
    )
    try:
        service.start()
        auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        http(f"{service.url}/v1/tenants", tenant_document(company_id="777", secret=KEY), auth)
        for n in range(CALLS // 2):
            post_call(service, server, base, n)
        # Kill it while calls are being worked on: at least one past RECEIVED, not all done.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            current = stages(service)
            if any(c["stage"] != "RECEIVED" for c in current.values()):
                break
            time.sleep(0.02)
        assert any(c["status"] != "completed" for c in stages(service).values())
        workers = service.children()
        assert workers, "the service transcribes in a worker process of its own"
        service.kill()
        # Its Whisper worker does not outlive it (an orphan would hold the model's memory).
        deadline = time.monotonic() + 10
        while any(Path(f"/proc/{pid}").exists() for pid in workers):
            assert time.monotonic() < deadline, f"orphaned worker processes: {workers}"
            time.sleep(0.1)

        service.start()
        for n in range(CALLS // 2, CALLS):
            post_call(service, server, base, n)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            current = stages(service)
            if len(current) == CALLS and all(
                c["stage"] in ("COMPLETED", "FAILED") for c in current.values()
            ):
                break
            time.sleep(0.25)
        final = stages(service)
        auth = {"Authorization": f"Bearer {TOKEN}"}
        documents = {
            call_id: http(f"{service.url}/v1/tenants/acme/calls/{call_id}", headers=auth)
            for call_id in final
        }
    finally:
        service.stop()

    assert len(final) == CALLS
    assert {c["stage"] for c in final.values()} == {"COMPLETED"}, final
    # One stored recording per call, the one its call points at, checked for what to silence:
    # the billing call's card silenced, so not the bytes served; the others as served. Nothing
    # written twice.
    stored = sorted((tmp_path / "data" / "audio").rglob("recording.*"))
    assert len(stored) == CALLS
    served = {
        f"CALCRASH{n:03d}": server.files[f"CALCRASH{n:03d}"].read_bytes() for n in range(CALLS)
    }
    for path in stored:
        call_id = path.parent.name
        recording = documents[call_id]["recording"]
        assert recording["redacted"] is True
        assert hashlib.sha256(path.read_bytes()).hexdigest() == recording["sha256"]
        card = server.files[call_id].name == "billing_card.mp3"
        as_served = recording["sha256"] == hashlib.sha256(served[call_id]).hexdigest()
        assert as_served is not card, (call_id, server.files[call_id].name)
    leftovers = [
        p for p in (tmp_path / "data" / "audio").rglob("*") if p.is_file() and p not in stored
    ]
    assert leftovers == []
