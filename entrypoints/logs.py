"""JSON logs on stdout, one object a line, with Cloud Logging's field names: a line written
inside a span carries its trace and span ids, so Cloud Logging shows it under the call's trace.

Only the message and the extras named below are written: a record's other attributes (a
request, a body) never reach the output."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime

import orjson
from opentelemetry import trace

_SEVERITY = {
    "WARNING": "WARNING",
    "ERROR": "ERROR",
    "CRITICAL": "CRITICAL",
    "INFO": "INFO",
    "DEBUG": "DEBUG",
}
_EXTRA_FIELDS = ("tenant_id", "call_id", "stage", "http", "event")
TRACE_FIELD = "logging.googleapis.com/trace"
SPAN_FIELD = "logging.googleapis.com/spanId"
SAMPLED_FIELD = "logging.googleapis.com/trace_sampled"


def log_project(env: Mapping[str, str]) -> str:
    """The project Cloud Logging's trace field names: the pipeline's, or the one Google's
    libraries use."""
    return (env.get("PIPELINE_GCP_PROJECT") or env.get("GOOGLE_CLOUD_PROJECT") or "").strip()


class JsonFormatter(logging.Formatter):
    def __init__(self, project: str | None = None):
        super().__init__()
        self._project = log_project(os.environ) if project is None else project

    def _trace_fields(self) -> dict[str, object]:
        context = trace.get_current_span().get_span_context()
        if not context.is_valid:
            return {}
        trace_id = trace.format_trace_id(context.trace_id)
        return {
            TRACE_FIELD: (
                f"projects/{self._project}/traces/{trace_id}" if self._project else trace_id
            ),
            SPAN_FIELD: trace.format_span_id(context.span_id),
            SAMPLED_FIELD: context.trace_flags.sampled,
        }

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "severity": _SEVERITY.get(record.levelname, "DEFAULT"),
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "message": record.getMessage(),
            "logger": record.name,
            **self._trace_fields(),
        }
        for field in _EXTRA_FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                entry[field] = value
        if record.exc_info:
            entry["stack_trace"] = self.formatException(record.exc_info)
        try:
            return orjson.dumps(entry, default=str).decode()
        except TypeError:  # what orjson refuses (an integer beyond 64 bits)
            return json.dumps(entry, default=str)


def configure_logging(level: int = logging.INFO) -> None:
    # What a record would otherwise gather and these lines never show: the caller's file and
    # line (a walk up the stack for every access log line), thread and process names. The
    # logging HOWTO's "Optimization" section names these switches.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
