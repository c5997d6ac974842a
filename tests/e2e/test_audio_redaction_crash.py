"""The original recording is kept nowhere, even by a crash: `serve` as a real process, on the
embedded shape with Whisper tiny.en and the PyAV redactor, is sent the demo's billing call.
Once the call is COMPLETED, no file under the audio store, the scratch directory or the
process's temporary directory has the original recording's sha256: on a plain run, and after
the process is SIGKILLed in the middle of redacting the recording and started again."""

from __future__ import annotations

import hashlib
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from domain.webhook import sign
from entrypoints.standins.recordings import RecordingServer
from tests.e2e.process import ServiceProcess, ThreadedServer, http
from tests.support import tenant_document

pytestmark = pytest.mark.slow

TOKEN = "redaction-crash-operator-token"
KEY = "redaction-crash-signing-key"
COMPANY = "999"
BILLING = (
    Path(__file__).resolve().parents[2] / "entrypoints" / "demo" / "audio" / "billing_card.mp3"
)
ORIGINAL_SHA256 = hashlib.sha256(BILLING.read_bytes()).hexdigest()
CALL_IDS = [f"CALREDACT{n}" for n in range(4)]  # a fresh call for each try at the kill
KILL_TRIES = 3


@pytest.fixture
def recordings() -> Iterator[tuple[RecordingServer, str]]:
    server = RecordingServer({call_id: BILLING for call_id in CALL_IDS})
    with ThreadedServer(server.app()) as running:
        yield server, running.url


class Redacting:
    """The service and the directories it may write the recording to."""

    def __init__(self, workdir: Path):
        self.audio = workdir / "audio"
        self.scratch = workdir / "scratch"
        self.temp = workdir / "tmp"  # the process's TMPDIR
        self.temp.mkdir()
        self.service = ServiceProcess(
            workdir,
            {
                "PIPELINE_OPERATOR_TOKEN": TOKEN,
                "PIPELINE_RECORDING_ALLOWED_HOSTS": "127.0.0.1",
                "PIPELINE_AUDIO_STORE_URL": f"file://{self.audio}",
                "PIPELINE_SCRATCH_DIR": str(self.scratch),
                "PIPELINE_LEASE_SECONDS": "2",
                "PIPELINE_RETRY_BASE_SECONDS": "0.2",
                "TMPDIR": str(self.temp),
            },
        )

    def add_tenant(self) -> None:
        auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        document = tenant_document(company_id=COMPANY, secret=KEY)  # redact_pii: the default
        http(f"{self.service.url}/v1/tenants", document, auth)

    def post_call(self, server: RecordingServer, base: str, call_id: str) -> None:
        body = json.dumps(
            {
                "resource_id": call_id,
                "company_id": COMPANY,
                "customer_phone_number": "+17205550187",
                "duration": "34",
                "answered": "true",
                "recording": server.recording_url(base, call_id),
            }
        ).encode()
        headers = {"Content-Type": "application/json", "Signature": sign(KEY, body)}
        answer = http(f"{self.service.url}/v1/callrail/webhook", body, headers)
        assert answer["call_id"] == call_id

    def call(self, call_id: str) -> dict[str, Any]:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        document: dict[str, Any] = http(
            f"{self.service.url}/v1/tenants/acme/calls/{call_id}", headers=auth
        )
        return document

    def finished(self, call_id: str, timeout_s: float = 45) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            call = self.call(call_id)
            if call["stage"] in ("COMPLETED", "FAILED"):
                return call
            assert time.monotonic() < deadline, f"{call_id} still {call['stage']}: {call}"
            time.sleep(0.1)

    def stored(self, call_id: str) -> Path:
        return self.audio / "acme" / "calls" / call_id / "recording.mp3"

    def digests(self) -> dict[Path, str]:
        """The sha256 of every file under the audio store, the scratch and the temp dirs."""
        roots = (self.audio, self.scratch, self.temp)
        files = (path for root in roots for path in root.rglob("*") if path.is_file())
        return {path: hashlib.sha256(path.read_bytes()).hexdigest() for path in files}


