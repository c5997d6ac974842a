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
from domain.tenant import Tenant, load_tenant, tenant_document

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
    return load_tenant(from_json(row[4]), now=utc(row[6]), created_at=utc(row[5]))


# --- api keys ------------------------------------------------------------------------------

API_KEY_COLUMNS = ("tenant_id", "key_hash", "hint", "created_at", "committed_at")


def api_key_values(key: ApiKey) -> list[Any]:
    return [key.tenant_id, key.key_hash, key.hint, key.created_at, COMMIT_TIMESTAMP]


def api_key_from_row(row: Row) -> ApiKey:
    return ApiKey(key_hash=row[1], tenant_id=row[0], created_at=utc(row[3]), hint=row[2])


# --- calls ---------------------------------------------------------------------------------

CALL_COLUMNS = (*codec.CALL_COLUMNS, "committed_at")
CALL_SELECT = ", ".join(codec.CALL_COLUMNS)
LEASE_COLUMNS = ("tenant_id", "call_id", "lease_expires_at", "committed_at")


def call_values(call: Call) -> list[Any]:
    row = codec.call_row(call, time=lambda at: at, json=to_json)
    return [*(row[column] for column in codec.CALL_COLUMNS), COMMIT_TIMESTAMP]


def call_from_row(row: Row) -> Call:
    columns = dict(zip(codec.CALL_COLUMNS, row, strict=True))
    return codec.call_from_row(columns, time=utc, json=from_json)


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
