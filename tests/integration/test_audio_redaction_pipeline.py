"""The demo's billing call end to end on the embedded shape, with real Whisper and PyAV: the
stored recording, transcribed again by the same model, holds no card number, expiry or
security code; it is as long as the original; the rest of the call is still heard (tiny.en
never hears this recording's greeting, redacted or not); and no file under the audio store or
the scratch directory is the original recording."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

import av
import pytest

from adapters.filesystem.audio_store import FileAudioStore
from adapters.filesystem.scratch import PrivateScratch
from adapters.memory.fakes import (
    FixedClock,
    InMemoryCrmGateway,
    InMemoryCrmGatewayFactory,
    InMemoryRecordingSource,
)
from adapters.memory.repositories import InMemoryUnitOfWorkFactory
from adapters.pyav.audio_redactor import PyAvAudioRedactor
from adapters.rules.analyzer import RulesCallAnalyzer
from adapters.whisper.transcriber import WhisperTranscriber
from domain.call import Call
from domain.redaction import redact_text
from domain.stages import Stage
from domain.tenant import parse_tenant
from domain.usecases.processing import Outcome, ProcessCall, ProcessCallCommand
from domain.webhook import parse_incoming_call
from tests.support import callrail_body, tenant_document

AUDIO = Path(__file__).resolve().parents[2] / "entrypoints" / "demo" / "audio"
BILLING = AUDIO / "billing_card.mp3"


def seconds(path: Path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return sum(frame.samples for frame in container.decode(stream)) / stream.rate


def digests(*roots: Path) -> dict[Path, str]:
    """The sha256 of every file under the roots."""
    files = (p for root in roots for p in root.rglob("*") if p.is_file())
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


@pytest.fixture(scope="module")
def whisper(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WhisperTranscriber]:
    store = FileAudioStore(tmp_path_factory.mktemp("unused"))
    transcriber = WhisperTranscriber(store)
    yield transcriber
    transcriber.close()


async def test_the_billing_calls_stored_recording_has_no_card_left_in_it(
    tmp_path: Path, clock: FixedClock, whisper: WhisperTranscriber
) -> None:
    audio = FileAudioStore(tmp_path / "audio")
    whisper._store = audio  # the model is loaded once for the module; it reads this store
    scratch = PrivateScratch(tmp_path / "scratch", audio)
    uow = InMemoryUnitOfWorkFactory()
    process = ProcessCall(
        uow,
        InMemoryRecordingSource({"CALc1": BILLING.read_bytes()}),
        audio,
        whisper,
        RulesCallAnalyzer(),
        InMemoryCrmGatewayFactory(InMemoryCrmGateway("hubspot")),
        clock,
        redactor=PyAvAudioRedactor(),
        scratch=scratch,
    )
    tenant = parse_tenant(tenant_document(), clock.now())
    call = Call.receive("acme", parse_incoming_call(json.loads(callrail_body("c1"))), clock.now())
    async with uow() as tx:
        await tx.tenants.add(tenant)
        await tx.calls.add(call)
        await tx.commit()

    assert (await process(ProcessCallCommand("acme", "CALc1", "w1"))).outcome is Outcome.DONE
    async with uow(read_only=True) as tx:
        done = await tx.calls.get("acme", "CALc1")
    assert done is not None
    assert done.stage is Stage.COMPLETED
    assert done.recording is not None
    stored = Path(done.recording.uri.removeprefix("file://"))

    # no file anywhere is the original recording
    original = hashlib.sha256(BILLING.read_bytes()).hexdigest()
    found = digests(tmp_path / "audio", tmp_path / "scratch")
    assert original not in found.values()
    assert found[stored] == done.recording.sha256

    # as long as the original, within a quarter of a second
    assert abs(seconds(stored) - seconds(BILLING)) <= 0.25

    # heard again by the same model: the caller's request and the goodbye, no card detail
    again = await whisper.transcribe(done.recording)
    heard = again.text.lower()
    assert "customer" in heard
    assert "payment" in heard
    assert redact_text(again.text)[1] == 0, again.text
    assert not re.search(r"\d{3,}", heard.replace(" ", "")), again.text
    assert not re.search(r"\b(?:one|four|two|three)\b(?:\W+\b(?:one|four|two|three)\b){2,}", heard)

    notes = {event.stage: event.note for event in done.timeline}
    assert "silenced" in (notes[Stage.RECORDING_STORED] or "")
