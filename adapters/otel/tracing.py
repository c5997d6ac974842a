"""The Tracer port on the OpenTelemetry SDK.

Trace context travels as W3C `traceparent` and as Google's `X-Cloud-Trace-Context` (what Cloud
Run's front end and Google's load balancers send); both are read, and both are written into a
job. Spans are exported by mode: none, console, otlp (HTTP; the OTEL_EXPORTER_OTLP_* variables
say where) or gcp (Cloud Trace, with the service's resource detected from the metadata server;
the gcp extra, imported only in that mode).

The provider is this tracer's own, never the global one: a process can hold several (tests,
the demo) and each is flushed and shut down by its owner."""

from __future__ import annotations

import asyncio
import importlib
import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import Token
from types import TracebackType
from typing import TextIO

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.propagators.cloud_trace_propagator import CloudTraceFormatPropagator
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import TextMapPropagator
from opentelemetry.sdk.resources import Resource, get_aggregated_resources
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON
from opentelemetry.trace import Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from ports.telemetry import (
    NO_SPAN,
    AttributeValue,
    Span,
    SpanKind,
    Tracer,
    is_allowed,
)

MODES = ("none", "console", "otlp", "gcp")
SERVICE_NAME = "ingestion-pipeline"

log = logging.getLogger("ingestion_pipeline.tracing")

_KINDS = {
    "internal": trace.SpanKind.INTERNAL,
    "server": trace.SpanKind.SERVER,
    "client": trace.SpanKind.CLIENT,
    "producer": trace.SpanKind.PRODUCER,
    "consumer": trace.SpanKind.CONSUMER,
}


_NOTHING_TO_CONTINUE: AbstractContextManager[None] = nullcontext()  # reentrant, shared
_INSIDE_A_TRACE: AbstractContextManager[Span] = nullcontext(NO_SPAN)  # reentrant, shared

# The key OpenTelemetry keeps the current span under in a context: set_span_in_context's one
# entry (found through the API, not its private name).
(_SPAN_KEY,) = trace.set_span_in_context(trace.INVALID_SPAN, Context()).keys()


def current_span_context() -> trace.SpanContext:
    """trace.get_current_span().get_span_context(), read in half the time: a webhook reads it
    five times (its spans, its job's trace headers, its access line) when tracing is off."""
    span = otel_context.get_current().get(_SPAN_KEY)
    if span is None or not isinstance(span, trace.Span):
        return trace.INVALID_SPAN_CONTEXT
    return span.get_span_context()


def trace_propagator() -> TextMapPropagator:
    # Extracted in this order, so a request carrying both headers continues its traceparent.
    return CompositePropagator([CloudTraceFormatPropagator(), TraceContextTextMapPropagator()])


def inject_default(context: trace.SpanContext) -> dict[str, str]:
    """What trace_propagator() injects for `context`, in the same order: Google's
    X-Cloud-Trace-Context (span id in decimal, o=1 when sampled), then W3C traceparent and,
    if the context has one, tracestate. Nothing for the invalid context (no span)."""
    if context == trace.INVALID_SPAN_CONTEXT:
        return {}
    trace_id, span_id, flags = f"{context.trace_id:032x}", context.span_id, context.trace_flags
    carrier = {
        "x-cloud-trace-context": f"{trace_id}/{span_id};o={flags & trace.TraceFlags.SAMPLED}",
        "traceparent": f"00-{trace_id}-{span_id:016x}-{flags:02x}",
    }
    state = context.trace_state
    if state is not trace.DEFAULT_TRACE_STATE and state:  # the default is empty: no len()
        carrier["tracestate"] = state.to_header()
    return carrier


def allowed_attributes(
    attributes: Mapping[str, AttributeValue] | None,
) -> dict[str, AttributeValue]:
    """Only what ports.telemetry allows; everything else is dropped before the SDK sees it."""
    kept: dict[str, AttributeValue] = {}
    for key, value in (attributes or {}).items():
        if is_allowed(key, value):
            kept[key] = value
        else:
            log.debug("span attribute %r dropped: not an allowed attribute", key)
    return kept


class _OtelSpan(Span):
    __slots__ = ("_span",)

    def __init__(self, span: trace.Span):
        self._span = span

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        self._span.set_attributes(allowed_attributes({key: value}))

    def record_error(self, error_type: str) -> None:
        self._span.set_attributes(allowed_attributes({"error.type": error_type}))
        self._span.set_status(Status(StatusCode.ERROR))


class _SpanScope(AbstractContextManager[Span]):
    """The span current inside the block, ended after it; an exception leaving the block marks
    it failed by the exception's type (the SDK's own recording would export the message)."""

    def __init__(self, span: trace.Span, handle: Span | None = None):
        """`handle`: what the block is given (the span's own, by default)."""
        self._span = span
        self._handle = handle if handle is not None else _OtelSpan(span)
        self._token: Token[Context] | None = None

    def __enter__(self) -> Span:
        self._token = otel_context.attach(trace.set_span_in_context(self._span))
        return self._handle

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if isinstance(exc, Exception):
                self._handle.record_error(type(exc).__name__)
            self._span.end()
        finally:
            if self._token is not None:
                otel_context.detach(self._token)


