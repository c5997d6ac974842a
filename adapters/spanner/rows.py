"""Rows and domain objects: the column lists, one mapping function each way per table, and
typed query parameters. The parts of a call are stored as JSON in the forms of domain.codec."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

import attrs
from google.cloud import spanner
from google.cloud.spanner_v1 import JsonObject, param_types

from domain import codec
from domain.apikeys import ApiKey
from domain.call import Call
from domain.jobs import Job
from domain.stages import Stage
from domain.tenant import Tenant, parse_tenant, tenant_document

Row = Sequence[Any]
COMMIT_TIMESTAMP = spanner.COMMIT_TIMESTAMP


def utc(value: datetime) -> datetime:
    """A plain UTC datetime (the client returns its own subclass, with nanoseconds)."""
    at = value.astimezone(UTC)
    return datetime(
        at.year, at.month, at.day, at.hour, at.minute, at.second, at.microsecond, tzinfo=UTC
    )


def maybe_utc(value: datetime | None) -> datetime | None:
    return None if value is None else utc(value)


def to_json(value: Any) -> JsonObject | None:
    return None if value is None else JsonObject(value)  # type: ignore[no-untyped-call]


def from_json(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, JsonObject):
        return json.loads(value.serialize())  # type: ignore[no-untyped-call]
    return json.loads(value) if isinstance(value, str) else value


def bind(**values: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Query parameters with their Spanner types, from str, int, datetime, date or list of
    str."""
    types: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, bool):
            types[name] = param_types.BOOL
        elif isinstance(value, int):
            types[name] = param_types.INT64
        elif isinstance(value, datetime):
            types[name] = param_types.TIMESTAMP
        elif isinstance(value, date):
            types[name] = param_types.DATE
        elif isinstance(value, str):
            types[name] = param_types.STRING
        elif isinstance(value, list | tuple):
            types[name] = param_types.Array(param_types.STRING)  # type: ignore[no-untyped-call]
            values[name] = list(value)
        else:
            raise TypeError(f"no Spanner type for parameter {name}: {type(value).__name__}")
    return values, types


# --- tenants -------------------------------------------------------------------------------

TENANT_COLUMNS = (
    "tenant_id",
    "name",
    "status",
    "callrail_company_id",
    "document",
    "created_at",
    "updated_at",
    "committed_at",
)
TENANT_SELECT = ", ".join(TENANT_COLUMNS[:-1])


def tenant_values(tenant: Tenant) -> list[Any]:
    return [
        tenant.tenant_id,
        tenant.name,
        tenant.status,
        tenant.config.callrail_company_id,
        to_json(tenant_document(tenant, reveal_secrets=True)),
        tenant.created_at,
        tenant.updated_at,
        COMMIT_TIMESTAMP,
    ]


TENANT_UPDATE_COLUMNS = tuple(c for c in TENANT_COLUMNS if c != "created_at")


def tenant_update_values(tenant: Tenant) -> list[Any]:
    """An update keeps the row's created_at."""
    return [
        v for c, v in zip(TENANT_COLUMNS, tenant_values(tenant), strict=True) if c != "created_at"
    ]


def tenant_from_row(row: Row) -> Tenant:
    return parse_tenant(from_json(row[4]), now=utc(row[6]), created_at=utc(row[5]))


# --- api keys ------------------------------------------------------------------------------

API_KEY_COLUMNS = ("tenant_id", "key_hash", "hint", "created_at", "committed_at")


def api_key_values(key: ApiKey) -> list[Any]:
    return [key.tenant_id, key.key_hash, key.hint, key.created_at, COMMIT_TIMESTAMP]


def api_key_from_row(row: Row) -> ApiKey:
    return ApiKey(key_hash=row[1], tenant_id=row[0], created_at=utc(row[3]), hint=row[2])


# --- calls ---------------------------------------------------------------------------------

CALL_COLUMNS = (
    "tenant_id",
    "call_id",
    "stage",
    "received_at",
    "completed_at",
    "attempts",
    "metadata",
    "recording_url",
    "raw_payload",
    "recording",
    "transcript",
    "analysis",
    "lead_score",
    "crm_sync",
    "failure",
    "timeline",
    "lease_owner",
    "lease_expires_at",
    "version",
    "updated_at",
    "committed_at",
)
CALL_SELECT = ", ".join(CALL_COLUMNS[:-1])
LEASE_COLUMNS = ("tenant_id", "call_id", "lease_expires_at", "committed_at")


