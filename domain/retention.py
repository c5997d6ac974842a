"""Retention and erasure: what of a call is expired at a given time, what erasing it leaves, the
audio objects a call or a tenant owns, and the record every deletion leaves (no personal data).

Kept for statistics until the call itself is deleted: the call's metadata as CallRail sent it
(times, duration, direction, source, numbers), its stage and timeline, its lead score (score,
tier, qualified, threshold, the factors and their points), its CRM sync record and alerts. Erased
with the transcripts: the transcript, the analysis, the webhook's raw body (it may carry
CallRail's own transcription) and the score reasons' free-text details (they quote the call).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import attrs

from domain.call import QUARANTINE_PREFIX, Call, StageEvent, call_objects_prefix
from domain.errors import FieldError, unknown_keys
from domain.results import ScoreReason

RETENTION_KEYS = ("recordings_days", "transcripts_days")
MAX_DAYS = 36500
RECORDING_DELETED = "recording deleted: retention"
CONTENT_ERASED = "transcript and analysis erased: retention"


@attrs.frozen
class RetentionPolicy:
    """Days to keep a call's recording, and its transcript and analysis; None keeps them."""

    recordings_days: int | None = None
    transcripts_days: int | None = None

    def cutoffs(self, now: datetime) -> tuple[datetime | None, datetime | None]:
        """(recordings received before this expire, contents received before this expire)."""
        return _before(now, self.recordings_days), _before(now, self.transcripts_days)


def _before(now: datetime, days: int | None) -> datetime | None:
    return None if days is None else now - timedelta(days=days)


def parse_retention(raw: Any, errors: list[FieldError], *, strict: bool) -> RetentionPolicy:
    """`config.retention`. Strict: unknown keys refused by name."""
    if not isinstance(raw, Mapping):
        errors.append(FieldError("config.retention", "an object"))
        return RetentionPolicy()
    if strict:
        errors.extend(unknown_keys(raw, RETENTION_KEYS, "config.retention", "a retention setting"))
    days = [_days(raw.get(key), f"config.retention.{key}", errors) for key in RETENTION_KEYS]
    return RetentionPolicy(days[0], days[1])


def _days(value: Any, path: str, errors: list[FieldError]) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DAYS:
        errors.append(FieldError(path, f"a whole number of days from 1 to {MAX_DAYS}, or null"))
        return None
    return value


def retention_document(policy: RetentionPolicy) -> dict[str, int]:
    return {
        key: days
        for key, days in zip(
            RETENTION_KEYS, (policy.recordings_days, policy.transcripts_days), strict=True
        )
        if days is not None
    }


@attrs.frozen
class Expiry:
    recording: bool = False
    content: bool = False

    def __bool__(self) -> bool:
        return self.recording or self.content


def holds_content(call: Call) -> bool:
    reasons = call.lead_score.reasons if call.lead_score else ()
    return bool(
        call.transcript
        or call.analysis
        or call.raw_payload
        or any(r.detail or r.quote for r in reasons)
    )


def expiry_of(call: Call, policy: RetentionPolicy, now: datetime) -> Expiry:
    """What of a finished call is past its tenant's retention at `now` and still held. A call
    still in the pipeline keeps everything until it finishes."""
    return expiry_before(call, *policy.cutoffs(now))


def expiry_before(
    call: Call, recordings_before: datetime | None, content_before: datetime | None
) -> Expiry:
    """expiry_of with the policy's cutoffs given (None: kept), as a store's query takes them."""
    if not call.stage.terminal:
        return Expiry()
    return Expiry(
        recording=recordings_before is not None
        and call.received_at < recordings_before
        and (call.recording is not None or call.recording_url is not None),
        content=content_before is not None
        and call.received_at < content_before
        and holds_content(call),
    )


def erase_recording(call: Call, at: datetime) -> None:
    """The call no longer points at audio (its objects are deleted by the caller), nor at
    CallRail's copy of it."""
    call.recording = None
    call.recording_url = None
    call.timeline.append(StageEvent(call.stage, at, note=RECORDING_DELETED))


def erase_content(call: Call, at: datetime) -> None:
    call.transcript = None
    call.analysis = None
    call.raw_payload = {}
    if call.lead_score is not None:
        # Only the factor and its points stay: a reason's detail and quote are the call's words.
        reasons = tuple(ScoreReason(r.factor, r.points, "") for r in call.lead_score.reasons)
        call.lead_score = attrs.evolve(call.lead_score, reasons=reasons)
    call.timeline.append(StageEvent(call.stage, at, note=CONTENT_ERASED))


# --- the audio a call or a tenant owns ---------------------------------------------------------


def object_prefixes(tenant_id: str, call_id: str | None = None) -> tuple[str, str]:
    """Name prefixes under which the objects of a call (or of every call of a tenant) are:
    recordings, redacted copies, and the quarantined original."""
    tail = call_objects_prefix(tenant_id, call_id)
    return tail, QUARANTINE_PREFIX + tail


def owns_object(name: str, tenant_id: str, call_id: str | None = None) -> bool:
    """Whether `name` is one of the tenant's (call's) objects. Read by its parts, not its
    prefix: tenant "quarantine"'s recordings and tenant "calls"' quarantine share one."""
    parts = name.split("/")
    if len(parts) == 5 and parts[0] + "/" == QUARANTINE_PREFIX:
        parts = parts[1:]
    elif len(parts) != 4:
        return False
    owner, calls, call, _ = parts
    return owner == tenant_id and calls == "calls" and call_id in (None, call)


# --- the record of a deletion ------------------------------------------------------------------

CALL_DELETED = "call.deleted"
TENANT_DELETED = "tenant.deleted"
CALLS_DELETED = "tenant.calls_deleted"  # a page of a tenant's calls, on the way to the tenant
RECORDING_EXPIRED = "call.recording_expired"
CONTENT_EXPIRED = "call.content_expired"


def call_reference(tenant_id: str, call_id: str) -> str:
    """What a deletion record names a call by: not its id (a scan for the id finds nothing
    once the call is gone), yet the same call always gives the same reference, so an operator
    who has the id can find its record."""
    digest = hashlib.sha256(f"{tenant_id}/{call_id}".encode()).hexdigest()
    return f"sha256:{digest[:32]}"


@attrs.frozen
class DeletionRecord:
    """Who deleted what and when. `subject` is a call_reference or None (the whole tenant);
    `counts` how many of each thing went (calls, objects, jobs, api_keys, usage_days)."""

    record_id: str
    at: datetime
    actor: str
    action: str
    tenant_id: str
    subject: str | None = None
    counts: Mapping[str, int] = attrs.field(factory=dict)