class OtelTracer(Tracer):
    def __init__(
        self,
        provider: TracerProvider,
        propagator: TextMapPropagator | None = None,
        *,
        ids_only: bool = False,
    ):
        """`ids_only`: nothing is exported, so a span is made only where a trace begins (for
        its ids); inside one, span() costs next to nothing."""
        self._provider = provider
        self._tracer = provider.get_tracer("ingestion_pipeline")
        # The default headers are written directly (inject_default): what the propagators
        # write, at a fifth of the cost (every webhook's job carries them).
        self._default_propagation = propagator is None
        self._propagator = propagator or trace_propagator()
        self._ids_only = ids_only
        self._closed = False
        self._ids = RandomIdGenerator()
        # The header names the propagators read, lower case: a request with none of them has
        # no context to extract.
        self._fields = frozenset(name.lower() for name in self._propagator.fields)

    @property
    def exports(self) -> bool:
        """False when spans go nowhere (mode none): callers may skip making them."""
        return not self._ids_only

    def span(
        self,
        name: str,
        attributes: Mapping[str, AttributeValue] | None = None,
        *,
        kind: SpanKind = "internal",
    ) -> AbstractContextManager[Span]:
        if self._ids_only:
            if current_span_context().is_valid:
                return _INSIDE_A_TRACE
            # What the SDK makes of a span its ALWAYS_OFF sampler drops (ids, the default
            # flags, nothing else), without the sampler, attribute checks and span machinery it
            # goes through first.
            ids = trace.SpanContext(
                self._ids.generate_trace_id(), self._ids.generate_span_id(), is_remote=False
            )
            # Its attributes would go nowhere: the block gets a handle that takes none.
            return _SpanScope(trace.NonRecordingSpan(ids), NO_SPAN)
        started = self._tracer.start_span(
            name, kind=_KINDS[kind], attributes=allowed_attributes(attributes)
        )
        return _SpanScope(started)

    def inject(self) -> dict[str, str]:
        if self._default_propagation:
            return inject_default(current_span_context())
        carrier: dict[str, str] = {}
        self._propagator.inject(carrier)
        return carrier

    def extract(self, carrier: Mapping[str, str]) -> AbstractContextManager[None]:
        # Header names are case-insensitive; the propagators look them up in lower case.
        fields = self._fields
        for key in carrier:
            if key.lower() in fields:
                return self._continuing(carrier)
        return _NOTHING_TO_CONTINUE  # most requests: CallRail sends no trace headers

    @contextmanager
    def _continuing(self, carrier: Mapping[str, str]) -> Iterator[None]:
        lowered = {key.lower(): value for key, value in carrier.items()}
        context = self._propagator.extract(lowered, context=otel_context.get_current())
        token = otel_context.attach(context)
        try:
            yield
        finally:
            otel_context.detach(token)

    def force_flush(self, timeout_ms: int = 30_000) -> bool:
        return self._provider.force_flush(timeout_ms)

    async def aclose(self) -> None:
        """Exports what is still queued and stops the exporters (blocking I/O, so in a thread)."""
        if self._closed:
            return
        self._closed = True
        await asyncio.to_thread(self._provider.shutdown)


def setup_tracing(
    mode: str,
    *,
    project: str = "",
    service_version: str = "",
    console: TextIO | None = None,
) -> OtelTracer:
    """The tracer for PIPELINE_TRACING's `mode`.

    none: nothing is recorded or exported, yet every span still has ids, so log lines carry a
    trace id and an incoming trace continues through the queue to the other services.
    console: spans as JSON lines on stderr (stdout is the logs'). otlp: OTLP over HTTP.
    gcp: Cloud Trace. Every call is traced (no sampling here; an upstream's unsampled flag is
    not followed: a call's trace is what operators read)."""
    if mode not in MODES:
        raise ValueError(f"tracing mode {mode!r} is not one of {', '.join(MODES)}")
    resource = Resource.create({"service.name": SERVICE_NAME, "service.version": service_version})
    if mode == "none":
        return OtelTracer(TracerProvider(sampler=ALWAYS_OFF, resource=resource), ids_only=True)
    exporter: SpanExporter
    if mode == "console":
        exporter = ConsoleSpanExporter(out=console or sys.stderr, formatter=_one_line)
    elif mode == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    else:
        exporter, resource = _cloud_trace(project, resource)
    provider = TracerProvider(sampler=ALWAYS_ON, resource=resource)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return OtelTracer(provider)


def _one_line(span: ReadableSpan) -> str:
    line: str = span.to_json(indent=None)
    return line + "\n"


def _cloud_trace(project: str, resource: Resource) -> tuple[SpanExporter, Resource]:
    """Cloud Trace's exporter and the resource (Cloud Run service, region, instance) the
    metadata server describes. Both packages come with the gcp extra."""
    detector = importlib.import_module("opentelemetry.resourcedetector.gcp_resource_detector")
    exporter_module = importlib.import_module("opentelemetry.exporter.cloud_trace")
    detected = get_aggregated_resources(
        [detector.GoogleCloudResourceDetector(raise_on_error=False)], initial_resource=resource
    )
    exporter: SpanExporter = exporter_module.CloudTraceSpanExporter(
        project_id=project or None,
        # Resource attributes become labels on every span: the service, region and instance.
        resource_regex=r"^(service|cloud|faas|host|k8s)\.",
    )
    return exporter, detected
