"""`ingestion-pipeline calls redact-audio` on recordings a tenant stored before audio
redaction: `serve` stores the demo's billing call as downloaded (the tenant does not redact
PII), then the command, a process of its own, silences it, points the call at the silenced
recording and deletes the original; run again, it changes nothing."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from entrypoints.standins.recordings import RecordingServer
from tests.e2e.process import ThreadedServer, http, ingestion_pipeline
from tests.e2e.test_audio_redaction_crash import BILLING, ORIGINAL_SHA256, TOKEN, Redacting
from tests.support import tenant_document

pytestmark = pytest.mark.slow

CALL_ID = "CALOLD1"


@pytest.fixture
def recordings() -> Iterator[tuple[RecordingServer, str]]:
    server = RecordingServer({CALL_ID: BILLING})
    with ThreadedServer(server.app()) as running:
        yield server, running.url


def redact_audio(redacting: Redacting, *args: str) -> subprocess.CompletedProcess[str]:
    service = redacting.service
    return ingestion_pipeline(
        "calls", "redact-audio", "acme", *args, env=service.env, cwd=service.workdir, timeout=120
    )


def test_an_old_recording_is_silenced_and_its_original_deleted(
    tmp_path: Path, recordings: tuple[RecordingServer, str]
) -> None:
    server, base = recordings
    redacting = Redacting(tmp_path)
    service = redacting.service
    try:
        service.start()
        document = tenant_document(company_id="999", secret="redaction-crash-signing-key")
        document["config"]["redact_pii"] = False  # stored as downloaded, as before issue 25
        auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        http(f"{service.url}/v1/tenants", document, auth)
        redacting.post_call(server, base, CALL_ID)
        before = redacting.finished(CALL_ID)
    finally:
        service.stop()
    assert before["recording"]["sha256"] == ORIGINAL_SHA256
    assert before["recording"]["redacted"] is False

    done = redact_audio(redacting)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == ("acme: 1 recording(s) redacted, 0 already redacted, 0 failed")
    progress = done.stderr.strip().splitlines()
    assert any(line.startswith(f"1/1 {CALL_ID}: ") and "silenced" in line for line in progress)
    assert not any("4111" in line for line in progress)

    shown = ingestion_pipeline(
        "calls", "show", "acme", CALL_ID, env=service.env, cwd=service.workdir, check=True
    )
    recording: dict[str, Any] = json.loads(shown.stdout)["recording"]
    assert recording["redacted"] is True
    stored = Path(recording["uri"].removeprefix("file://"))
    assert stored.name == "recording-redacted.mp3"
    found = redacting.digests()
    assert ORIGINAL_SHA256 not in found.values()
    assert found[stored] == recording["sha256"]

    again = redact_audio(redacting)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "0 recording(s) redacted, 1 already redacted" in again.stdout
    assert redacting.digests() == found


def test_an_unknown_tenant_is_one_line_and_a_failure(tmp_path: Path) -> None:
    env = {**os.environ, "PIPELINE_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    done = ingestion_pipeline("calls", "redact-audio", "nobody", env=env, cwd=tmp_path)
    assert done.returncode != 0
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "nobody" in done.stderr


def test_it_is_refused_before_anything_is_paid_for_with_dynamic_batching(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PIPELINE_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "PIPELINE_TRANSCRIBER": "google-speech",
        "PIPELINE_SPEECH_PROCESSING": "dynamic_batch",
    }
    done = ingestion_pipeline("calls", "redact-audio", "acme", env=env, cwd=tmp_path)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "PIPELINE_SPEECH_PROCESSING=standard" in done.stderr
