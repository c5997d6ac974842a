"""A tracer that keeps its spans in memory: the Tracer port for unit tests of the use cases.

It applies the same attribute rule as the real one (ports.telemetry.is_allowed) and keeps the
keys it dropped, so a test can say a use case never tried to put anything else on a span."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

import attrs

from ports.telemetry import AttributeValue, Span, SpanKind, Tracer, is_allowed

_TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}")


@attrs.define(eq=False)
class RecordedSpan:
    name: str
    kind: str
    trace_id: str
    span_id: str
    parent_id: str | None
    attributes: dict[str, AttributeValue]
    error: str | None = None
    ended: bool = False


class _RecordingSpan(Span):
    def __init__(self, tracer: RecordingTracer, span: RecordedSpan):
        self._tracer = tracer
        self._span = span

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        self._span.attributes.update(self._tracer.keep({key: value}))

    def record_error(self, error_type: str) -> None:
        self._span.error = error_type


class RecordingTracer(Tracer):
    def __init__(self) -> None:
        self.spans: list[RecordedSpan] = []
        self.dropped: list[str] = []
        self._ids = itertools.count(1)
        self._current: ContextVar[tuple[str, str] | None] = ContextVar(
            "recording_tracer_current", default=None
        )

    def named(self, name: str) -> list[RecordedSpan]:
        return [span for span in self.spans if span.name == name]

    def keep(self, attributes: Mapping[str, AttributeValue] | None) -> dict[str, AttributeValue]:
        kept = {}
        for key, value in (attributes or {}).items():
            if is_allowed(key, value):
                kept[key] = value
            else:
                self.dropped.append(key)
        return kept

    @contextmanager
    def span(
        self,
        name: str,
        attributes: Mapping[str, AttributeValue] | None = None,
        *,
        kind: SpanKind = "internal",
    ) -> Iterator[Span]:
        parent = self._current.get()
        trace_id = parent[0] if parent else f"{next(self._ids):032x}"
        recorded = RecordedSpan(
            name,
            kind,
            trace_id,
            f"{next(self._ids):016x}",
            parent[1] if parent else None,
            self.keep(attributes),
        )
        self.spans.append(recorded)
        token = self._current.set((trace_id, recorded.span_id))
        try:
            yield _RecordingSpan(self, recorded)
        except Exception as exc:
            recorded.error = type(exc).__name__
            raise
        finally:
            recorded.ended = True
            self._current.reset(token)

    def inject(self) -> dict[str, str]:
        current = self._current.get()
        if current is None:
            return {}
        return {"traceparent": f"00-{current[0]}-{current[1]}-01"}

    @contextmanager
    def extract(self, carrier: Mapping[str, str]) -> Iterator[None]:
        match = _TRACEPARENT.fullmatch(carrier.get("traceparent", ""))
        if match is None:
            yield
            return
        token = self._current.set((match[1], match[2]))
        try:
            yield
        finally:
            self._current.reset(token)
