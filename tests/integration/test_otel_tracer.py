"""The OpenTelemetry tracer: trace context in and out (W3C traceparent, X-Cloud-Trace-Context),
and the exporters PIPELINE_TRACING chooses, the OTLP one against a collector on loopback."""

from __future__ import annotations

import io
import json
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from adapters.memory.fakes import InMemoryAudioStore
from adapters.otel.tracing import OtelTracer, setup_tracing
from entrypoints.standins import serve, start_server
from entrypoints.tracing import traced
from ports.telemetry import NoTracing
from tests.integration.conftest import make_app

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"


@pytest.fixture
def exported() -> tuple[OtelTracer, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return OtelTracer(provider), exporter


def ids() -> tuple[str, str]:
    context = trace.get_current_span().get_span_context()
    return trace.format_trace_id(context.trace_id), trace.format_span_id(context.span_id)


def sampled(traceparent: str) -> bool:
    # The low bit of the flags; the SDK also sets W3C level 2's "random trace id" bit (0x02).
    return bool(int(traceparent.rsplit("-", 1)[1], 16) & 1)


def test_a_job_carries_the_current_span_and_its_delivery_continues_it(
    exported: tuple[OtelTracer, InMemorySpanExporter],
) -> None:
    tracer, exporter = exported
    assert tracer.inject() == {}  # no span, nothing to carry
    with tracer.span("admit_call"):
        trace_id, span_id = ids()
        carrier = tracer.inject()
    assert carrier["traceparent"].startswith(f"00-{trace_id}-{span_id}-")
    assert sampled(carrier["traceparent"])
    assert carrier["x-cloud-trace-context"] == f"{trace_id}/{int(span_id, 16)};o=1"
    with tracer.extract(carrier), tracer.span("deliver.local", kind="consumer"):
        assert ids()[0] == trace_id
    delivered = exporter.get_finished_spans()[-1]
    assert delivered.parent is not None
    assert trace.format_span_id(delivered.parent.span_id) == span_id
    assert delivered.kind is trace.SpanKind.CONSUMER
    assert ids() == ("0" * 32, "0" * 16)  # the context is restored after the block


@pytest.mark.parametrize(
    "headers",
    [
        {"traceparent": TRACEPARENT},
        {"Traceparent": TRACEPARENT},  # header names are case-insensitive
        {"X-Cloud-Trace-Context": f"{TRACE_ID}/{int(PARENT_ID, 16)};o=1"},
        # Both, disagreeing: the W3C header wins.
        {"traceparent": TRACEPARENT, "x-cloud-trace-context": f"{'1' * 32}/5;o=1"},
    ],
)
def test_an_incoming_trace_is_continued(
    exported: tuple[OtelTracer, InMemorySpanExporter], headers: dict[str, str]
) -> None:
    tracer, exporter = exported
    with tracer.extract(headers), tracer.span("POST /v1/callrail/webhook", kind="server"):
        pass
    span = exporter.get_finished_spans()[0]
    assert trace.format_trace_id(span.context.trace_id) == TRACE_ID
    assert span.parent is not None
    assert trace.format_span_id(span.parent.span_id) == PARENT_ID


def test_a_carrier_without_a_valid_context_changes_nothing(
    exported: tuple[OtelTracer, InMemorySpanExporter],
) -> None:
    tracer, _ = exported
    with tracer.span("POST /v1/pubsub/push"):
        outer = ids()
        with tracer.extract({"traceparent": "00-garbage-01", "x-cloud-trace-context": "no"}):
            assert ids() == outer


def test_none_records_nothing_but_still_gives_ids() -> None:
    tracer = setup_tracing("none")
    with tracer.span("process_call") as span:
        trace_id, span_id = ids()
        carrier = tracer.inject()
        span.set_attribute("outcome", "done")
    assert trace_id != "0" * 32
    assert carrier["traceparent"].startswith(f"00-{trace_id}-{span_id}-")
    assert not sampled(carrier["traceparent"])
    assert not trace.get_current_span().is_recording()


def test_none_continues_an_incoming_trace_and_starts_a_new_one_without() -> None:
    tracer = setup_tracing("none")
    with tracer.extract({"Traceparent": TRACEPARENT}), tracer.span("POST /v1/callrail/webhook"):
        assert tracer.inject()["traceparent"].startswith(f"00-{TRACE_ID}-{PARENT_ID}-")
    roots = []
    for _ in range(2):  # no trace headers (CallRail sends none): a new trace each time
        with tracer.extract({"Content-Type": "application/json"}), tracer.span("POST /x"):
            roots.append(ids())
    assert roots[0][0] != roots[1][0]
    assert "0" * 32 not in (roots[0][0], roots[1][0])
    assert ids() == ("0" * 32, "0" * 16)


async def test_console_writes_one_json_line_a_span_and_flushes_on_close() -> None:
    out = io.StringIO()
    tracer = setup_tracing("console", console=out)
    with tracer.span("process_call", {"tenant_id": "acme"}), tracer.span("stage.SCORED"):
        pass
    assert out.getvalue() == ""  # batched: nothing yet
    await tracer.aclose()
    spans = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [s["name"] for s in spans] == ["stage.SCORED", "process_call"]
    assert spans[1]["attributes"] == {"tenant_id": "acme"}
    assert spans[1]["resource"]["attributes"]["service.name"] == "ingestion-pipeline"


async def test_otlp_exports_to_the_configured_collector(monkeypatch: pytest.MonkeyPatch) -> None:
    received: list[tuple[str, str, bytes]] = []

    async def collect(request: web.Request) -> web.Response:
        received.append((request.path, request.content_type, await request.read()))
        return web.Response(status=200)

    collector = web.Application()
    collector.router.add_post("/v1/traces", collect)
    async with serve(collector) as base_url:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"{base_url}/v1/traces")
        tracer = setup_tracing("otlp", service_version="9.9.9")
        with tracer.span("stage.TRANSCRIBED", {"call_id": "CALOTLP1"}):
            pass
        await tracer.aclose()  # exports in a thread: the collector answers on this loop
    assert len(received) == 1
    path, content_type, body = received[0]
    assert (path, content_type) == ("/v1/traces", "application/x-protobuf")
    assert b"stage.TRANSCRIBED" in body
    assert b"CALOTLP1" in body
    assert b"9.9.9" in body


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="zipkin"):
        setup_tracing("zipkin")


