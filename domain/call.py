"""The Call aggregate: what CallRail told us, and what each stage has made of it since."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import attrs

from domain.alerts import AlertRecord
from domain.errors import IllegalTransition, LeaseHeld
from domain.results import (
    CallAnalysis,
    CrmSyncResult,
    LeadScore,
    PendingTranscription,
    StoredRecording,
    Transcript,
)
from domain.stages import PIPELINE, Stage, check_restart, check_transition, status_of
from domain.usage import NO_USAGE, UsageDelta


def call_objects_prefix(tenant_id: str, call_id: str | None = None) -> str:
    """Where a call's objects are named (architecture.md): `{tenant_id}/calls/{call_id}/`;
    without a call, the prefix of all the tenant's calls."""
    return f"{tenant_id}/calls/" + (f"{call_id}/" if call_id is not None else "")


def recording_object_name(tenant_id: str, call_id: str, extension: str) -> str:
    """architecture.md: `{tenant_id}/calls/{call_id}/recording.{ext}`."""
    return f"{call_objects_prefix(tenant_id, call_id)}recording.{extension}"


def redacted_object_name(tenant_id: str, call_id: str, extension: str) -> str:
    """A recording stored before audio redaction, silenced later (`calls redact-audio`): a
    name of its own, so the original is deleted only once the call points here."""
    return f"{call_objects_prefix(tenant_id, call_id)}recording-redacted.{extension}"


QUARANTINE_PREFIX = "quarantine/"


def quarantine_object_name(tenant_id: str, call_id: str) -> str:
    """Where a recording waits, unredacted, only while it is transcribed and redacted: one
    name a call, whatever the format, so a failed call's original can always be deleted. In
    Cloud Storage the deploy script gives this prefix a one-day lifecycle rule as well."""
    return f"{QUARANTINE_PREFIX}{call_objects_prefix(tenant_id, call_id)}original"


@attrs.frozen
class CallMetadata:
    caller: str | None = None
    caller_name: str | None = None
    direction: str = "inbound"
    duration_s: int | None = None
    answered: bool | None = None
    first_call: bool | None = None
    voicemail: bool = False
    source: str | None = None
    tracking_number: str | None = None
    business_number: str | None = None
    started_at: datetime | None = None
    landing_page_url: str | None = None
    # A person marked the call spam in CallRail (its Call Modified webhook): scored spam.
    marked_spam: bool = False


class RawPayload(dict[str, Any]):
    """A webhook's body as read, with the JSON text it was read from, so the body is stored as
    CallRail sent it instead of being written out again. `text` reads back (json.loads) as
    this dict, so the dict cannot be changed: what would change it raises TypeError (the lists
    and objects in it, shared as a call's copies share them, are no one's to change either)."""

    __slots__ = ("text",)

    def __init__(self, payload: Mapping[str, Any], text: str):
        super().__init__(payload)
        self.text = text

    def __reduce__(self) -> tuple[type[RawPayload], tuple[dict[str, Any], str]]:
        return RawPayload, (dict(self), self.text)  # copies and pickles without changing one

    def _unchangeable(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("a webhook's raw payload is kept as it came: copy it to change it")

    __setitem__ = __delitem__ = __ior__ = _unchangeable
    clear = pop = popitem = setdefault = update = _unchangeable


@attrs.frozen
class IncomingCall:
    """A webhook body, parsed. `raw` keeps every field CallRail sent, unknown ones included."""

    call_id: str
    metadata: CallMetadata
    recording_url: str | None
    company_ids: tuple[str, ...] = ()
    tenant_hint: str | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict)
    # CallRail's Call Modified body: the fields it names as changed (its `changes` list);
    # None for every other body (post-call, pre-call, the flat form, reconciliation).
    changes: tuple[str, ...] | None = None


@attrs.frozen
class StageEvent:
    stage: Stage
    at: datetime
    duration_ms: int | None = None
    skipped: bool = False
    note: str | None = None


