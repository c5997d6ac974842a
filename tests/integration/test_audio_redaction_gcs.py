"""The Google Cloud shape of a PCI-safe recording, on fake-gcs-server: the original waits under
the quarantine prefix only until the redacted recording is stored, then is deleted; a crash
between the two (the worker killed after the redacted object's upload, before the original's
delete) leaves the call resumable, and the redelivered job deletes the original.

Real Cloud Storage adapter, real PyAV redactor on the demo's billing call, a real scratch
directory, in-memory repositories. Speech-to-Text has no emulator: the transcriber is scripted,
with the billing call's words timed where Whisper tiny.en hears them in the file."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
from collections.abc import AsyncIterable, AsyncIterator, Iterator
from pathlib import Path

import av
import numpy as np
import pytest

from adapters.filesystem.scratch import PrivateScratch
from adapters.gcs.audio_store import GcsAudioStore
from adapters.memory.fakes import (
    FixedClock,
    InMemoryCrmGateway,
    InMemoryCrmGatewayFactory,
    InMemoryRecordingSource,
    ScriptedTranscriber,
)
from adapters.memory.repositories import InMemoryUnitOfWorkFactory
from adapters.pyav.audio_redactor import PyAvAudioRedactor
from adapters.rules.analyzer import RulesCallAnalyzer
from domain.call import Call, quarantine_object_name, recording_object_name
from domain.results import Segment, StoredRecording, Transcript, Word
from domain.stages import Stage
from domain.tenant import parse_tenant
from domain.transcription_hint import TranscriptionHint
from domain.usecases.processing import Outcome, ProcessCall, ProcessCallCommand
from domain.webhook import parse_incoming_call
from ports.audio import AudioStore
from tests.emulators import gcs
from tests.emulators.gcs import FakeGcs
from tests.support import callrail_body, tenant_document

pytestmark = pytest.mark.slow
fake_gcs = gcs.fake_gcs

BILLING = (
    Path(__file__).resolve().parents[2] / "entrypoints" / "demo" / "audio" / "billing_card.mp3"
)
TENANT, CALL = "acme", "CALc1"
LEASE_S = 60.0


def _segment(speaker: str, said: str) -> Segment:
    """A segment from "word start-end | word start-end | ...", times in seconds."""
    words = []
    for item in said.split(" | "):
        text, _, times = item.rpartition(" ")
        start, _, end = times.partition("-")
        words.append(Word(float(start), float(end), text))
    text = " ".join(word.text for word in words)
    return Segment(speaker, words[0].start_s, words[-1].end_s, text, tuple(words))


# The billing call as said (calls.json), each word at the time Whisper tiny.en put it in
# billing_card.mp3; the greeting and the caller's "Hi", which tiny.en does not hear, where the
# file is loud. The card number is said from 12.1 s to 20.0 s, the agent's "Hmm." inside it.
# Redacted, it silences 12.16-20.92 s (CARD), 25.32-26.56 s (EXPIRY), 28.32-31.02 s (CVV).
BILLING_SEGMENTS = (
    _segment(
        "agent",
        "Acme 0.1-0.5 | Heating 0.5-0.9 | and 1.0-1.2 | Air, 1.2-1.6 | billing. 1.7-2.2",
    ),
    _segment(
        "caller",
        "Hi, 3.1-3.5 | I'm 3.96-4.62 | a 4.62-4.7 | customer 4.7-5.18"
        " | and 5.18-5.66 | I'd 5.66-5.94 | like 5.94-6.22 | to 6.22-6.44"
        " | pay 6.44-6.62 | my 6.62-6.98 | bill. 6.98-7.31",
    ),
    _segment(
        "agent",
        "Sure, 8.38-8.86 | go 9.16-9.3 | ahead 9.3-9.6 | with 9.6-9.84"
        " | the 9.84-10.06 | card 10.06-10.4 | number. 10.4-11.44",
    ),
    _segment(
        "caller",
        "It's 12.14-12.46 | 4111 12.46-13.76 | 1111, 13.76-15.34"
        " | 1111 15.88-18.1 | 1111. 18.1-20.02",
    ),
    _segment(
        "agent",
        "And 20.92-21.34 | the 21.34-21.56 | expiry 21.56-22.08"
        " | date 22.08-22.64 | and 22.64-22.92 | security 22.92-23.62"
        " | code? 23.62-24.3",
    ),
    _segment(
        "caller",
        "Oh 25.08-25.4 | 4/27, 25.62-26.26 | and 26.26-27.22"
        " | the 27.22-27.3 | security 27.3-28.08 | code 28.08-28.34"
        " | is 28.34-28.62 | 123. 28.62-29.92",
    ),
    _segment(
        "agent",
        "Thanks, 31.02-31.24 | your 31.62-31.74 | payment 31.74-32.08"
        " | is 32.08-32.42 | complete. 32.42-32.78",
    ),
)
BILLING_CALL = Transcript(
    engine="scripted",
    language="en-US",
    text=" ".join(segment.text for segment in BILLING_SEGMENTS),
    segments=BILLING_SEGMENTS,
    audio_duration_s=33.948,
)
CARD_SAID = (12.5, 20.0)  # well inside the CARD span, away from the codec's edge
REQUEST_SAID = (3.9, 7.3)  # "I'm a customer and I'd like to pay my bill"


class BillingCallTranscriber(ScriptedTranscriber):
    """Hears the billing call every time it is asked, and notes which object it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.heard: list[str] = []

    async def transcribe(
        self,
        recording: StoredRecording,
        language: str = "en-US",
        hint: TranscriptionHint | None = None,
        ticket: str | None = None,
    ) -> Transcript:
        self.heard.append(recording.uri)
        self.transcripts = [BILLING_CALL]
        return await super().transcribe(recording, language, hint)


