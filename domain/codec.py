"""Plain-data forms of the call and its parts: the call JSON of api.md, and the JSON that
adapters keep in their rows. Pure functions, so every store maps the same way."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from domain.alerts import AlertRecord, AlertStatus
from domain.call import Call, CallMetadata, Failure, StageEvent
from domain.results import (
    Answer,
    CallAnalysis,
    CrmSyncResult,
    Evidence,
    Intent,
    LeadScore,
    PendingTranscription,
    ScoreReason,
    Segment,
    Sentiment,
    StoredRecording,
    SyncStatus,
    Tier,
    Transcript,
    Urgency,
)
from domain.stages import Stage
from domain.stats import CallOutcome, outcome_answers
from domain.usage import UsageDelta


def iso(at: datetime | None) -> str | None:
    """at.isoformat(); the same text made faster for a UTC time (see utc_text)."""
    if at is None:
        return None
    return utc_text(at, fraction=bool(at.microsecond)) if at.tzinfo is UTC else at.isoformat()


def iso_microseconds(at: datetime) -> str:
    """at.isoformat(timespec="microseconds") in UTC: one width for every time, so the texts of
    two times sort as the times do (the SQLite adapter orders and compares them)."""
    if at.tzinfo is not UTC:
        at = at.astimezone(UTC)
    return utc_text(at, fraction=True)


def utc_text(at: datetime, *, fraction: bool) -> str:
    """The isoformat() text of `at`, a time in UTC, with or without its microseconds.

    datetime.isoformat costs ~11k interpreter instructions, half of them in writing the offset
    with sprintf; a webhook wrote six. This writes the second once (the next time within the
    same second comes from the cache) and the microseconds and "+00:00" as text."""
    second = _second_text(at.year, at.month, at.day, at.hour, at.minute, at.second)
    return f"{second}.{at.microsecond:06d}+00:00" if fraction else f"{second}+00:00"


@functools.lru_cache(maxsize=64)
def _second_text(year: int, month: int, day: int, hour: int, minute: int, second: int) -> str:
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"


def parse_time(text: Any) -> datetime | None:
    return datetime.fromisoformat(text) if isinstance(text, str) else None


def metadata_to_dict(m: CallMetadata) -> dict[str, Any]:
    return {
        "caller": m.caller,
        "caller_name": m.caller_name,
        "direction": m.direction,
        "duration_s": m.duration_s,
        "answered": m.answered,
        "first_call": m.first_call,
        "voicemail": m.voicemail,
        "source": m.source,
        "tracking_number": m.tracking_number,
        "business_number": m.business_number,
        "started_at": iso(m.started_at),
        "landing_page_url": m.landing_page_url,
        **({"marked_spam": True} if m.marked_spam else {}),
    }


def metadata_from_dict(d: Mapping[str, Any]) -> CallMetadata:
    return CallMetadata(**{**d, "started_at": parse_time(d.get("started_at"))})


def recording_to_dict(r: StoredRecording | None) -> dict[str, Any] | None:
    if r is None:
        return None
    return {
        "uri": r.uri,
        "bytes": r.bytes,
        "sha256": r.sha256,
        "content_type": r.content_type,
        "duration_s": r.duration_s,
        "redacted": r.redacted,
    }


def recording_from_dict(d: Mapping[str, Any] | None) -> StoredRecording | None:
    return StoredRecording(**d) if d else None


def pending_to_dict(p: PendingTranscription | None) -> dict[str, Any] | None:
    if p is None:
        return None
    return {"ticket": p.ticket, "recording": recording_to_dict(p.recording), "source": p.source}


def pending_from_dict(d: Mapping[str, Any] | None) -> PendingTranscription | None:
    if not d:
        return None
    recording = recording_from_dict(d["recording"])
    assert recording is not None
    return PendingTranscription(d["ticket"], recording, d.get("source"))


def transcript_to_dict(t: Transcript | None) -> dict[str, Any] | None:
    if t is None:
        return None
    return {
        "engine": t.engine,
        "language": t.language,
        "redacted": t.redacted,
        "text": t.text,
        "audio_duration_s": t.audio_duration_s,
        "segments": [
            {"speaker": s.speaker, "start_s": s.start_s, "end_s": s.end_s, "text": s.text}
            for s in t.segments
        ],
    }


def transcript_from_dict(d: Mapping[str, Any] | None) -> Transcript | None:
    if not d:
        return None
    return Transcript(
        engine=d["engine"],
        language=d["language"],
        text=d["text"],
        segments=tuple(Segment(**s) for s in d.get("segments", ())),
        redacted=bool(d.get("redacted")),
        audio_duration_s=d.get("audio_duration_s"),
    )


def analysis_to_dict(a: CallAnalysis | None) -> dict[str, Any] | None:
    if a is None:
        return None
    return {
        "engine": a.engine,
        "summary": a.summary,
        "intent": a.intent.value,
        "sentiment": a.sentiment.value,
        "urgency": a.urgency.value,
        "service_requested": a.service_requested,
        "appointment_booked": a.appointment_booked,
        "caller_name": a.caller_name,
        "caller_email": a.caller_email,
        "is_spam": a.is_spam,
        "is_existing_customer": a.is_existing_customer,
        "key_phrases": list(a.key_phrases),
        "answers": {answer.key: answer.value for answer in a.answers},
        "evidence": {e.signal: {"quote": e.quote, "at_s": e.at_s} for e in a.evidence},
        **({"notes": list(a.notes)} if a.notes else {}),
        **_tokens(a),
    }


def _tokens(a: CallAnalysis) -> dict[str, Any]:
    """The LLM tokens this analysis cost, when a model produced it (per call, for chargeback)."""
    if not (a.usage.llm_tokens_in or a.usage.llm_tokens_out):
        return {}
    return {"tokens": {"input": a.usage.llm_tokens_in, "output": a.usage.llm_tokens_out}}


def analysis_from_dict(d: Mapping[str, Any] | None) -> CallAnalysis | None:
    if not d:
        return None
    fields = {k: v for k, v in d.items() if k not in ("tokens", "answers", "evidence", "notes")}
    tokens = d.get("tokens") or {}
    answers = d.get("answers") or {}
    evidence = d.get("evidence") or {}
    return CallAnalysis(
        **{
            **fields,
            "intent": Intent(d["intent"]),
            "sentiment": Sentiment(d["sentiment"]),
            "urgency": Urgency(d["urgency"]),
            "key_phrases": tuple(d.get("key_phrases", ())),
            "answers": tuple(Answer(k, v) for k, v in answers.items()),
            "evidence": tuple(Evidence(k, e["quote"], e.get("at_s")) for k, e in evidence.items()),
            "notes": tuple(d.get("notes", ())),
            "usage": UsageDelta(
                llm_tokens_in=int(tokens.get("input", 0)),
                llm_tokens_out=int(tokens.get("output", 0)),
            ),
        }
    )


def score_to_dict(s: LeadScore | None) -> dict[str, Any] | None:
    if s is None:
        return None
    return {
        "score": s.score,
        "tier": s.tier.value,
        "qualified": s.qualified,
        "threshold": s.threshold,
        "version": s.version,
        "reasons": [
            {
                "factor": r.factor,
                "points": r.points,
                "detail": r.detail,
                "quote": r.quote,
                "at_s": r.at_s,
            }
            for r in s.reasons
        ],
    }


def score_from_dict(d: Mapping[str, Any] | None) -> LeadScore | None:
    if not d:
        return None
    return LeadScore(
        score=d["score"],
        tier=Tier(d["tier"]),
        qualified=d["qualified"],
        threshold=d["threshold"],
        version=d["version"],
        reasons=tuple(ScoreReason(**r) for r in d.get("reasons", ())),
    )


def crm_to_dict(c: CrmSyncResult | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {
        "type": c.type,
        "status": c.status.value,
        "contact_id": c.contact_id,
        "activity_id": c.activity_id,
        "attempts": c.attempts,
        "error": c.error,
    }


def crm_from_dict(d: Mapping[str, Any] | None) -> CrmSyncResult | None:
    return CrmSyncResult(**{**d, "status": SyncStatus(d["status"])}) if d else None


def alerts_to_list(records: tuple[AlertRecord, ...]) -> list[dict[str, Any]]:
    """api.md: `alerts: [{destination, status, at}]`, with the type, attempts and last error."""
    return [
        {
            "destination": r.destination,
            "type": r.type,
            "status": r.status.value,
            "at": iso(r.at),
            "attempts": r.attempts,
            "error": r.error,
        }
        for r in records
    ]


def alerts_from_list(items: list[Mapping[str, Any]] | None) -> tuple[AlertRecord, ...]:
    return tuple(
        AlertRecord(
            destination=i["destination"],
            type=i["type"],
            status=AlertStatus(i["status"]),
            at=datetime.fromisoformat(i["at"]),
            attempts=int(i.get("attempts", 0)),
            error=i.get("error"),
        )
        for i in items or ()
    )


def failure_to_dict(f: Failure | None) -> dict[str, Any] | None:
    if f is None:
        return None
    return {"stage": f.stage.value, "reason": f.reason, "transient": f.transient}


def failure_from_dict(d: Mapping[str, Any] | None) -> Failure | None:
    return Failure(Stage(d["stage"]), d["reason"], bool(d.get("transient"))) if d else None


def timeline_to_list(events: list[StageEvent]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for e in events:
        item: dict[str, Any] = {
            "stage": e.stage.value,
            "at": iso(e.at),
            "duration_ms": e.duration_ms,
        }
        if e.skipped:
            item["skipped"] = True
        if e.note:
            item["note"] = e.note
        out.append(item)
    return out


def timeline_from_list(items: list[Mapping[str, Any]]) -> list[StageEvent]:
    return [
        StageEvent(
            Stage(i["stage"]),
            datetime.fromisoformat(i["at"]),
            i.get("duration_ms"),
            bool(i.get("skipped")),
            i.get("note"),
        )
        for i in items
    ]


def call_document(call: Call) -> dict[str, Any]:
    """The call as `GET .../calls/{call_id}` shows it (api.md)."""
    return {
        "tenant_id": call.tenant_id,
        "call_id": call.call_id,
        "status": call.status,
        "stage": call.stage.value,
        "received_at": iso(call.received_at),
        "completed_at": iso(call.completed_at),
        "processing_time_ms": call.processing_time_ms,
        "attempts": call.attempts,
        "metadata": metadata_to_dict(call.metadata),
        "recording": recording_to_dict(call.recording),
        "transcript": transcript_to_dict(call.transcript),
        "analysis": analysis_to_dict(call.analysis),
        "lead_score": score_to_dict(call.lead_score),
        "crm_sync": crm_to_dict(call.crm_sync),
        "alerts": alerts_to_list(call.alerts),
        "failure": failure_to_dict(call.failure),
        "timeline": timeline_to_list(call.timeline),
    }


# A call's row in every store (sql/*/): its key, then the rest, in the schemas' order.
# fmt: off
CALL_COLUMNS = (
    "tenant_id", "call_id", "stage", "received_at", "completed_at", "attempts", "metadata",
    "recording_url", "raw_payload", "recording", "transcript", "analysis", "lead_score",
    "crm_sync", "failure", "timeline", "lease_owner", "lease_expires_at", "version", "updated_at",
    "alerts", "pending_transcription",
)
# fmt: on


class Columns(Protocol):
    """A row read back, by column name (a dict, an sqlite3.Row)."""

    def __getitem__(self, name: str, /) -> Any: ...


def last_activity(call: Call) -> datetime:
    """The sweep's clock: the call's last recorded event, in the domain's time."""
    return call.timeline[-1].at if call.timeline else call.received_at