def test_adapters_are_wrapped_only_when_spans_go_somewhere() -> None:
    store = InMemoryAudioStore()
    assert traced(store, setup_tracing("none"), "storage") is store
    assert traced(store, NoTracing(), "storage") is store
    wrapped = traced(store, setup_tracing("console", console=io.StringIO()), "storage")
    assert wrapped is not store
    assert wrapped.objects is store.objects  # attributes pass through


async def test_a_wrapped_adapter_call_is_a_client_span_named_by_the_port(
    exported: tuple[OtelTracer, InMemorySpanExporter],
) -> None:
    tracer, exporter = exported
    store = traced(InMemoryAudioStore(), tracer, "storage")
    await store.delete("memory://nothing")
    with pytest.raises(FileNotFoundError):
        [chunk async for chunk in store.get("memory://nothing")]
    [span] = exporter.get_finished_spans()  # get() is an async generator: not a span of its own
    assert (span.name, span.kind) == ("storage.delete", trace.SpanKind.CLIENT)
    assert dict(span.attributes or {}) == {"adapter": "InMemoryAudioStore"}


async def test_the_service_exports_its_spans_when_it_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PIPELINE_TRACING=otlp through the composition root: spans are batched while the service
    runs and exported, all of them, when it shuts down."""
    received: list[bytes] = []

    async def collect(request: web.Request) -> web.Response:
        received.append(await request.read())
        return web.Response(status=200)

    collector = web.Application()
    collector.router.add_post("/v1/traces", collect)
    async with serve(collector) as collector_url:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"{collector_url}/v1/traces")
        service = await start_server(make_app(tmp_path, PIPELINE_TRACING="otlp"))
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{service.url}/v1/tenants/acme/calls") as r,
        ):
            assert r.status == 401
        await service.close()
    exported = b"".join(received)
    assert b"GET /v1/tenants/{tenant_id}/calls" in exported
    assert b"ingestion-pipeline" in exported  # the service's resource
