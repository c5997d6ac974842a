"""Operator tool (`calls redact-audio TENANT [--since ISO]`): silence the card numbers in the
recordings a tenant stored before audio redaction.

Each finished call whose stored recording is not yet redacted is transcribed again from that
recording (the stored transcript keeps no word times), its card numbers, expiries, codes and
SSNs are silenced as the pipeline does, the result is stored under a name of its own, the
call is pointed at it, and only then is the original deleted. A call already pointing at a
redacted recording is skipped, after its original is deleted if a crash left it: the command
can be stopped and run again at any point, and a second run changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import PurePosixPath

import attrs

from domain.call import Call, recording_object_name, redacted_object_name
from domain.errors import (
    CallNotFound,
    ConcurrentUpdate,
    PermanentFailure,
    TranscriptionPending,
    TransientFailure,
)
from domain.redaction import redact_with_audio_spans
from domain.results import StoredRecording
from domain.tenant import Tenant
from domain.transcription_hint import transcription_hint
from domain.usecases.audio_redaction import AudioRedaction, silenced_note
from domain.usecases.calls import every_call
from ports.audio import AudioStore
from ports.repositories import UnitOfWorkFactory
from ports.speech import Transcriber

PENDING_REASON = (
    "the transcriber answers later (PIPELINE_SPEECH_PROCESSING=dynamic_batch);"
    " run this command with PIPELINE_SPEECH_PROCESSING=standard"
)


@attrs.frozen
class RedactAudioCommand:
    tenant_id: str
    since: datetime | None = None


@attrs.frozen
class RedactAudioReport:
    redacted: int
    already: int
    failed: tuple[tuple[str, str], ...]  # (call id, why), no digits: the port errors' words


class RedactStoredAudio:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        audio: AudioStore,
        transcriber: Transcriber,
        redaction: AudioRedaction,
    ):
        self._uow = uow
        self._audio = audio
        self._transcriber = transcriber
        self._redaction = redaction

    async def __call__(
        self, command: RedactAudioCommand, progress: Callable[[str], None] = lambda _: None
    ) -> RedactAudioReport:
        tenant, calls = await self._recorded_calls(command)
        redacted, already, failed = 0, 0, []
        for n, call in enumerate(calls, start=1):
            assert call.recording is not None
            where = f"{n}/{len(calls)} {call.call_id}"
            if call.recording.redacted:
                await self._drop_original(call)
                already += 1
                progress(f"{where}: already redacted")
                continue
            try:
                note = await self._redact(call, tenant)
            except TranscriptionPending:
                # A batch engine (dynamic batching) answers within hours, and this command
                # waits for no one: stop before paying for work nobody will collect.
                failed.append((call.call_id, PENDING_REASON))
                progress(f"{where}: stopped, {PENDING_REASON}")
                break
            except (PermanentFailure, TransientFailure, ConcurrentUpdate, FileNotFoundError) as exc:
                failed.append((call.call_id, f"{type(exc).__name__}: {exc}"))
                progress(f"{where}: failed, {type(exc).__name__}")
                continue
            redacted += 1
            progress(f"{where}: {note}")
        return RedactAudioReport(redacted, already, tuple(failed))

    async def _recorded_calls(self, command: RedactAudioCommand) -> tuple[Tenant, list[Call]]:
        """The tenant's finished calls with a stored recording, oldest first."""
        tenant, calls = await every_call(self._uow, command.tenant_id, command.since)
        return tenant, [c for c in calls if c.recording is not None and c.stage.terminal]

    async def _redact(self, call: Call, tenant: Tenant) -> str:
        original = call.recording
        assert original is not None
        transcript = await self._transcriber.transcribe(original, hint=transcription_hint(tenant))
        _, spans = redact_with_audio_spans(transcript)
        if spans:
            name = redacted_object_name(call.tenant_id, call.call_id, _extension(original))
            stored = await self._redaction.store_silenced(self._audio, original, spans, name)
        else:  # nothing to silence: the stored recording stays, now known to be clean
            stored = attrs.evolve(original, redacted=True)
        async with self._uow() as uow:
            fresh = await uow.calls.get(call.tenant_id, call.call_id)
            if fresh is None:
                raise CallNotFound(f"no call {call.call_id}")
            if fresh.recording != original:
                raise ConcurrentUpdate("the call's recording changed while it was redacted")
            fresh.recording = stored
            await uow.calls.update(fresh)
            await uow.commit()
        if stored.uri != original.uri:
            await self._audio.delete(original.uri)
        return silenced_note(spans)

    async def _drop_original(self, call: Call) -> None:
        """The original of a call redacted by an earlier run, if a crash kept it."""
        assert call.recording is not None
        original = recording_object_name(call.tenant_id, call.call_id, _extension(call.recording))
        uri = self._audio.uri_for(original)
        if uri != call.recording.uri:
            await self._audio.delete(uri)


def _extension(recording: StoredRecording) -> str:
    """ "mp3" of ".../recording.mp3": the original's and the redacted copy's names share it."""
    return PurePosixPath(recording.uri).suffix.lstrip(".") or "bin"
