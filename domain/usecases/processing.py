"""Processing a call: every stage after RECEIVED, each result persisted before the next stage
starts, so a redelivered job resumes where the last one stopped and never repeats a finished
stage. One worker at a time holds the call's lease."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from enum import StrEnum

import attrs

from domain.call import Call, quarantine_object_name, recording_object_name
from domain.codec import last_activity
from domain.crm import build_sync_request
from domain.errors import (
    CallNotFound,
    ConcurrentUpdate,
    LeaseHeld,
    PermanentFailure,
    RateLimited,
    TenantNotFound,
    TranscriptionPending,
    TransientFailure,
)
from domain.redaction import redact_transcript, redact_with_audio_spans
from domain.results import (
    CrmSyncResult,
    PendingTranscription,
    StoredRecording,
    SyncStatus,
    Transcript,
)
from domain.retry import RetryPolicy
from domain.scoring import score_lead
from domain.stages import Stage, next_stage
from domain.tenant import Tenant
from domain.transcription_hint import transcription_hint
from domain.usage import NO_USAGE, UsageDelta, usage_day
from domain.usecases.alerting import SendAlerts
from domain.usecases.audio_redaction import AudioRedaction, silenced_note
from domain.usecases.metering import PipelineMeter
from domain.usecases.retention import delete_audio
from ports.analysis import CallAnalyzer
from ports.audio import AudioStore
from ports.audio_redaction import AudioRedactor
from ports.crm import CrmGatewayFactory
from ports.metrics import Metrics
from ports.recording import RecordingSource
from ports.repositories import UnitOfWorkFactory
from ports.scratch import Scratch
from ports.speech import Transcriber
from ports.system import Clock
from ports.telemetry import AttributeValue, NoTracing, Span, Tracer

EXTENSIONS = {
    "audio/mpeg": "mp3",
    "audio/wav": "wav",
    "audio/ogg": "ogg",
    "audio/flac": "flac",
    "audio/mp4": "m4a",
}

# Stages whose result is saved with the next one's: what follows them does nothing outside the
# call before its own save (scoring is arithmetic; completing saves any pending alert before it
# sends it). A crash in between costs the stage again, never a side effect twice.
SAVED_WITH_NEXT = frozenset({Stage.ANALYZED, Stage.SYNCED})

# Speech-to-Text's dynamic batching answers within 24 hours; a call still waiting after twice
# that (in its stage: _waited_s) fails with the reason (an operator can reprocess it) rather
# than wait for ever.
MAX_TRANSCRIPTION_WAIT_S = 2 * 86400.0


def _extension(content_type: str) -> str:
    return EXTENSIONS.get(content_type, "bin")


class Outcome(StrEnum):
    DONE = "done"  # COMPLETED, or already terminal: acknowledge
    FAILED = "failed"  # permanently FAILED now: acknowledge
    RETRY = "retry"  # transient trouble: deliver again after retry_after_s
    BUSY = "busy"  # another worker holds the lease: deliver again later
    GONE = "gone"  # no such call (deleted tenant): acknowledge


@attrs.frozen
class ProcessCallCommand:
    tenant_id: str
    call_id: str
    worker_id: str


@attrs.frozen
class ProcessResult:
    outcome: Outcome
    stage: Stage | None = None
    retry_after_s: float = 0.0
    reason: str | None = None


@attrs.frozen
class StageSkipped:
    note: str


@attrs.frozen
class StageDone:
    """Done, with a note for the call's timeline."""

    note: str


StageWork = Callable[[Call, Tenant], Awaitable[StageSkipped | StageDone | None]]


