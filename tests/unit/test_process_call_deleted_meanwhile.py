"""A tenant deleted while one of its calls is being processed: the worker finishes its stage
after the deletion swept the call's audio, storing the silenced recording, and finds the call
gone when it saves. What it stored is deleted too, so `tenants delete` leaves none of the
tenant's audio, and the delivery ends as "gone" rather than being retried."""

from __future__ import annotations

from pathlib import Path

from adapters.memory.fakes import FixedClock, SequentialIds
from domain.results import StoredRecording, Transcript
from domain.transcription_hint import TranscriptionHint
from domain.usecases.erasure import DeleteTenant, DeleteTenantCommand
from domain.usecases.processing import Outcome
from tests.support import CardReadingTranscriber
from tests.unit.test_process_call_redaction import Pipeline


class DeletesTheTenantWhileItListens(CardReadingTranscriber):
    """Transcribes, but the operator deletes the tenant meanwhile (the race, made certain)."""

    delete: DeleteTenant | None = None

    async def transcribe(
        self,
        recording: StoredRecording,
        language: str = "en-US",
        hint: TranscriptionHint | None = None,
        ticket: str | None = None,
    ) -> Transcript:
        assert self.delete is not None
        await self.delete(DeleteTenantCommand("acme", "acme", "operator"))
        return await super().transcribe(recording, language, hint, ticket)


async def test_audio_stored_by_a_worker_racing_the_deletion_is_deleted_too(
    clock: FixedClock, tmp_path: Path
) -> None:
    transcriber = DeletesTheTenantWhileItListens(channel=1)
    p = Pipeline(clock, tmp_path, transcriber)
    transcriber.delete = DeleteTenant(p.uow, p.audio, clock, SequentialIds())
    await p.setup()  # redacted: the silenced copy is stored after the transcription

    assert await p.run() is Outcome.GONE

    assert p.audio.objects == {}
    async with p.uow(read_only=True) as uow:
        assert await uow.calls.get("acme", "CALc1") is None
        assert await uow.tenants.get("acme") is None