def call_row(
    call: Call, *, time: Callable[[datetime], Any], json: Callable[[Any], Any]
) -> dict[str, Any]:
    """The call as the columns of its row, by name: the store writes a time with `time` and
    a part (the JSON form of this module) with `json`; None stays None. updated_at is the
    call's last activity."""

    def at(value: datetime | None) -> Any:
        return None if value is None else time(value)

    def part(value: Any) -> Any:
        return None if value is None else json(value)

    return {
        "tenant_id": call.tenant_id,
        "call_id": call.call_id,
        "stage": call.stage.value,
        "received_at": time(call.received_at),
        "completed_at": at(call.completed_at),
        "attempts": call.attempts,
        "metadata": json(metadata_to_dict(call.metadata)),
        "recording_url": call.recording_url,
        "raw_payload": json(call.raw_payload),
        "recording": part(recording_to_dict(call.recording)),
        "transcript": part(transcript_to_dict(call.transcript)),
        "analysis": part(analysis_to_dict(call.analysis)),
        "lead_score": part(score_to_dict(call.lead_score)),
        "crm_sync": part(crm_to_dict(call.crm_sync)),
        "failure": part(failure_to_dict(call.failure)),
        "timeline": json(timeline_to_list(call.timeline)),
        "lease_owner": call.lease_owner,
        "lease_expires_at": at(call.lease_expires_at),
        "version": call.version,
        "updated_at": time(last_activity(call)),
        "alerts": part(alerts_to_list(call.alerts) or None),
        "pending_transcription": part(pending_to_dict(call.pending_transcription)),
    }


