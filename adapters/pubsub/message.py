"""A job as a Pub/Sub message: JSON data with the job's identity, and attributes that let
Pub/Sub (and a reader of the console) see the tenant, the call and the trace without decoding."""

from __future__ import annotations

import json

from domain.jobs import Job

# Our own attributes; the job's trace context entries ride beside them.
IDENTITY_ATTRIBUTES = ("tenant_id", "call_id")
_RESERVED_PREFIX = "goog"  # Pub/Sub refuses attribute keys starting with it


def job_message(job: Job) -> tuple[bytes, dict[str, str]]:
    """The message data (JSON: tenant_id, call_id, job_id, enqueued_at) and attributes."""
    data = {
        "tenant_id": job.tenant_id,
        "call_id": job.call_id,
        "job_id": job.job_id,
        "enqueued_at": job.enqueued_at.isoformat(),
    }
    attributes = {
        key: value for key, value in job.trace_context.items() if is_trace_attribute(key, value)
    }
    attributes.update(tenant_id=job.tenant_id, call_id=job.call_id)
    return json.dumps(data, separators=(",", ":")).encode(), attributes


def is_trace_attribute(key: str, value: str) -> bool:
    """A trace context entry that Pub/Sub accepts as an attribute and that is not ours."""
    return (
        key not in IDENTITY_ATTRIBUTES
        and not key.startswith(_RESERVED_PREFIX)
        and 0 < len(key.encode()) <= 256
        and len(value.encode()) <= 1024
    )
