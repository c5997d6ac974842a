"""What a CRM sync contains. The domain decides; CRM adapters only translate.

A sync is a contact (found by phone, created or updated) and one call activity on it, keyed by
an idempotency key so that a retry finds the activity it already created instead of making a
second one."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import attrs

from domain.call import Call
from domain.questions import FIELD_NAME, answer_text
from domain.results import AnswerValue, CallAnalysis, LeadScore, ScoreReason
from domain.tenant import Tenant


@attrs.frozen
class CrmContact:
    phone: str  # E.164
    name: str | None = None
    email: str | None = None
    lead_status: str | None = None  # the tenant's value for this tier, when it maps one


@attrs.frozen
class CrmActivity:
    idempotency_key: str
    title: str
    body: str
    occurred_at: datetime
    direction: str  # inbound | outbound
    duration_s: int
    answered: bool
    from_number: str | None
    to_number: str | None
    recording_url: str | None = None
    score: int | None = None
    tier: str | None = None
    # Custom questions' answers into the CRM's own properties (crm_config.answer_property_map:
    # question key -> property or field name), for the answers given.
    answer_fields: tuple[tuple[str, AnswerValue], ...] = ()


@attrs.frozen
class CrmSyncRequest:
    contact: CrmContact | None  # None when the caller's number is withheld
    activity: CrmActivity


@attrs.frozen
class ActivityRef:
    activity_id: str
    contact_id: str | None


def idempotency_key(call: Call) -> str:
    return f"{call.tenant_id}:{call.call_id}"


def _score_lines(score: LeadScore | None) -> list[str]:
    if score is None:
        return []
    lines = [
        f"Lead score: {score.score}/100 ({score.tier.value}, "
        f"{'qualified' if score.qualified else 'not qualified'} at {score.threshold})"
    ]
    lines += [_reason_line(r) for r in score.reasons]
    return lines


def _reason_line(reason: ScoreReason) -> str:
    """A reason and the words behind it: "+25 urgency: ... - "water everywhere" (at 0:41)"."""
    line = f"  {reason.points:+d} {reason.factor}: {reason.detail}"
    if reason.quote:
        line += f' — "{reason.quote}"'
        if reason.at_s is not None:
            whole = int(reason.at_s)
            line += f" (at {whole // 60}:{whole % 60:02d})"
    return line


def _answer_lines(analysis: CallAnalysis | None) -> list[str]:
    if analysis is None or not analysis.answers:
        return []
    return ["Answers:"] + [f"  {a.key}: {answer_text(a.value)}" for a in analysis.answers]


def _answer_fields(
    analysis: CallAnalysis | None, settings: Mapping[str, object]
) -> tuple[tuple[str, AnswerValue], ...]:
    mapping = settings.get("answer_property_map")
    if analysis is None or not isinstance(mapping, Mapping):
        return ()
    given = analysis.answers_by_key()
    return tuple(
        (name, given[key])
        for key, name in mapping.items()
        if isinstance(name, str) and FIELD_NAME.match(name) and given.get(key) is not None
    )


def build_sync_request(call: Call, tenant: Tenant) -> CrmSyncRequest:
    settings: Mapping[str, object] = tenant.config.crm.settings
    analysis, score, m = call.analysis, call.lead_score, call.metadata
    statuses = settings.get("lead_status_by_tier")
    lead_status = None
    if isinstance(statuses, Mapping) and score is not None:
        value = statuses.get(score.tier.value)
        lead_status = value if isinstance(value, str) else None
    contact = None
    if m.caller:
        name = (analysis.caller_name if analysis else None) or m.caller_name
        contact = CrmContact(
            m.caller, name, analysis.caller_email if analysis else None, lead_status
        )
    intent = analysis.intent.value.replace("_", " ") if analysis else "unknown"
    title = f"{m.direction.title()} call: {intent}"
    if score is not None:
        title += f" ({score.tier.value}, {score.score})"
    body_lines = [analysis.summary] if analysis and analysis.summary else []
    if analysis is not None:
        body_lines.append(
            f"Intent: {intent}; urgency {analysis.urgency.value}; "
            f"sentiment {analysis.sentiment.value}"
        )
        if analysis.service_requested:
            body_lines.append(f"Service requested: {analysis.service_requested}")
        if analysis.appointment_booked:
            body_lines.append("Appointment booked on the call")
    body_lines += _score_lines(score)
    body_lines += _answer_lines(analysis)
    if m.source:
        body_lines.append(f"Source: {m.source}")
    body_lines.append(f"CallRail call {call.call_id}")
    share_recording = settings.get("include_recording_link") is True
    activity = CrmActivity(
        idempotency_key=idempotency_key(call),
        title=title,
        body="\n".join(body_lines),
        occurred_at=m.started_at or call.received_at,
        direction=m.direction,
        duration_s=m.duration_s or 0,
        answered=bool(m.answered),
        from_number=m.caller if m.direction == "inbound" else m.tracking_number,
        to_number=m.tracking_number if m.direction == "inbound" else m.caller,
        recording_url=call.recording_url if share_recording else None,
        score=score.score if score else None,
        tier=score.tier.value if score else None,
        answer_fields=_answer_fields(analysis, settings),
    )
    return CrmSyncRequest(contact, activity)