def call_from_row(
    row: Columns, *, time: Callable[[Any], datetime], json: Callable[[Any], Any]
) -> Call:
    """The call of a row read back: the store reads a time with `time` and a part with
    `json`; NULL stays None."""

    def at(column: str) -> datetime | None:
        return None if row[column] is None else time(row[column])

    def part(column: str) -> Any:
        return None if row[column] is None else json(row[column])

    return Call(
        tenant_id=row["tenant_id"],
        call_id=row["call_id"],
        received_at=time(row["received_at"]),
        metadata=metadata_from_dict(json(row["metadata"])),
        recording_url=row["recording_url"],
        raw_payload=json(row["raw_payload"]),
        stage=Stage(row["stage"]),
        attempts=row["attempts"],
        completed_at=at("completed_at"),
        recording=recording_from_dict(part("recording")),
        transcript=transcript_from_dict(part("transcript")),
        analysis=analysis_from_dict(part("analysis")),
        lead_score=score_from_dict(part("lead_score")),
        crm_sync=crm_from_dict(part("crm_sync")),
        alerts=alerts_from_list(part("alerts")),
        failure=failure_from_dict(part("failure")),
        pending_transcription=pending_from_dict(part("pending_transcription")),
        timeline=timeline_from_list(json(row["timeline"])),
        lease_owner=row["lease_owner"],
        lease_expires_at=at("lease_expires_at"),
        version=row["version"],
    )


def outcome_from_row(
    row: Sequence[Any], *, time: Callable[[Any], datetime], json: Callable[[Any], Any]
) -> CallOutcome:
    """A call's outcome (what stats count) of a row the stores project: call_id, stage,
    received_at, completed_at, then from the JSON columns the failure's stage, the score's
    tier, the CRM sync's type and status, and the analysis's answers. The store reads a time
    with `time` and the answers with `json`; NULL stays None."""
    return CallOutcome(
        call_id=row[0],
        stage=Stage(row[1]),
        received_at=time(row[2]),
        completed_at=None if row[3] is None else time(row[3]),
        failed_stage=Stage(row[4]) if row[4] else None,
        tier=Tier(row[5]) if row[5] else None,
        crm_type=row[6],
        crm_status=SyncStatus(row[7]) if row[7] else None,
        answers=outcome_answers(json(row[8])) if row[8] else (),
    )
