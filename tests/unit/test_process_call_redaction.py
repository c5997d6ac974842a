"""ProcessCall with audio redaction: the stored recording is the silenced one, the original
waits under a quarantine name only while it is transcribed and redacted, and is gone after,
whether the call completes or fails. In-memory ports, a real scratch directory; the real
PyAV redactor on real audio is tests/integration/test_audio_redaction_pipeline.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters.filesystem.scratch import PrivateScratch
from adapters.memory.fakes import (
    FixedClock,
    InMemoryAudioStore,
    InMemoryCrmGateway,
    InMemoryCrmGatewayFactory,
    InMemoryJobQueue,
    InMemoryRecordingSource,
    MarkingAudioRedactor,
    ScriptedCallAnalyzer,
    SequentialIds,
)
from adapters.memory.metrics import RecordedMetrics
from adapters.memory.repositories import InMemoryUnitOfWorkFactory
from domain.call import Call, quarantine_object_name
from domain.results import CallAnalysis, Intent, Segment, StoredRecording, Transcript
from domain.retry import RetryPolicy
from domain.stages import Stage
from domain.tenant import parse_tenant
from domain.transcription_hint import TranscriptionHint
from domain.usecases.processing import Outcome, ProcessCall, ProcessCallCommand
from domain.usecases.reprocess import ReprocessCall, ReprocessCommand
from domain.webhook import parse_incoming_call
from tests.support import CardReadingTranscriber, callrail_body, stream, tenant_document

ORIGINAL = b"ID3 the original recording"


class Pipeline:
    def __init__(
        self,
        clock: FixedClock,
        tmp: Path,
        transcriber: CardReadingTranscriber,
        recordings: InMemoryRecordingSource | None = None,
    ) -> None:
        self.uow = InMemoryUnitOfWorkFactory()
        self.clock = clock
        self.audio = InMemoryAudioStore()
        self.transcriber = transcriber
        self.redactor = MarkingAudioRedactor()
        self.metrics = RecordedMetrics()
        self.scratch = PrivateScratch(tmp / "scratch", self.audio)
        analysis = CallAnalysis(engine="scripted", summary="pays a bill", intent=Intent.OTHER)
        self.process = ProcessCall(
            self.uow,
            recordings or InMemoryRecordingSource({"CALc1": ORIGINAL}),
            self.audio,
            transcriber,
            ScriptedCallAnalyzer(analysis),
            InMemoryCrmGatewayFactory(InMemoryCrmGateway("hubspot")),
            clock,
            RetryPolicy(max_attempts=2, base_delay_s=1),
            metrics=self.metrics,
            redactor=self.redactor,
            scratch=self.scratch,
        )

    async def setup(self, redact: bool = True) -> None:
        tenant = parse_tenant(tenant_document(redact_pii=redact), self.clock.now())
        call = Call.receive(
            "acme", parse_incoming_call(json.loads(callrail_body("c1"))), self.clock.now()
        )
        async with self.uow() as uow:
            await uow.tenants.add(tenant)
            await uow.calls.add(call)
            await uow.commit()

    async def run(self) -> Outcome:
        return (await self.process(ProcessCallCommand("acme", "CALc1", "w1"))).outcome

    async def call(self) -> Call:
        async with self.uow(read_only=True) as uow:
            call = await uow.calls.get("acme", "CALc1")
        assert call is not None
        return call

    def quarantined(self) -> bool:
        return self.audio.uri_for(quarantine_object_name("acme", "CALc1")) in self.audio.objects


async def test_the_stored_recording_is_the_silenced_one_and_the_original_is_gone(
    clock: FixedClock, tmp_path: Path
) -> None:
    p = Pipeline(clock, tmp_path, CardReadingTranscriber(channel=1))
    await p.setup()
    assert await p.run() is Outcome.DONE
    call = await p.call()
    assert call.stage is Stage.COMPLETED
    assert call.recording is not None
    stored = p.audio.objects[call.recording.uri][0]
    assert stored != ORIGINAL
    assert stored.startswith(ORIGINAL)
    assert b"silenced CARD" in stored
    assert not any(data == ORIGINAL for data, _ in p.audio.objects.values())
    assert not p.quarantined()
    assert list(p.scratch.root.iterdir()) == []
    # the original was transcribed, once; the card left neither text nor sound
    assert p.transcriber.heard == [p.audio.uri_for(quarantine_object_name("acme", "CALc1"))]
    assert call.transcript is not None
    assert "4111" not in call.transcript.text
    notes = {e.stage: e.note for e in call.timeline}
    assert notes[Stage.RECORDING_STORED] == ("redacted recording stored: 1 span silenced (CARD 1)")
    assert notes[Stage.TRANSCRIBED] is not None
    assert ("silenced", "CARD", 1) in p.metrics.events


async def test_a_tenant_that_does_not_redact_stores_the_recording_as_downloaded(
    clock: FixedClock, tmp_path: Path
) -> None:
    p = Pipeline(clock, tmp_path, CardReadingTranscriber(channel=1))
    await p.setup(redact=False)
    assert await p.run() is Outcome.DONE
    call = await p.call()
    assert call.recording is not None
    assert p.audio.objects[call.recording.uri][0] == ORIGINAL
    assert p.redactor.spans == []
    assert call.transcript is not None
    assert "4111" in call.transcript.text


async def test_a_call_that_fails_while_its_recording_is_stored_keeps_no_original(
    clock: FixedClock, tmp_path: Path
) -> None:
    p = Pipeline(clock, tmp_path, CardReadingTranscriber(unreadable={"CALc1"}, channel=1))
    await p.setup()
    assert await p.run() is Outcome.FAILED
    call = await p.call()
    assert call.stage is Stage.FAILED
    assert call.recording is None
    assert not p.quarantined()
    assert p.audio.objects == {}


async def test_a_rerun_after_a_crash_replaces_what_it_half_did_and_deletes_the_original(
    clock: FixedClock, tmp_path: Path
) -> None:
    p = Pipeline(clock, tmp_path, CardReadingTranscriber(channel=1))
    await p.setup()

    # What a process killed mid-stage left: the original in quarantine, and a redacted
    # recording stored, encoded differently, before the call was saved.
    await p.audio.put(quarantine_object_name("acme", "CALc1"), stream(ORIGINAL), "audio/mpeg")
    await p.audio.put("acme/calls/CALc1/recording.mp3", stream(b"ID3 other bytes"), "audio/mpeg")
    assert await p.run() is Outcome.DONE
    call = await p.call()
    assert call.recording is not None
    assert b"silenced CARD" in p.audio.objects[call.recording.uri][0]
    assert not p.quarantined()


async def test_reprocessing_the_transcript_hears_the_stored_silenced_recording(
    clock: FixedClock, tmp_path: Path
) -> None:
    p = Pipeline(clock, tmp_path, CardReadingTranscriber(channel=1))
    await p.setup()
    assert await p.run() is Outcome.DONE
    stored = (await p.call()).recording
    assert stored is not None

    reprocess = ReprocessCall(p.uow, InMemoryJobQueue(), clock, SequentialIds())
    await reprocess(ReprocessCommand("acme", "CALc1", Stage.TRANSCRIBED))
    assert await p.run() is Outcome.DONE
    assert p.transcriber.heard[-1] == stored.uri
    assert (await p.call()).recording == stored


@pytest.mark.parametrize("redact", [True, False])
async def test_no_digit_reaches_the_timeline_note(
    clock: FixedClock, tmp_path: Path, redact: bool
) -> None:
    p = Pipeline(clock, tmp_path, CardReadingTranscriber(channel=1))
    await p.setup(redact=redact)
    await p.run()
    for event in (await p.call()).timeline:
        assert "4111" not in (event.note or "")


async def test_a_recording_with_nothing_to_silence_is_stored_as_downloaded(
    clock: FixedClock, tmp_path: Path
) -> None:
    class PlainTranscriber(CardReadingTranscriber):
        async def transcribe(
            self,
            recording: StoredRecording,
            language: str = "en-US",
            hint: TranscriptionHint | None = None,
            ticket: str | None = None,
        ) -> Transcript:
            self.heard.append(recording.uri)
            said = "hi my furnace stopped working"
            return Transcript("test", language, said, (Segment("caller", 0.0, 3.0, said),))

    p = Pipeline(clock, tmp_path, PlainTranscriber())
    await p.setup()
    assert await p.run() is Outcome.DONE
    call = await p.call()
    assert call.recording is not None
    assert call.recording.redacted
    assert p.audio.objects[call.recording.uri][0] == ORIGINAL
    assert call.recording.uri.endswith("/recording.mp3")
    assert not p.quarantined()
    assert p.redactor.spans == []
    notes = {e.stage: e.note for e in call.timeline}
    assert notes[Stage.RECORDING_STORED] == "redacted recording stored: nothing to silence"