def last_activity(call: Call) -> datetime:
    """The sweep's clock: the call's last recorded event, in the domain's time."""
    return call.timeline[-1].at if call.timeline else call.received_at


def call_values(call: Call) -> list[Any]:
    return [
        call.tenant_id,
        call.call_id,
        call.stage.value,
        call.received_at,
        call.completed_at,
        call.attempts,
        to_json(codec.metadata_to_dict(call.metadata)),
        call.recording_url,
        to_json(dict(call.raw_payload)),
        to_json(codec.recording_to_dict(call.recording)),
        to_json(codec.transcript_to_dict(call.transcript)),
        to_json(codec.analysis_to_dict(call.analysis)),
        to_json(codec.score_to_dict(call.lead_score)),
        to_json(codec.crm_to_dict(call.crm_sync)),
        to_json(codec.failure_to_dict(call.failure)),
        to_json(codec.timeline_to_list(call.timeline)),
        call.lease_owner,
        call.lease_expires_at,
        call.version,
        last_activity(call),
        COMMIT_TIMESTAMP,
    ]


def call_from_row(row: Row) -> Call:
    c: Mapping[str, Any] = dict(zip(CALL_COLUMNS, row, strict=False))
    return Call(
        tenant_id=c["tenant_id"],
        call_id=c["call_id"],
        received_at=utc(c["received_at"]),
        metadata=codec.metadata_from_dict(from_json(c["metadata"])),
        recording_url=c["recording_url"],
        raw_payload=from_json(c["raw_payload"]),
        stage=Stage(c["stage"]),
        attempts=c["attempts"],
        completed_at=maybe_utc(c["completed_at"]),
        recording=codec.recording_from_dict(from_json(c["recording"])),
        transcript=codec.transcript_from_dict(from_json(c["transcript"])),
        analysis=codec.analysis_from_dict(from_json(c["analysis"])),
        lead_score=codec.score_from_dict(from_json(c["lead_score"])),
        crm_sync=codec.crm_from_dict(from_json(c["crm_sync"])),
        failure=codec.failure_from_dict(from_json(c["failure"])),
        timeline=codec.timeline_from_list(from_json(c["timeline"])),
        lease_owner=c["lease_owner"],
        lease_expires_at=maybe_utc(c["lease_expires_at"]),
        version=c["version"],
    )


# --- jobs ----------------------------------------------------------------------------------


@attrs.frozen
class JobRow:
    """A job with its queue state."""

    job: Job
    due_at: datetime
    attempts: int = 0
    claimed_by: str | None = None
    claimed_until: datetime | None = None
    last_error: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.job.tenant_id, self.job.call_id, self.job.job_id)

    def claimable(self, now: datetime) -> bool:
        return self.due_at <= now and (self.claimed_until is None or self.claimed_until < now)


JOB_COLUMNS = (
    "tenant_id",
    "call_id",
    "job_id",
    "enqueued_at",
    "due_at",
    "attempts",
    "trace_context",
    "claimed_by",
    "claimed_until",
    "last_error",
    "committed_at",
)
JOB_SELECT = ", ".join(JOB_COLUMNS[:-1])
CLAIM_COLUMNS = ("tenant_id", "call_id", "job_id", "claimed_until", "committed_at")


def job_values(row: JobRow) -> list[Any]:
    job = row.job
    return [
        job.tenant_id,
        job.call_id,
        job.job_id,
        job.enqueued_at,
        row.due_at,
        row.attempts,
        to_json(dict(job.trace_context)),
        row.claimed_by,
        row.claimed_until,
        row.last_error,
        COMMIT_TIMESTAMP,
    ]


def job_from_row(row: Row) -> JobRow:
    j: Mapping[str, Any] = dict(zip(JOB_COLUMNS, row, strict=False))
    job = Job(
        job_id=j["job_id"],
        tenant_id=j["tenant_id"],
        call_id=j["call_id"],
        enqueued_at=utc(j["enqueued_at"]),
        trace_context=from_json(j["trace_context"]),
    )
    return JobRow(
        job,
        utc(j["due_at"]),
        j["attempts"],
        j["claimed_by"],
        maybe_utc(j["claimed_until"]),
        j["last_error"],
    )
