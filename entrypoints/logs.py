"""JSON logs on stdout, one object a line, with Cloud Logging's field names: a line written
inside a span carries its trace and span ids, so Cloud Logging shows it under the call's trace.

Only the message and the extras named below are written: a record's other attributes (a
request, a body) never reach the output."""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TextIO, cast

import orjson

from adapters.otel.tracing import current_span_context

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
    return (
        env.get("PIPELINE_GCP_PROJECT")
        or env.get("PROJECT_ID")  # the deployment guide's name, read as an alias
        or env.get("GOOGLE_CLOUD_PROJECT")
        or ""
    ).strip()


class JsonFormatter(logging.Formatter):
    def __init__(self, project: str | None = None):
        super().__init__()
        self._project = log_project(os.environ) if project is None else project

    def _trace_fields(self) -> dict[str, object]:
        context = current_span_context()
        if not context.is_valid:
            return {}
        trace_id = f"{context.trace_id:032x}"  # trace.format_trace_id's text, without the call
        return {
            TRACE_FIELD: (
                f"projects/{self._project}/traces/{trace_id}" if self._project else trace_id
            ),
            SPAN_FIELD: f"{context.span_id:016x}",
            SAMPLED_FIELD: context.trace_flags.sampled,
        }

    def format(self, record: logging.LogRecord) -> str:
        return self.line(
            record.levelname,
            record.created,
            record.getMessage(),
            record.name,
            record.__dict__,
            self.formatException(record.exc_info) if record.exc_info else None,
        )

    def line(
        self,
        level_name: str,
        created: float,
        message: str,
        logger_name: str,
        fields: Mapping[str, object],
        stack_trace: str | None = None,
    ) -> str:
        """The JSON line of a record with these parts (`fields`: the record's attributes, of
        which only _EXTRA_FIELDS are written)."""
        entry: dict[str, object] = {
            "severity": _SEVERITY.get(level_name, "DEFAULT"),
            "time": time_text(created),
            "message": message,
            "logger": logger_name,
            **self._trace_fields(),
        }
        for field in _EXTRA_FIELDS:
            value = fields.get(field)
            if value is not None:
                entry[field] = value
        if stack_trace is not None:
            entry["stack_trace"] = stack_trace
        try:
            return orjson.dumps(entry, default=str).decode()
        except TypeError:  # what orjson refuses (an integer beyond 64 bits)
            return json.dumps(entry, default=str)


def time_text(created: float) -> str:
    """iso(datetime.fromtimestamp(created, UTC)): the same text, without the datetime (every
    request writes an access line). The microseconds are rounded as fromtimestamp rounds them,
    half to even, carried into the second at 1,000,000."""
    fraction, whole = math.modf(created)
    second, micro = int(whole), round(fraction * 1e6)
    if micro >= 1_000_000:
        second, micro = second + 1, micro - 1_000_000
    elif micro < 0:
        second, micro = second - 1, micro + 1_000_000
    text = _second_text(second)
    return f"{text}.{micro:06d}+00:00" if micro else f"{text}+00:00"


@functools.lru_cache(maxsize=8)
def _second_text(second: int) -> str:
    return datetime.fromtimestamp(second, UTC).isoformat().removesuffix("+00:00")


def log_fields(
    logger: logging.Logger, level: int, message: str, fields: Mapping[str, object]
) -> None:
    """`logger.log(level, message, extra=fields)`, written at a fifth of the cost when the line
    would go to one JSON stream handler and nothing else (what `serve` sets up): the JSON line
    is made and written at once, without the LogRecord, the filters and the handlers' walk
    that logging goes through for each line (about 20 us; an access line is written for every
    request). Any other set-up (another handler, a filter, a file not yet opened) takes the
    logging path, so what is written is the same either way."""
    if not logger.isEnabledFor(level):
        return
    handler = _sole_json_handler(logger, level)
    if handler is not None:
        formatter = cast(JsonFormatter, handler.formatter)
        name = logging.getLevelName(level)
        line = formatter.line(name, time.time(), message, logger.name, fields)
        try:
            with handler.lock:  # type: ignore[union-attr]  # made by Handler.__init__
                handler.stream.write(line + handler.terminator)
                handler.flush()
            return
        except Exception:  # noqa: S110  # logging's path reports it (handleError)
            pass
    logger.log(level, "%s", message, extra=dict(fields))


def _sole_json_handler(logger: logging.Logger, level: int) -> logging.StreamHandler[Any] | None:
    """The one handler a record of `level` from `logger` reaches, if it writes JsonFormatter's
    lines to a stream and nothing filters on the way; None otherwise."""
    found: logging.StreamHandler[Any] | None = None
    current: logging.Logger | None = logger
    while current is not None:
        if current.filters:
            return None
        for handler in current.handlers:
            if level < handler.level:
                continue
            if (
                found is not None
                or handler.filters
                or not isinstance(handler, logging.StreamHandler)
                or not isinstance(handler.formatter, JsonFormatter)
            ):
                return None
            found = handler
        if not current.propagate:
            break
        current = current.parent
    return found


def configure_logging(level: int | str = logging.INFO, *, plain_to: TextIO | None = None) -> None:
    """JSON lines on stdout at `level` (a number or a name: PIPELINE_LOG_LEVEL's value), or, for
    the CLI's commands, `plain_to` a stream as readable lines that keep stdout for the output."""
    if isinstance(level, str):
        level = logging.getLevelNamesMapping()[level.upper()]
    # What a record would otherwise gather and these lines never show: the caller's file and
    # line (a walk up the stack for every access log line), thread and process names. The
    # logging HOWTO's "Optimization" section names these switches.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(plain_to or sys.stdout)
    formatter = logging.Formatter("%(levelname)s %(name)s: %(message)s")
    handler.setFormatter(JsonFormatter() if plain_to is None else formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