def files_under(directory: Path) -> list[Path]:
    """Every file under `directory`, if it exists."""
    return [p for p in directory.rglob("*") if p.is_file()] if directory.exists() else []


def assert_only_the_redacted_recording_is_kept(redacting: Redacting, call: dict[str, Any]) -> None:
    assert call["stage"] == "COMPLETED", call
    found = redacting.digests()
    assert ORIGINAL_SHA256 not in found.values(), [
        path for path, digest in found.items() if digest == ORIGINAL_SHA256
    ]
    stored = redacting.stored(call["call_id"])
    assert call["recording"]["uri"] == f"file://{stored}"
    assert found[stored] == call["recording"]["sha256"] != ORIGINAL_SHA256
    assert files_under(redacting.audio / "quarantine") == []
    notes = {event["stage"]: event.get("note") for event in call["timeline"]}
    assert "silenced" in (notes["RECORDING_STORED"] or ""), notes
    assert files_under(redacting.scratch) == []


def test_a_completed_call_leaves_no_copy_of_the_original_recording(
    tmp_path: Path, recordings: tuple[RecordingServer, str]
) -> None:
    server, base = recordings
    redacting = Redacting(tmp_path)
    try:
        redacting.service.start()
        redacting.add_tenant()
        redacting.post_call(server, base, CALL_IDS[0])
        call = redacting.finished(CALL_IDS[0])
    finally:
        redacting.service.stop()
    assert_only_the_redacted_recording_is_kept(redacting, call)


def test_a_sigkill_while_redacting_leaves_no_copy_of_the_original_after_the_restart(
    tmp_path: Path, recordings: tuple[RecordingServer, str]
) -> None:
    """The moment of the kill: the first file in the serving process's scratch directory. By
    then the original is stored under its quarantine name and transcribed; that file is the
    scratch copy of it that the PyAV redactor reads, and the redacted recording is not stored
    yet. The copy is written in a few milliseconds and the redactor's output appears next to
    it; the redacted recording is stored about a quarter of a second later. The test looks
    every millisecond, so the kill lands while the redactor is encoding; should the redaction
    finish between two looks, it tries again with a fresh call, KILL_TRIES times in all."""
    server, base = recordings
    redacting = Redacting(tmp_path)
    service = redacting.service
    try:
        service.start()
        redacting.add_tenant()
        for call_id in CALL_IDS[1 : 1 + KILL_TRIES]:
            assert service.process is not None
            own_scratch = redacting.scratch / str(service.process.pid)
            redacting.post_call(server, base, call_id)
            if caught_redacting(redacting, own_scratch, call_id):
                break
        else:
            pytest.fail(f"the redaction was never seen in {KILL_TRIES} calls")

        # What the kill left: the original under its quarantine name, a copy in the scratch.
        left = redacting.digests()
        assert ORIGINAL_SHA256 in left.values()
        assert files_under(own_scratch)
        assert not redacting.stored(call_id).exists()

        killed = own_scratch.name
        service.start()
        call = redacting.finished(call_id)
        assert service.process is not None
        restarted = str(service.process.pid)
    finally:
        service.stop()

    assert call["attempts"] >= 2, call  # the call was resumed, not finished before the kill
    assert_only_the_redacted_recording_is_kept(redacting, call)
    if restarted != killed:  # (a reused pid would have emptied its own directory instead)
        assert not own_scratch.exists(), "the killed process's scratch directory is removed"


def caught_redacting(redacting: Redacting, own_scratch: Path, call_id: str) -> bool:
    """Waits for a file in the service's scratch directory and SIGKILLs the service the moment
    it appears; False if the call got past its redaction unseen (the service still runs)."""
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        try:
            if any(entry.is_file() for entry in os.scandir(own_scratch)):
                redacting.service.kill()
                return True
        except FileNotFoundError:
            pass
        if redacting.stored(call_id).exists():
            return False
        time.sleep(0.001)
    try:
        state = redacting.call(call_id)
    except urllib.error.URLError as exc:
        state = {"error": str(exc)}
    pytest.fail(f"{call_id} was never redacted: {state}")