class KilledBeforeDelete(AudioStore):
    """The Cloud Storage store as the worker sees it, noting every put and delete; when told
    to, the first delete of `crash_at` raises what a task killed at that moment sees, without
    deleting: the redacted object is stored, the original is still there."""

    def __init__(self, store: GcsAudioStore, crash_at: str | None = None):
        self._store = store
        self._crash_at = crash_at
        self.log: list[tuple[str, str]] = []

    async def put(
        self, name: str, chunks: AsyncIterable[bytes], content_type: str
    ) -> StoredRecording:
        stored = await self._store.put(name, chunks, content_type)
        self.log.append(("put", stored.uri))
        return stored

    def get(self, uri: str) -> AsyncIterator[bytes]:
        return self._store.get(uri)

    async def delete(self, uri: str) -> None:
        if uri == self._crash_at:
            self._crash_at = None
            raise asyncio.CancelledError()
        await self._store.delete(uri)
        self.log.append(("delete", uri))

    def uri_for(self, name: str) -> str:
        return self._store.uri_for(name)

    def names(self, prefix: str) -> AsyncIterator[str]:
        return self._store.names(prefix)


@pytest.fixture
def prefix(fake_gcs: FakeGcs) -> str:
    return fake_gcs.unique_prefix()


@pytest.fixture
def gcs_store(fake_gcs: FakeGcs, prefix: str) -> Iterator[GcsAudioStore]:
    store = GcsAudioStore(fake_gcs.client, fake_gcs.bucket, prefix)
    yield store
    store.close()


@pytest.fixture
async def uow(clock: FixedClock) -> InMemoryUnitOfWorkFactory:
    uow = InMemoryUnitOfWorkFactory()
    tenant = parse_tenant(tenant_document(), clock.now())
    call = Call.receive(TENANT, parse_incoming_call(json.loads(callrail_body("c1"))), clock.now())
    async with uow() as tx:
        await tx.tenants.add(tenant)
        await tx.calls.add(call)
        await tx.commit()
    return uow


def process_call(
    uow: InMemoryUnitOfWorkFactory,
    audio: AudioStore,
    transcriber: BillingCallTranscriber,
    scratch: PrivateScratch,
    clock: FixedClock,
) -> ProcessCall:
    return ProcessCall(
        uow,
        InMemoryRecordingSource({CALL: BILLING.read_bytes()}),
        audio,
        transcriber,
        RulesCallAnalyzer(),
        InMemoryCrmGatewayFactory(InMemoryCrmGateway("hubspot")),
        clock,
        lease_s=LEASE_S,
        redactor=PyAvAudioRedactor(),
        scratch=scratch,
    )


async def bucket(fake_gcs: FakeGcs, prefix: str) -> dict[str, bytes]:
    """Every object under the test's prefix, by name without the prefix, with its bytes: read
    through the google-cloud-storage client, not through the store under test."""

    def listing() -> dict[str, bytes]:
        blobs = fake_gcs.client.list_blobs(fake_gcs.bucket, prefix=prefix)
        return {b.name.removeprefix(prefix): b.download_as_bytes() for b in blobs}

    return await asyncio.to_thread(listing)


async def stored_call(uow: InMemoryUnitOfWorkFactory) -> Call:
    async with uow(read_only=True) as tx:
        call = await tx.calls.get(TENANT, CALL)
    assert call is not None
    return call


def loudness(data: bytes, stretch: tuple[float, float]) -> float:
    """The RMS of an MP3's samples over a stretch of seconds."""
    with av.open(io.BytesIO(data), "r", format="mp3") as container:
        stream = container.streams.audio[0]
        samples = np.concatenate(
            [
                frame.to_ndarray().astype(np.float64).reshape(-1)
                for frame in container.decode(stream)
            ]
        )
        rate = stream.rate
    part = samples[round(stretch[0] * rate) : round(stretch[1] * rate)]
    return float(np.sqrt(np.mean(np.square(part))))


