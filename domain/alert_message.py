"""What a hot-lead alert says. The domain decides; the senders only put it in their format.

It carries the summary, score, tier, top reasons, the caller's name when known, the caller's
number with all but its last four digits masked, and the call's API link. Never transcript text
beyond the summary, never a card number: free text is redacted again (the tenant may not redact
its transcripts) and any run of seven or more digits is removed."""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import quote

import attrs

from domain.call import Call
from domain.redaction import redact_text

TOP_REASONS = 3
MAX_SUMMARY = 600
# Seven or more digits, however spaced or dashed: a phone number, a card, an account number.
_LONG_NUMBER = re.compile(r"\+?\d(?:[\s().-]{0,2}\d){6,}")


@attrs.frozen
class AlertReason:
    factor: str
    points: int
    detail: str


@attrs.frozen
class AlertMessage:
    alert_id: str  # tenant:call: the same on every resend, so a receiver can drop a repeat
    tenant_id: str
    call_id: str
    score: int
    tier: str
    intent: str | None
    summary: str
    reasons: tuple[AlertReason, ...]
    caller_name: str | None
    caller_number: str | None  # masked: ***-***-0142
    link: str
    occurred_at: datetime

    @property
    def headline(self) -> str:
        who = self.caller_name or self.caller_number or "a caller"
        return f"Hot lead: {who} (score {self.score}, {self.tier})"


def clean_text(text: str) -> str:
    """Free text fit for an alert: PII markers in place of card data, no long numbers."""
    redacted, _ = redact_text(text)
    return _LONG_NUMBER.sub("[number removed]", redacted)


def mask_number(number: str | None) -> str | None:
    """All but the last four digits masked; None when there is no number."""
    digits = re.sub(r"\D", "", number or "")
    if not digits:
        return None
    return f"***-***-{digits[-4:]}" if len(digits) > 4 else "***"


def call_link(public_url: str, tenant_id: str, call_id: str) -> str:
    base = public_url.rstrip("/")
    return f"{base}/v1/tenants/{quote(tenant_id, safe='')}/calls/{quote(call_id, safe='')}"


def build_alert_message(call: Call, public_url: str) -> AlertMessage:
    """The alert for a scored call (the caller checked should_alert)."""
    score, analysis = call.lead_score, call.analysis
    assert score is not None
    ranked = sorted((r for r in score.reasons if r.points > 0), key=lambda r: -r.points)
    reasons = tuple(
        AlertReason(r.factor, r.points, clean_text(r.detail)) for r in ranked[:TOP_REASONS]
    )
    summary = clean_text(analysis.summary if analysis else "")
    if len(summary) > MAX_SUMMARY:
        summary = summary[: MAX_SUMMARY - 3].rstrip() + "..."
    name = (analysis.caller_name if analysis else None) or call.metadata.caller_name
    return AlertMessage(
        alert_id=f"{call.tenant_id}:{call.call_id}",
        tenant_id=call.tenant_id,
        call_id=call.call_id,
        score=score.score,
        tier=score.tier.value,
        intent=analysis.intent.value if analysis else None,
        summary=summary,
        reasons=reasons,
        caller_name=clean_text(name).strip() or None if name else None,
        caller_number=mask_number(call.metadata.caller),
        link=call_link(public_url, call.tenant_id, call.call_id),
        occurred_at=call.metadata.started_at or call.received_at,
    )
