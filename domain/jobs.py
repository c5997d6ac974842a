"""A request to process one call, as it travels through the queue."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import attrs


@attrs.frozen
class Job:
    job_id: str
    tenant_id: str
    call_id: str
    enqueued_at: datetime
    # W3C trace context (traceparent, tracestate) so one call is one trace across the queue.
    trace_context: Mapping[str, str] = attrs.field(factory=dict)