ORIGINAL = BILLING.read_bytes()
QUARANTINE = quarantine_object_name(TENANT, CALL)
RECORDING = recording_object_name(TENANT, CALL, "mp3")


def assert_redacted_stored(objects: dict[str, bytes], call: Call) -> None:
    """Only the redacted recording is in the bucket: not the original, and it is the object
    the call points at, with the card number silent and the caller's request still heard."""
    assert sorted(objects) == [RECORDING]
    stored = objects[RECORDING]
    assert stored != ORIGINAL
    assert hashlib.sha256(ORIGINAL).hexdigest() not in {
        hashlib.sha256(data).hexdigest() for data in objects.values()
    }
    assert call.recording is not None
    assert call.recording.uri.endswith(f"/{RECORDING}")
    assert call.recording.sha256 == hashlib.sha256(stored).hexdigest()
    assert call.recording.bytes == len(stored)
    assert loudness(ORIGINAL, CARD_SAID) > 0.01  # the original says the card number here
    assert loudness(stored, CARD_SAID) < 0.001
    assert loudness(stored, REQUEST_SAID) > 0.5 * loudness(ORIGINAL, REQUEST_SAID)
    notes = {event.stage: event.note for event in call.timeline}
    assert notes[Stage.RECORDING_STORED] == (
        "redacted recording stored: 3 spans silenced (CARD 1, CVV 1, EXPIRY 1)"
    )


async def test_the_quarantined_original_is_deleted_once_the_redacted_recording_is_stored(
    fake_gcs: FakeGcs,
    prefix: str,
    gcs_store: GcsAudioStore,
    uow: InMemoryUnitOfWorkFactory,
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    audio = KilledBeforeDelete(gcs_store)
    transcriber = BillingCallTranscriber()
    scratch = PrivateScratch(tmp_path / "scratch", audio)
    process = process_call(uow, audio, transcriber, scratch, clock)

    result = await process(ProcessCallCommand(TENANT, CALL, "w1"))

    assert result.outcome is Outcome.DONE
    call = await stored_call(uow)
    assert call.stage is Stage.COMPLETED
    quarantined, recording = gcs_store.uri_for(QUARANTINE), gcs_store.uri_for(RECORDING)
    # Speech-to-Text was given the quarantined original (it needs a gs:// URI) ...
    assert transcriber.heard == [quarantined]
    # ... which was deleted after, not before, the redacted recording was stored.
    assert audio.log == [("put", quarantined), ("put", recording), ("delete", quarantined)]
    assert_redacted_stored(await bucket(fake_gcs, prefix), call)
    assert [p for p in (tmp_path / "scratch").rglob("*") if p.is_file()] == []


async def test_a_crash_between_storing_and_deleting_is_resumed_and_the_original_deleted(
    fake_gcs: FakeGcs,
    prefix: str,
    gcs_store: GcsAudioStore,
    uow: InMemoryUnitOfWorkFactory,
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    quarantined = gcs_store.uri_for(QUARANTINE)
    killed = KilledBeforeDelete(gcs_store, crash_at=quarantined)
    transcriber = BillingCallTranscriber()
    first = process_call(
        uow, killed, transcriber, PrivateScratch(tmp_path / "scratch", killed), clock
    )

    with pytest.raises(asyncio.CancelledError):
        await first(ProcessCallCommand(TENANT, CALL, "w1"))

    # The moment of the crash: the redacted recording is in the bucket, the original too, and
    # the stage's result was never committed.
    objects = await bucket(fake_gcs, prefix)
    assert sorted(objects) == sorted([QUARANTINE, RECORDING])
    assert objects[QUARANTINE] == ORIGINAL
    crashed = await stored_call(uow)
    assert crashed.stage is Stage.RECEIVED
    assert crashed.recording is None
    assert crashed.lease_owner == "w1"

    # Redelivered once the dead worker's lease has run out, to a new worker and a new store.
    clock.advance(LEASE_S + 1)
    restarted = GcsAudioStore(fake_gcs.client, fake_gcs.bucket, prefix)
    try:
        audio = KilledBeforeDelete(restarted)
        scratch = PrivateScratch(tmp_path / "scratch", audio)
        second = process_call(uow, audio, transcriber, scratch, clock)
        result = await second(ProcessCallCommand(TENANT, CALL, "w2"))
    finally:
        restarted.close()

    assert result.outcome is Outcome.DONE
    call = await stored_call(uow)
    assert call.stage is Stage.COMPLETED
    assert ("delete", quarantined) in audio.log
    assert_redacted_stored(await bucket(fake_gcs, prefix), call)
    assert [p for p in (tmp_path / "scratch").rglob("*") if p.is_file()] == []
