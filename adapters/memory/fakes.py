"""In-memory stand-ins for the ports that talk to the outside world."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from domain.call import Call, CallMetadata
from domain.crm import ActivityRef, CrmActivity, CrmContact
from domain.errors import PermanentFailure, SecretNotFound
from domain.jobs import Job
from domain.results import (
    CallAnalysis,
    Intent,
    SilencedSpan,
    StoredRecording,
    Transcript,
)
from domain.tenant import AiConfig, Tenant
from domain.transcription_hint import TranscriptionHint
from ports.analysis import CallAnalyzer
from ports.audio import AudioStore
from ports.audio_redaction import AudioRedactor, RedactedAudio
from ports.crm import CrmGateway, CrmGatewayFactory
from ports.queue import JobQueue
from ports.recording import Download, RecordingSource
from ports.secrets import SecretStore
from ports.speech import Transcriber
from ports.system import Clock, IdGenerator


class FixedClock(Clock):
    def __init__(self, at: datetime | None = None):
        self.at = at or datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


class SequentialIds(IdGenerator):
    def __init__(self) -> None:
        self._n = 0

    def new_id(self) -> str:
        self._n += 1
        return f"id{self._n:06d}"

    def new_token(self) -> str:
        self._n += 1
        return f"token{self._n:06d}" + "x" * 37


class InMemoryJobQueue(JobQueue):
    dispatch_grace_s = 0.0

    def __init__(self) -> None:
        self.enqueued: list[Job] = []

    async def enqueue(self, job: Job) -> None:
        self.enqueued.append(job)


class InMemorySecretStore(SecretStore):
    def __init__(self, secrets: dict[str, str] | None = None):
        self.secrets = dict(secrets or {})

    async def resolve(self, name: str) -> str:
        value = self.secrets.get(name)
        if not value:
            raise SecretNotFound(f"secret {name!r} is not set")
        return value


class InMemoryAudioStore(AudioStore):
    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, str]] = {}

    async def put(
        self, name: str, chunks: AsyncIterable[bytes], content_type: str
    ) -> StoredRecording:
        data = b"".join([c async for c in chunks])
        uri = self.uri_for(name)
        existing = self.objects.get(uri)
        if existing is not None and existing[0] != data:
            raise FileExistsError(f"{uri} exists with other content")
        self.objects[uri] = (data, content_type)
        return StoredRecording(uri, len(data), hashlib.sha256(data).hexdigest(), content_type)

    async def get(self, uri: str) -> AsyncIterator[bytes]:
        try:
            data = self.objects[uri][0]
        except KeyError:
            raise FileNotFoundError(uri) from None
        yield data

    async def delete(self, uri: str) -> None:
        self.objects.pop(uri, None)

    async def names(self, prefix: str) -> AsyncIterator[str]:
        for uri in list(self.objects):
            name = uri.removeprefix("memory://")
            if name.startswith(prefix):
                yield name

    def uri_for(self, name: str) -> str:
        return f"memory://{name}"


class InMemoryRecordingSource(RecordingSource):
    def __init__(
        self, recordings: dict[str, bytes] | None = None, content_type: str = "audio/mpeg"
    ):
        self.recordings = dict(recordings or {})
        self.content_type = content_type

    async def open(self, tenant: Tenant, call: Call) -> Download:
        data = self.recordings[call.call_id]

        async def chunks() -> AsyncIterator[bytes]:
            yield data

        return Download(self.content_type, chunks())


class MarkingAudioRedactor(AudioRedactor):
    """Writes the source's bytes and, after them, one line per span silenced: for tests of
    what the pipeline stores, with no audio decoded. The real one is adapters.pyav."""

    def __init__(self) -> None:
        self.spans: list[tuple[SilencedSpan, ...]] = []

    async def silence(
        self, source: Path, target: Path, spans: Sequence[SilencedSpan]
    ) -> RedactedAudio:
        self.spans.append(tuple(spans))
        marks = b"".join(f"\nsilenced {s.kind} {s.start_s:.2f}".encode() for s in spans)
        data = await asyncio.to_thread(source.read_bytes)
        await asyncio.to_thread(target.write_bytes, data + marks)
        return RedactedAudio(duration_s=float(len(spans)), spans_silenced=len(spans))


class ScriptedTranscriber(Transcriber):
    def __init__(self, transcripts: Iterable[Transcript] = ()):
        self.transcripts = list(transcripts)
        self.hints: list[TranscriptionHint | None] = []  # what each call was told to expect

    async def transcribe(
        self,
        recording: StoredRecording,
        language: str = "en-US",
        hint: TranscriptionHint | None = None,
        ticket: str | None = None,
    ) -> Transcript:
        self.hints.append(hint)
        if self.transcripts:
            return self.transcripts.pop(0)
        return Transcript(engine="scripted", language=language, text="")


class ScriptedCallAnalyzer(CallAnalyzer):
    def __init__(self, analysis: CallAnalysis | None = None):
        self.analysis = analysis or CallAnalysis(engine="scripted", summary="", intent=Intent.OTHER)

    async def analyze(
        self, transcript: Transcript | None, metadata: CallMetadata, ai: AiConfig
    ) -> CallAnalysis:
        return self.analysis


class InMemoryCrmGateway(CrmGateway):
    """Contacts by phone and activities by idempotency key, each created once."""

    def __init__(self, crm_type: str = "memory"):
        self.crm_type = crm_type
        self.contacts: dict[str, CrmContact] = {}
        self.activities: dict[str, tuple[str, CrmActivity, str | None]] = {}
        self.requests = 0  # one a method call, as a CRM answering each in one request

    @property
    def api_calls(self) -> int:
        return self.requests

    async def find_activity(self, idempotency_key: str) -> ActivityRef | None:
        self.requests += 1
        found = self.activities.get(idempotency_key)
        return ActivityRef(found[0], found[2]) if found else None

    async def upsert_contact(self, contact: CrmContact) -> str:
        self.requests += 1
        self.contacts[contact.phone] = contact
        return f"contact-{contact.phone}"

    async def create_activity(self, activity: CrmActivity, contact_id: str | None) -> str:
        self.requests += 1
        activity_id = f"activity-{len(self.activities) + 1}"
        self.activities[activity.idempotency_key] = (activity_id, activity, contact_id)
        return activity_id

    async def update_activity(self, activity_id: str, activity: CrmActivity) -> None:
        self.requests += 1
        for key, (known, _, contact_id) in list(self.activities.items()):
            if known == activity_id:
                self.activities[key] = (activity_id, activity, contact_id)
                return
        raise PermanentFailure("no such activity")


class InMemoryCrmGatewayFactory(CrmGatewayFactory):
    def __init__(self, gateway: CrmGateway | None = None):
        self.gateway = gateway

    async def for_tenant(self, tenant: Tenant) -> CrmGateway | None:
        return self.gateway if tenant.config.crm.type != "none" else None
