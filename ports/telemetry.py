"""Tracing, as the use cases need it: spans around their work, and a call's trace context carried
through its job so the webhook and every later delivery are one trace.

A span carries only the attributes named in SPAN_ATTRIBUTES: identifiers of our own (tenant,
call), where the call is (stage, attempt, outcome), HTTP shape and adapter names. Never a phone
number, a name, an email address, transcript text, a URL with its query or a token: a tracer
drops any other key."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Literal, Protocol

AttributeValue = str | bool | int | float
SpanKind = Literal["internal", "server", "client", "producer", "consumer"]

SPAN_ATTRIBUTES = frozenset(
    {
        "tenant_id",
        "call_id",
        "stage",
        "attempt",
        "outcome",
        "adapter",
        "tenant_lookup",  # "store" or "remembered": where the webhook found its tenant
        "error.type",  # an exception's class name: messages can hold URLs or numbers
        "http.request.method",
        "http.route",  # the route's template, never the path with its values or query
        "http.response.status_code",
        "spans_silenced",  # how many stretches of a recording audio redaction silenced
    }
)
MAX_TEXT_ATTRIBUTE = 128  # longer strings are not identifiers: dropped, not cut


def is_allowed(key: str, value: object) -> bool:
    """The rule every tracer applies to every attribute it is given."""
    if key not in SPAN_ATTRIBUTES:
        return False
    if isinstance(value, str):
        return len(value) <= MAX_TEXT_ATTRIBUTE
    return isinstance(value, bool | int | float)


class Span(Protocol):
    def set_attribute(self, key: str, value: AttributeValue) -> None:
        """Dropped unless the key is in SPAN_ATTRIBUTES."""
        ...

    def record_error(self, error_type: str) -> None:
        """Marks the span failed; `error_type` names the kind of error, not its message."""
        ...


class Tracer(Protocol):
    def span(
        self,
        name: str,
        attributes: Mapping[str, AttributeValue] | None = None,
        *,
        kind: SpanKind = "internal",
    ) -> AbstractContextManager[Span]:
        """A child of the current span (or a new trace), current inside the block; an exception
        leaving the block marks it failed with the exception's type. Usable around awaits: it
        is entered and left in the same task."""
        ...

    def inject(self) -> dict[str, str]:
        """The current trace context as W3C headers (traceparent, tracestate), for a job."""
        ...

    def extract(self, carrier: Mapping[str, str]) -> AbstractContextManager[None]:
        """Inside the block, spans continue the trace `carrier` names (a job's trace context,
        a request's headers); a carrier with no valid context changes nothing."""
        ...


class NoSpan(Span):
    """A span handle that records nothing (and checks nothing it is given)."""

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        pass

    def record_error(self, error_type: str) -> None:
        pass


NO_SPAN = NoSpan()
_NO_SPAN = nullcontext(NO_SPAN)


class NoTracing(Tracer):
    """What a use case given no tracer traces with: nothing."""

    def span(
        self,
        name: str,
        attributes: Mapping[str, AttributeValue] | None = None,
        *,
        kind: SpanKind = "internal",
    ) -> AbstractContextManager[Span]:
        return _NO_SPAN  # nullcontext may be entered again and again, by any number at once

    def inject(self) -> dict[str, str]:
        return {}

    def extract(self, carrier: Mapping[str, str]) -> AbstractContextManager[None]:
        return nullcontext()
