"""`calls redact-audio`: recordings stored before audio redaction are silenced, stored anew,
the call pointed at them and the original deleted; resumable and idempotent. In-memory ports
and a real scratch directory; the real redactor on real audio is the pipeline's test."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from adapters.filesystem.scratch import PrivateScratch
from adapters.memory.fakes import (
    FixedClock,
    InMemoryAudioStore,
    MarkingAudioRedactor,
)
from adapters.memory.repositories import InMemoryUnitOfWorkFactory
from domain.call import Call, recording_object_name
from domain.errors import TenantNotFound, TranscriptionPending
from domain.results import Segment, StoredRecording, Transcript
from domain.stages import PIPELINE
from domain.tenant import parse_tenant
from domain.transcription_hint import TranscriptionHint
from domain.usecases.audio_redaction import AudioRedaction
from domain.usecases.redact_audio import RedactAudioCommand, RedactStoredAudio
from domain.webhook import parse_incoming_call
from tests.support import CardReadingTranscriber, callrail_body, stream, tenant_document


class Store:
    def __init__(self, clock: FixedClock, tmp: Path, transcriber: CardReadingTranscriber) -> None:
        self.clock = clock
        self.uow = InMemoryUnitOfWorkFactory()
        self.audio = InMemoryAudioStore()
        self.transcriber = transcriber
        redaction = AudioRedaction(MarkingAudioRedactor(), PrivateScratch(tmp / "s", self.audio))
        self.command = RedactStoredAudio(self.uow, self.audio, transcriber, redaction)

    async def add(self, call_id: str, days_ago: int = 0, redacted: bool = False) -> Call:
        """A finished call whose recording was stored as downloaded (or already redacted)."""
        at = self.clock.now() - timedelta(days=days_ago)
        body = json.loads(callrail_body(call_id.removeprefix("CAL")))
        call = Call.receive("acme", parse_incoming_call(body), at)
        name = recording_object_name("acme", call.call_id, "mp3")
        stored = await self.audio.put(name, stream(f"ID3 {call_id}".encode()), "audio/mpeg")
        call.recording = StoredRecording(
            stored.uri, stored.bytes, stored.sha256, stored.content_type, 3.0, redacted
        )
        for stage in PIPELINE[1:]:
            call.advance(stage, at)
        async with self.uow() as uow:
            if await uow.tenants.get("acme") is None:
                await uow.tenants.add(parse_tenant(tenant_document(), self.clock.now()))
            await uow.calls.add(call)
            await uow.commit()
        return call

    async def redacted(self, call_id: str) -> bool:
        recording = (await self.call(call_id)).recording
        return recording is not None and recording.redacted

    async def call(self, call_id: str) -> Call:
        async with self.uow(read_only=True) as uow:
            call = await uow.calls.get("acme", call_id)
        assert call is not None
        return call


async def test_old_recordings_are_silenced_and_the_originals_deleted(
    clock: FixedClock, tmp_path: Path
) -> None:
    s = Store(clock, tmp_path, CardReadingTranscriber())
    originals = [(await s.add(f"CAL{n}")).recording for n in (1, 2)]
    lines: list[str] = []
    report = await s.command(RedactAudioCommand("acme"), lines.append)
    assert (report.redacted, report.already, report.failed) == (2, 0, ())
    for call_id, original in zip(("CAL1", "CAL2"), originals, strict=True):
        assert original is not None
        recording = (await s.call(call_id)).recording
        assert recording is not None
        assert recording.redacted
        assert recording.uri.endswith("recording-redacted.mp3")
        assert b"silenced CARD" in s.audio.objects[recording.uri][0]
        assert original.uri not in s.audio.objects
    assert lines == ["1/2 CAL1: 1 span silenced (CARD 1)", "2/2 CAL2: 1 span silenced (CARD 1)"]
    assert not any("4111" in line for line in lines)


async def test_a_second_run_changes_nothing(clock: FixedClock, tmp_path: Path) -> None:
    s = Store(clock, tmp_path, CardReadingTranscriber())
    await s.add("CAL1")
    await s.command(RedactAudioCommand("acme"))
    before = dict(s.audio.objects)
    heard = len(s.transcriber.heard)
    report = await s.command(RedactAudioCommand("acme"))
    assert (report.redacted, report.already) == (0, 1)
    assert s.audio.objects == before
    assert len(s.transcriber.heard) == heard


async def test_a_run_stopped_after_the_call_was_pointed_deletes_the_original_next_time(
    clock: FixedClock, tmp_path: Path
) -> None:
    s = Store(clock, tmp_path, CardReadingTranscriber())
    await s.add("CAL1")
    await s.command(RedactAudioCommand("acme"))
    # what a kill between pointing the call and deleting the original leaves
    name = recording_object_name("acme", "CAL1", "mp3")
    await s.audio.put(name, stream(b"ID3 CAL1"), "audio/mpeg")
    await s.command(RedactAudioCommand("acme"))
    assert s.audio.uri_for(name) not in s.audio.objects


async def test_only_calls_since_the_time_given_and_failures_are_reported(
    clock: FixedClock, tmp_path: Path
) -> None:
    s = Store(clock, tmp_path, CardReadingTranscriber(unreadable={"CAL3"}))
    await s.add("CAL1", days_ago=10)
    await s.add("CAL2", days_ago=1)
    await s.add("CAL3", days_ago=1)
    report = await s.command(RedactAudioCommand("acme", clock.now() - timedelta(days=2)))
    assert report.redacted == 1
    assert [call_id for call_id, _ in report.failed] == ["CAL3"]
    assert [await s.redacted(c) for c in ("CAL1", "CAL2", "CAL3")] == [False, True, False]


async def test_an_unknown_tenant_is_refused(clock: FixedClock, tmp_path: Path) -> None:
    s = Store(clock, tmp_path, CardReadingTranscriber())
    with pytest.raises(TenantNotFound):
        await s.command(RedactAudioCommand("nobody"))


async def test_a_recording_with_nothing_to_silence_is_kept_and_marked(
    clock: FixedClock, tmp_path: Path
) -> None:
    class Plain(CardReadingTranscriber):
        async def transcribe(
            self,
            recording: StoredRecording,
            language: str = "en-US",
            hint: TranscriptionHint | None = None,
            ticket: str | None = None,
        ) -> Transcript:
            said = "my furnace is out"
            return Transcript("test", language, said, (Segment("caller", 0.0, 2.0, said),))

    s = Store(clock, tmp_path, Plain())
    original = (await s.add("CAL1")).recording
    assert original is not None
    lines: list[str] = []
    report = await s.command(RedactAudioCommand("acme"), lines.append)
    assert report.redacted == 1
    assert lines == ["1/1 CAL1: nothing to silence"]
    recording = (await s.call("CAL1")).recording
    assert recording is not None
    assert recording.redacted
    assert recording.uri == original.uri
    assert s.audio.objects[original.uri][0] == b"ID3 CAL1"


async def test_a_transcriber_that_answers_later_stops_the_run_at_the_first_call(
    clock: FixedClock, tmp_path: Path
) -> None:
    class Batch(CardReadingTranscriber):
        async def transcribe(
            self,
            recording: StoredRecording,
            language: str = "en-US",
            hint: TranscriptionHint | None = None,
            ticket: str | None = None,
        ) -> Transcript:
            self.heard.append(recording.uri)
            raise TranscriptionPending("op-1", 600.0)

    s = Store(clock, tmp_path, Batch())
    for call_id, days_ago in (("CAL1", 2), ("CAL2", 1)):
        await s.add(call_id, days_ago=days_ago)
    lines: list[str] = []

    report = await s.command(RedactAudioCommand("acme"), lines.append)

    assert report.redacted == 0
    assert [call_id for call_id, _ in report.failed] == ["CAL1"]
    assert "PIPELINE_SPEECH_PROCESSING=standard" in report.failed[0][1]
    assert len(s.transcriber.heard) == 1  # no second batch paid for and never collected
    assert lines[-1].startswith("1/2 CAL1: stopped")
    assert [await s.redacted(c) for c in ("CAL1", "CAL2")] == [False, False]
