"""What may go on a span: the allow-list in ports.telemetry, enforced by the OpenTelemetry
tracer on everything it is given, and an error recorded by its type, never its message."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from adapters.memory.tracer import RecordingTracer
from adapters.otel.tracing import OtelTracer
from ports.telemetry import MAX_TEXT_ATTRIBUTE, SPAN_ATTRIBUTES, AttributeValue, is_allowed

CALLER = "+13035550142"
# Everything a careless caller might hand a span: a person's details, a recording link with its
# access key, transcript text, a token.
FORBIDDEN = {
    "caller": CALLER,
    "customer_phone_number": CALLER,
    "customer_name": "Maria Lopez",
    "email": "david.kim@gmail.com",
    "http.url": "https://app.callrail.com/calls/CAL1/recording/redirect?access_key=s3cr3t",
    "url.query": "access_key=s3cr3t",
    "transcript": "my furnace stopped working",
    "authorization": "Bearer hubspot-token-123",
    "exception.message": f"404 for {CALLER}",
}


@pytest.fixture
def exported() -> tuple[OtelTracer, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return OtelTracer(provider), exporter


def only(exporter: InMemorySpanExporter) -> ReadableSpan:
    spans = exporter.get_finished_spans()
    assert len(spans) == 1
    return spans[0]


def test_the_rule() -> None:
    assert is_allowed("tenant_id", "acme")
    assert is_allowed("attempt", 3)
    assert is_allowed("http.response.status_code", 202)
    assert not is_allowed("caller", CALLER)
    assert not is_allowed("tenant_id", "x" * (MAX_TEXT_ATTRIBUTE + 1))
    assert not is_allowed("tenant_id", ["acme"])
    assert not any(key in SPAN_ATTRIBUTES for key in FORBIDDEN)


def test_only_allowed_keys_reach_the_exported_span(
    exported: tuple[OtelTracer, InMemorySpanExporter],
) -> None:
    tracer, exporter = exported
    given: dict[str, AttributeValue] = {
        "tenant_id": "acme",
        "call_id": "CAL1",
        "stage": "SCORED",
        "attempt": 2,
        **FORBIDDEN,
    }
    with tracer.span("stage.SCORED", given) as span:
        span.set_attribute("outcome", "done")
        for key, value in FORBIDDEN.items():
            span.set_attribute(key, value)
        span.set_attribute("call_id", "C" * 500)  # too long for an identifier: dropped
    attributes = dict(only(exporter).attributes or {})
    assert attributes == {
        "tenant_id": "acme",
        "call_id": "CAL1",
        "stage": "SCORED",
        "attempt": 2,
        "outcome": "done",
    }


def test_an_error_is_recorded_by_its_type_not_its_message(
    exported: tuple[OtelTracer, InMemorySpanExporter],
) -> None:
    tracer, exporter = exported
    with pytest.raises(ValueError, match="404"), tracer.span("recording.open"):
        raise ValueError(f"404 for {CALLER} at https://host/rec?access_key=s3cr3t")
    span = only(exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert not span.status.description
    assert dict(span.attributes or {}) == {"error.type": "ValueError"}
    assert span.events == ()  # no exception event: it would carry the message and stack


def test_the_recording_fake_applies_the_same_rule() -> None:
    tracer = RecordingTracer()
    with tracer.span("admit_call", {"tenant_id": "acme", "caller": CALLER}) as span:
        span.set_attribute("customer_name", "Maria Lopez")
    assert tracer.spans[0].attributes == {"tenant_id": "acme"}
    assert tracer.dropped == ["caller", "customer_name"]