class ProcessCall:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        recordings: RecordingSource,
        audio: AudioStore,
        transcriber: Transcriber,
        analyzer: CallAnalyzer,
        crm: CrmGatewayFactory,
        clock: Clock,
        retry: RetryPolicy | None = None,
        lease_s: float = 60.0,
        max_deferral_s: float = 7 * 86400,
        tracer: Tracer | None = None,
        metrics: Metrics | None = None,
        redactor: AudioRedactor | None = None,
        scratch: Scratch | None = None,
        alerts: SendAlerts | None = None,
    ):
        """With a redactor and a scratch space, a tenant that redacts PII has its recording
        stored with the card numbers silenced (_store_redacted); without, as downloaded. With
        `alerts`, a hot lead is announced as the call completes, after the CRM sync."""
        self._uow = uow
        self._recordings = recordings
        self._audio = audio
        self._transcriber = transcriber
        self._analyzer = analyzer
        self._crm = crm
        self._clock = clock
        self._retry = retry or RetryPolicy()
        self._lease_s = lease_s
        self._max_deferral_s = max_deferral_s
        self._tracer = tracer or NoTracing()
        self._meter = PipelineMeter(metrics)
        self._redaction = (
            AudioRedaction(redactor, scratch)
            if redactor is not None and scratch is not None
            else None
        )
        self._alerts = alerts
        self._work: dict[Stage, StageWork] = {
            Stage.RECORDING_STORED: self._store_recording,
            Stage.TRANSCRIBED: self._transcribe,
            Stage.ANALYZED: self._analyze,
            Stage.SCORED: self._score,
            Stage.SYNCED: self._sync,
            Stage.COMPLETED: self._alert,
        }

    async def __call__(self, command: ProcessCallCommand) -> ProcessResult:
        attributes = {"tenant_id": command.tenant_id, "call_id": command.call_id}
        with self._tracer.span("process_call", attributes) as span:
            result = await self._process(command, span)
            span.set_attribute("outcome", result.outcome.value)
            if result.stage is not None:
                span.set_attribute("stage", result.stage.value)
        return result

    async def _process(self, command: ProcessCallCommand, span: Span) -> ProcessResult:
        try:
            call, tenant = await self._start(command)
        except (CallNotFound, TenantNotFound) as exc:
            return ProcessResult(Outcome.GONE, reason=str(exc))
        except LeaseHeld as exc:
            wait = (exc.until - self._clock.now()).total_seconds() if exc.until else 0.0
            return ProcessResult(Outcome.BUSY, retry_after_s=max(1.0, wait), reason=str(exc))
        except ConcurrentUpdate as exc:
            return ProcessResult(Outcome.BUSY, retry_after_s=1.0, reason=str(exc))
        span.set_attribute("attempt", call.attempts)
        if call.stage.terminal:
            return ProcessResult(Outcome.DONE, call.stage)
        try:
            return await self._stages(call, tenant)
        except CallNotFound as exc:
            # Deleted while it was processed (calls delete, tenants delete): what this attempt
            # stored after the deletion swept the call's audio goes too.
            await delete_audio(self._audio, call.tenant_id, call.call_id)
            return ProcessResult(Outcome.GONE, reason=str(exc))

    async def _stages(self, call: Call, tenant: Tenant) -> ProcessResult:
        if call.attempts > self._retry.max_attempts:
            # Every earlier attempt died mid-stage (a crash, an OOM kill): stop trying.
            reason = f"gave up after {call.attempts - 1} attempts that never finished"
            return await self._fail(call, next_stage(call.stage), reason)
        try:
            while not call.stage.terminal:
                await self._traced_run(next_stage(call.stage), call, tenant)
        except ConcurrentUpdate as exc:
            return ProcessResult(Outcome.BUSY, call.stage, self._retry.base_delay_s, str(exc))
        except PermanentFailure as exc:
            return await self._fail(call, next_stage(call.stage), str(exc))
        except TranscriptionPending as exc:
            return await self._waiting(call, exc)
        except RateLimited as exc:
            return await self._deferred(call, str(exc), exc.retry_after_s)
        except TransientFailure as exc:
            return await self._transient(call, str(exc), exc.retry_after_s)
        except CallNotFound:
            raise  # deleted meanwhile: _process cleans up after it
        except Exception as exc:
            # A bug or an adapter error not mapped to a port error: retried like a transient
            # one, so the attempt bound still ends it. Only the type is kept: the message of an
            # unknown exception may hold a URL or a token.
            return await self._transient(call, f"unexpected {type(exc).__name__}", None)
        return ProcessResult(Outcome.DONE, call.stage)

    async def _start(self, command: ProcessCallCommand) -> tuple[Call, Tenant]:
        async with self._uow() as uow:
            call = await uow.calls.get(command.tenant_id, command.call_id)
            if call is None:
                raise CallNotFound(f"no call {command.call_id} for tenant {command.tenant_id}")
            tenant = await uow.tenants.get(command.tenant_id)
            if tenant is None:
                raise TenantNotFound(f"no tenant {command.tenant_id}")
            if call.stage.terminal:
                return call, tenant
            call.take_lease(command.worker_id, self._clock.now(), self._lease_s)
            call.attempts += 1
            await uow.calls.update(call)
            await uow.commit()
        return call, tenant

    async def _traced_run(self, stage: Stage, call: Call, tenant: Tenant) -> None:
        attributes: dict[str, AttributeValue] = {
            "tenant_id": call.tenant_id,
            "call_id": call.call_id,
            "stage": stage.value,
            "attempt": call.attempts,
        }
        with self._tracer.span(f"stage.{stage.value}", attributes) as span:
            await self._run(stage, call, tenant)
            span.set_attribute("outcome", "skipped" if call.timeline[-1].skipped else "done")

    async def _run(self, stage: Stage, call: Call, tenant: Tenant) -> None:
        started = time.perf_counter()
        heartbeat = asyncio.create_task(self._heartbeat(call))
        try:
            done = await self._work[stage](call, tenant)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        skipped = isinstance(done, StageSkipped)
        elapsed_s = time.perf_counter() - started
        duration_ms = int(elapsed_s * 1000)
        now = self._clock.now()
        call.advance(
            stage, now, duration_ms=duration_ms, skipped=skipped, note=done.note if done else None
        )
        if stage is Stage.COMPLETED:
            call.release_lease()
            call.failure = None
        else:
            call.renew_lease(now, self._lease_s)
        if stage not in SAVED_WITH_NEXT:
            await self._save(call)
        self._meter.stage_done(stage, call, elapsed_s, skipped=skipped)

    async def _heartbeat(self, call: Call) -> None:
        """Keeps the lease while a long stage (a transcription) runs, so a short lease can
        still cover it and a crashed worker's calls are picked up again soon."""
        assert call.lease_owner is not None
        while True:
            await asyncio.sleep(self._lease_s / 3)
            until = self._clock.now() + timedelta(seconds=self._lease_s)
            async with self._uow() as uow:
                held = await uow.calls.extend_lease(
                    call.tenant_id, call.call_id, call.lease_owner, until
                )
                await uow.commit()
            if not held:
                return
            call.lease_expires_at = until

    async def _save(self, call: Call) -> None:
        """Saves the call, and what its processing consumed since the last save (usage)."""
        usage = call.unsaved_usage
        async with self._uow() as uow:
            await uow.calls.update(call)
            if usage:
                await uow.usage.add(call.tenant_id, usage_day(self._clock.now()), usage)
            await uow.commit()
        call.unsaved_usage = NO_USAGE

    async def _fail(self, call: Call, stage: Stage, reason: str) -> ProcessResult:
        if stage is Stage.RECORDING_STORED:
            await self._discard_original(call)
        call.fail(stage, reason, self._clock.now())
        call.release_lease()
        await self._save(call)
        self._meter.dead_end(stage, call)
        return ProcessResult(Outcome.FAILED, stage, reason=reason)

    async def _transient(self, call: Call, reason: str, hint: float | None) -> ProcessResult:
        stage = next_stage(call.stage)
        if self._retry.exhausted(call.attempts):
            return await self._fail(
                call, stage, f"gave up after {call.attempts} attempts: {reason}"
            )
        call.note_transient_failure(stage, reason)
        call.release_lease()
        await self._save(call)
        self._meter.retrying(stage, call, "transient")
        delay = self._retry.delay_s(call.attempts, f"{call.tenant_id}/{call.call_id}", hint)
        return ProcessResult(Outcome.RETRY, stage, delay, reason)

    async def _deferred(self, call: Call, reason: str, hint: float | None) -> ProcessResult:
        """A service asked us to wait: the call waits in its stage, for as long as it is asked
        (up to a day at a time), without spending an attempt; only `max_deferral_s` in the
        stage ends it."""
        stage = next_stage(call.stage)
        if self._waited_s(call) > self._max_deferral_s:
            days = self._max_deferral_s / 86400
            return await self._fail(
                call, stage, f"still rate limited after {days:g} days: {reason}"
            )
        asked = hint if hint is not None and math.isfinite(hint) else None
        return await self._postpone(
            call, stage, reason, asked or self._retry.base_delay_s, "rate_limited"
        )

    async def _waiting(self, call: Call, pending: TranscriptionPending) -> ProcessResult:
        """The transcriber answers later: the call waits in its stage with the ticket saved,
        so the next attempt collects the work rather than paying for it again. Waiting spends
        no attempt; only MAX_TRANSCRIPTION_WAIT_S ends it."""
        stage = next_stage(call.stage)
        assert call.pending_transcription is not None  # set by _transcription before it raised
        if self._waited_s(call) > MAX_TRANSCRIPTION_WAIT_S:
            hours = MAX_TRANSCRIPTION_WAIT_S / 3600
            reason = f"the batch transcription did not finish within {hours:g} hours"
            return await self._fail(call, stage, reason)
        return await self._postpone(
            call, stage, str(pending), pending.check_after_s, "transcription_pending"
        )

    def _waited_s(self, call: Call) -> float:
        """How long the call has been in its stage: since it entered it, received, restarted
        (a reprocessed call waits afresh, however old) or moved on; retries move nothing."""
        return (self._clock.now() - last_activity(call)).total_seconds()

    async def _postpone(
        self, call: Call, stage: Stage, reason: str, wait_s: float, why: str
    ) -> ProcessResult:
        """The call waits in its stage, `wait_s` (1 s to a day), without spending an attempt."""
        call.attempts = max(0, call.attempts - 1)
        call.note_transient_failure(stage, reason)
        call.release_lease()
        await self._save(call)
        self._meter.retrying(stage, call, why)
        return ProcessResult(Outcome.RETRY, stage, min(max(wait_s, 1.0), 86400.0), reason)

    # --- the stages ------------------------------------------------------------------------

    async def _store_recording(self, call: Call, tenant: Tenant) -> StageSkipped | StageDone | None:
        config = tenant.config
        from_api = config.callrail_api_key is not None and config.callrail_account_id is not None
        if call.recording_url is None and not (from_api and call.metadata.answered):
            return StageSkipped("no recording (missed or unrecorded call)")
        waiting = call.pending_transcription
        redacting = config.redact_pii and self._redaction is not None
        if waiting is not None and (waiting.source != call.recording_url or not redacting):
            # The original waiting in quarantine is of a recording CallRail has replaced since
            # (Call Modified), or no longer to be redacted: it goes, and so does its work.
            await self._audio.delete(waiting.recording.uri)
            waiting = call.pending_transcription = None
        if waiting is not None and self._redaction is not None:
            name = recording_object_name(
                call.tenant_id, call.call_id, _extension(waiting.recording.content_type)
            )  # the quarantined original is stored already, and being transcribed
            return await self._store_redacted(
                call, tenant, waiting.recording, name, self._redaction
            )
        download = await self._recordings.open(tenant, call)
        name = recording_object_name(
            call.tenant_id, call.call_id, _extension(download.content_type)
        )
        if config.redact_pii and self._redaction is not None:
            original = await self._audio.put(
                quarantine_object_name(call.tenant_id, call.call_id),
                download.chunks,
                download.content_type,
            )
            return await self._store_redacted(call, tenant, original, name, self._redaction)
        call.recording = await self._audio.put(name, download.chunks, download.content_type)
        call.consumed(UsageDelta(stored_bytes=call.recording.bytes))
        return None

    async def _store_redacted(
        self,
        call: Call,
        tenant: Tenant,
        original: StoredRecording,
        name: str,
        work: AudioRedaction,
    ) -> StageDone:
        """PCI DSS: a card number is never stored, in text or in sound. The original waits
        under a quarantine name while it is transcribed; the card numbers, expiries, security
        codes and SSNs the transcript's redaction finds are silenced where they were said;
        the silenced recording is what is stored, and the original is deleted."""
        transcript, spans = redact_with_audio_spans(
            await self._transcription(call, tenant, original)
        )
        attributes: dict[str, AttributeValue] = {
            "call_id": call.call_id,
            "spans_silenced": len(spans),
        }
        with self._tracer.span("audio_redaction", attributes):
            call.recording = await work.store_silenced(self._audio, original, spans, name)
        call.transcript = transcript
        call.consumed(UsageDelta(stored_bytes=call.recording.bytes))
        await self._audio.delete(original.uri)
        self._meter.silenced(spans)
        return StageDone(f"redacted recording stored: {silenced_note(spans)}")

    async def _discard_original(self, call: Call) -> None:
        """A call that fails while its recording is stored keeps no unredacted original."""
        if self._redaction is None:
            return
        with contextlib.suppress(Exception):  # best effort: the call's failure is the news
            uri = self._audio.uri_for(quarantine_object_name(call.tenant_id, call.call_id))
            await self._audio.delete(uri)

    async def _transcription(
        self, call: Call, tenant: Tenant, recording: StoredRecording
    ) -> Transcript:
        hint = transcription_hint(tenant)  # the business's name and trade words, heard right
        waiting = call.pending_transcription
        ticket = waiting.ticket if waiting is not None and waiting.recording == recording else None
        try:
            transcript = await self._transcriber.transcribe(recording, hint=hint, ticket=ticket)
        except TranscriptionPending as pending:
            call.pending_transcription = PendingTranscription(
                pending.ticket, recording, call.recording_url
            )
            raise
        call.pending_transcription = None
        audio_s = transcript.audio_duration_s or recording.duration_s or 0.0
        call.consumed(UsageDelta(audio_seconds=audio_s))
        return transcript

    async def _transcribe(self, call: Call, tenant: Tenant) -> StageSkipped | StageDone | None:
        if call.recording is None:
            return StageSkipped("no recording to transcribe")
        if call.transcript is not None:
            return StageDone("transcribed with the recording, to silence its card numbers")
        transcript = await self._transcription(call, tenant, call.recording)
        # Redacted before it is stored, analyzed or sent anywhere.
        call.transcript = redact_transcript(transcript) if tenant.config.redact_pii else transcript
        return None

    async def _analyze(self, call: Call, tenant: Tenant) -> StageSkipped | StageDone | None:
        call.analysis = await self._analyzer.analyze(
            call.transcript, call.metadata, tenant.config.ai
        )
        call.consumed(call.analysis.usage)  # the LLM's tokens, if it used one
        self._meter.discarded(call.analysis)  # a model's made-up quotes, wrong-typed answers
        return None

    async def _score(self, call: Call, tenant: Tenant) -> StageSkipped | StageDone | None:
        threshold = tenant.config.ai.lead_scoring_threshold
        call.lead_score = score_lead(call.analysis, call.metadata, threshold)
        return None

    async def _sync(self, call: Call, tenant: Tenant) -> StageSkipped | StageDone | None:
        gateway = await self._crm.for_tenant(tenant)
        if gateway is None:
            call.crm_sync = CrmSyncResult(tenant.config.crm.type, SyncStatus.SKIPPED)
            return StageSkipped("no CRM configured")
        request = build_sync_request(call, tenant)
        key = request.activity.idempotency_key
        previous = call.crm_sync.attempts if call.crm_sync else 0
        # The sync record is committed before the CRM is called: a crash between the CRM's
        # answer and our commit leaves a pending record whose key finds the activity next time.
        call.crm_sync = CrmSyncResult(
            gateway.crm_type, SyncStatus.PENDING, attempts=previous + 1, idempotency_key=key
        )
        await self._save(call)
        requests_before = gateway.api_calls
        try:
            existing = await gateway.find_activity(key)
            if existing is not None:
                # A re-run (reanalyze, a re-scored call) or a retry after the create: the one
                # activity is rewritten with what the call says now, never a second one.
                contact_id, activity_id = existing.contact_id, existing.activity_id
                await gateway.update_activity(activity_id, request.activity)
            else:
                contact_id = (
                    await gateway.upsert_contact(request.contact) if request.contact else None
                )
                activity_id = await gateway.create_activity(request.activity, contact_id)
        except (TransientFailure, PermanentFailure) as exc:
            status = SyncStatus.FAILED if isinstance(exc, PermanentFailure) else SyncStatus.PENDING
            call.crm_sync = attrs.evolve(call.crm_sync, status=status, error=str(exc))
            raise
        finally:
            call.consumed(UsageDelta(crm_api_calls=gateway.api_calls - requests_before))
        call.crm_sync = attrs.evolve(
            call.crm_sync,
            status=SyncStatus.SUCCESS,
            contact_id=contact_id,
            activity_id=activity_id,
            error=None,
        )
        return None

    async def _alert(self, call: Call, tenant: Tenant) -> StageSkipped | StageDone | None:
        """Never fails the call: a destination that cannot be reached is marked failed on it."""
        if self._alerts is None:
            return None
        note = await self._alerts(call, tenant, self._save)
        return StageDone(note) if note else None