@attrs.frozen
class Failure:
    stage: Stage
    reason: str
    transient: bool = False


def _after(stage: Stage, other: Stage | None) -> bool:
    """`stage` comes later in the pipeline than `other` (False if either is not in it)."""
    if other not in PIPELINE or stage not in PIPELINE:
        return False
    return PIPELINE.index(stage) > PIPELINE.index(other)


@attrs.define(eq=False)
class Call:
    """Entity: equal by identity, (tenant_id, call_id)."""

    tenant_id: str
    call_id: str
    received_at: datetime
    metadata: CallMetadata
    recording_url: str | None = None
    raw_payload: Mapping[str, Any] = attrs.field(factory=dict)
    stage: Stage = Stage.RECEIVED
    attempts: int = 0
    completed_at: datetime | None = None
    recording: StoredRecording | None = None
    transcript: Transcript | None = None
    analysis: CallAnalysis | None = None
    lead_score: LeadScore | None = None
    crm_sync: CrmSyncResult | None = None
    # One record a destination of a hot-lead alert, kept across re-runs: a destination already
    # sent to is never sent to again (domain/usecases/alerting.py).
    alerts: tuple[AlertRecord, ...] = ()
    failure: Failure | None = None
    # A transcription the engine answers later (dynamic batching): collected, not paid for
    # twice, by the attempts that follow; gone once the transcript is in.
    pending_transcription: PendingTranscription | None = None
    timeline: list[StageEvent] = attrs.field(factory=list)
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    version: int = 0
    # What processing consumed since the call was last saved: the next save records it, in the
    # same unit of work, and clears it. Never stored with the call.
    unsaved_usage: UsageDelta = NO_USAGE

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Call):
            return NotImplemented
        return (self.tenant_id, self.call_id) == (other.tenant_id, other.call_id)

    def __hash__(self) -> int:
        return hash((self.tenant_id, self.call_id))

    def copy(self) -> Call:
        """An independent copy, as a store keeps one: the timeline is the only part of a call
        changed in place; every other field is an immutable value (raw_payload a mapping no one
        writes to) and is shared. The usage not yet recorded is not part of it."""
        return attrs.evolve(self, timeline=list(self.timeline), unsaved_usage=NO_USAGE)

    @classmethod
    def receive(cls, tenant_id: str, incoming: IncomingCall, at: datetime) -> Call:
        return cls(
            tenant_id=tenant_id,
            call_id=incoming.call_id,
            received_at=at,
            metadata=incoming.metadata,
            recording_url=incoming.recording_url,
            # A RawPayload is no one's to change: shared, not copied.
            raw_payload=raw if type(raw := incoming.raw) is RawPayload else dict(raw),
            timeline=[StageEvent(Stage.RECEIVED, at)],
        )

    @property
    def status(self) -> str:
        return status_of(self.stage)

    @property
    def processing_time_ms(self) -> int | None:
        if self.completed_at is None:
            return None
        return int((self.completed_at - self.received_at).total_seconds() * 1000)

    def advance(
        self,
        to: Stage,
        at: datetime,
        *,
        duration_ms: int | None = None,
        skipped: bool = False,
        note: str | None = None,
    ) -> None:
        if to is Stage.FAILED:
            raise IllegalTransition("use fail() to fail a call, with its reason")
        check_transition(self.stage, to)
        self.stage = to
        self.timeline.append(StageEvent(to, at, duration_ms, skipped, note))
        if to is Stage.COMPLETED:
            self.completed_at = at

    def fail(self, at_stage: Stage, reason: str, at: datetime) -> None:
        check_transition(self.stage, Stage.FAILED)
        self.failure = Failure(stage=at_stage, reason=reason)
        self.stage = Stage.FAILED
        self.timeline.append(StageEvent(Stage.FAILED, at, note=reason))
        self.completed_at = at

    def failed_before(self, stage: Stage) -> Stage | None:
        """The stage a FAILED call failed at, when it comes before `stage`: the stages from
        there on would run on results it never had (an analysis of a transcript never made),
        so it cannot be restarted from `stage`."""
        failed_at = self.failure.stage if self.stage is Stage.FAILED and self.failure else None
        return failed_at if _after(stage, failed_at) else None

    def restart_from(
        self, first_stage_to_redo: Stage, at: datetime, note: str | None = None
    ) -> None:
        """A failed call restarts at most from the stage it failed at (failed_before)."""
        if (failed_at := self.failed_before(first_stage_to_redo)) is not None:
            raise IllegalTransition(
                f"the call failed at {failed_at}: re-run it from {failed_at} or an earlier stage,"
                f" not {first_stage_to_redo}"
            )
        self.stage = check_restart(self.stage, first_stage_to_redo)
        self._forget_results_from(first_stage_to_redo)
        self.release_lease()
        self.failure = None
        self.completed_at = None
        self.attempts = 0
        note = note or f"reprocess from {first_stage_to_redo}"
        self.timeline.append(StageEvent(self.stage, at, note=note))

    def _forget_results_from(self, first_stage_to_redo: Stage) -> None:
        """Drops what the stages to be redone produced. crm_sync is kept: its idempotency key
        lets a re-run find the activity already made. alerts are kept: a destination already
        sent to is not sent to again."""
        redo = PIPELINE[PIPELINE.index(first_stage_to_redo) :]
        if Stage.RECORDING_STORED in redo:
            self.recording = None
        if Stage.TRANSCRIBED in redo:
            self.transcript = None
            self.pending_transcription = None  # of a recording that may have changed
        if Stage.ANALYZED in redo:
            self.analysis = None
        if Stage.SCORED in redo:
            self.lead_score = None

    def redo_from(self, first_stage_to_redo: Stage, at: datetime, note: str) -> bool:
        """CallRail changed the call (Call Modified): the stages from `first_stage_to_redo` on
        are done again. A finished call is restarted as restart_from does (True: it needs a
        job). A call still in progress is put back only if it got that far, and keeps its
        lease, attempts and job: the worker holding it finds its next save refused (the version
        moved on) and the job's next delivery resumes from here once that lease is free, so
        no side effect of the old run overlaps the new one."""
        if self.stage.terminal:
            self.restart_from(first_stage_to_redo, at, note)
            return True
        back_to = PIPELINE[PIPELINE.index(first_stage_to_redo) - 1]
        if PIPELINE.index(self.stage) > PIPELINE.index(back_to):
            self._forget_results_from(first_stage_to_redo)
            self.stage = back_to
            self.timeline.append(StageEvent(back_to, at, note=note))
        return False

    def take_lease(self, owner: str, now: datetime, ttl_s: float) -> None:
        """One worker at a time: a lease still held by another worker refuses."""
        until = self.lease_expires_at
        if self.lease_owner not in (None, owner) and until is not None and until > now:
            raise LeaseHeld(f"call {self.call_id} is being processed by another worker", until)
        self.lease_owner = owner
        self.lease_expires_at = now + timedelta(seconds=ttl_s)

    def renew_lease(self, now: datetime, ttl_s: float) -> None:
        if self.lease_owner is not None:
            self.lease_expires_at = now + timedelta(seconds=ttl_s)

    def release_lease(self) -> None:
        self.lease_owner = None
        self.lease_expires_at = None

    def consumed(self, usage: UsageDelta) -> None:
        """Metered work done for this call (bytes stored, audio transcribed, tokens, CRM
        requests), to be recorded with the call's next save."""
        self.unsaved_usage += usage

    def note_transient_failure(self, stage: Stage, reason: str) -> None:
        """The last error of a call that will be retried; it stays in its stage."""
        self.failure = Failure(stage=stage, reason=reason, transient=True)
