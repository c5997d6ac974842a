"""The tracing tests' service: the real app in-process (a SQLite file, the local queue and its
workers, Whisper, the rules analyzer, HubSpot's stand-in) with an in-memory span exporter in
place of the configured one, and its log lines captured as `serve` writes them."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import aiohttp
import attrs
import pytest
import pytest_asyncio
from dependency_injector import providers
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON

from adapters.otel.tracing import OtelTracer
from domain.webhook import sign
from entrypoints.config import load_settings
from entrypoints.container import build_container
from entrypoints.demo.runner import audio_dir
from entrypoints.http.app import create_app
from entrypoints.logs import JsonFormatter
from entrypoints.standins import RunningServer, start_server
from entrypoints.standins.hubspot import FakeHubSpot
from entrypoints.standins.recordings import RecordingServer
from tests.support import tenant_document

KEY = "trace-signing-key-5b1f0c"
OPERATOR = "trace-operator-token-77d2e9"
HUBSPOT_TOKEN = "trace-hubspot-token-a41c3d"
PROJECT = "trace-project"
COMPANY = "5150"
ACCESS_KEY = "demo-access-key"  # RecordingServer's links carry it in the query
# call id: (recording, caller's number, caller's name)
CALLS = {
    "CALTRACE0001": ("urgent_booking.mp3", "+13035550142", "Maria Lopez"),
    "CALTRACE0002": ("billing_card.mp3", "+17205550187", "Dana Whitfield"),
}


@attrs.define
class Service:
    url: str
    http: aiohttp.ClientSession
    exporter: InMemorySpanExporter
    logs: io.StringIO
    recordings: RecordingServer
    recording_url: str

    @property
    def spans(self) -> tuple[ReadableSpan, ...]:
        return self.exporter.get_finished_spans()

    async def webhook(self, call_id: str, headers: dict[str, str] | None = None) -> None:
        body: dict[str, Any] = {
            "resource_id": call_id,
            "company_id": COMPANY,
            "direction": "inbound",
            "answered": "false",
            "duration": "0",
            "customer_phone_number": "+19705550163",
            "customer_name": "Lee Park",
        }
        if call_id in CALLS:
            _, caller, name = CALLS[call_id]
            body.update(
                answered="true",
                duration="30",
                customer_phone_number=caller,
                customer_name=name,
                recording=self.recordings.recording_url(self.recording_url, call_id),
            )
        raw = json.dumps(body).encode()
        sent = {"Content-Type": "application/json", "Signature": sign(KEY, raw), **(headers or {})}
        async with self.http.post(f"{self.url}/v1/callrail/webhook", data=raw, headers=sent) as r:
            assert r.status == 202, await r.text()

    async def completed(self, call_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Each call's document once it is COMPLETED and its delivery's span has ended."""
        auth = {"Authorization": f"Bearer {OPERATOR}"}
        deadline = time.monotonic() + 180
        documents: dict[str, dict[str, Any]] = {}
        while time.monotonic() < deadline:
            for call_id in call_ids:
                url = f"{self.url}/v1/tenants/acme/calls/{call_id}"
                async with self.http.get(url, headers=auth) as r:
                    documents[call_id] = await r.json()
            delivered = {
                s.attributes.get("call_id")
                for s in self.spans
                if s.name == "deliver.local" and s.attributes and s.attributes.get("outcome")
            }
            stages = {d["stage"] for d in documents.values()}
            if stages == {"COMPLETED"} and delivered >= set(call_ids):
                return documents
            assert "FAILED" not in stages, documents
            await asyncio.sleep(0.2)
        raise AssertionError(f"not completed in time: {documents}")

    def trace_of(self, call_id: str) -> list[ReadableSpan]:
        """Every span of the trace whose intake admitted `call_id`."""
        [admitted] = [
            s for s in self.spans if s.name == "admit_call" and attr(s, "call_id") == call_id
        ]
        return [s for s in self.spans if s.context.trace_id == admitted.context.trace_id]


def attr(span: ReadableSpan, key: str) -> Any:
    return (span.attributes or {}).get(key)


@pytest.fixture(scope="module")
def captured_logs() -> Iterator[io.StringIO]:
    """The service's log lines as `serve` writes them, JSON with Cloud Logging's fields."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(project=PROJECT))
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(previous)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def service(
    tmp_path_factory: pytest.TempPathFactory, captured_logs: io.StringIO
) -> AsyncIterator[Service]:
    workdir = tmp_path_factory.mktemp("tracing")
    recordings = RecordingServer({c: audio_dir() / f for c, (f, _, _) in CALLS.items()})
    hubspot = FakeHubSpot(token=HUBSPOT_TOKEN)
    servers: list[RunningServer] = []
    servers.append(recording_server := await start_server(recordings.app()))
    servers.append(crm_server := await start_server(hubspot.app()))
    settings = load_settings(
        {
            "PIPELINE_DATABASE_URL": f"sqlite:///{workdir / 'pipeline.db'}",
            "PIPELINE_AUDIO_STORE_URL": f"file://{workdir / 'audio'}",
            "PIPELINE_RECORDING_ALLOWED_HOSTS": "127.0.0.1",
            "PIPELINE_CRM_HTTP_HOSTS": "127.0.0.1",
            "PIPELINE_OPERATOR_TOKEN": OPERATOR,
        }
    )
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=ALWAYS_ON)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    container = build_container(settings)
    container.tracer.override(providers.Object(OtelTracer(provider)))
    servers.append(app_server := await start_server(create_app(container)))
    try:
        async with aiohttp.ClientSession() as http:
            document = tenant_document(company_id=COMPANY, secret=KEY)
            document["config"]["crm_config"] = {
                "type": "hubspot",
                "base_url": crm_server.url,
                "access_token": HUBSPOT_TOKEN,
            }
            auth = {"Authorization": f"Bearer {OPERATOR}"}
            async with http.post(f"{app_server.url}/v1/tenants", json=document, headers=auth) as r:
                assert r.status == 201, await r.text()
            yield Service(
                app_server.url, http, exporter, captured_logs, recordings, recording_server.url
            )
    finally:
        for server in reversed(servers):
            await server.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def recorded_calls(service: Service) -> dict[str, dict[str, Any]]:
    """The two recorded calls, webhook to COMPLETED."""
    for call_id in CALLS:
        await service.webhook(call_id)
    return await service.completed(list(CALLS))


def never_anywhere() -> list[str]:
    """Callers' numbers (as given and as digits), names, the signing key, tokens, access key."""
    found = [KEY, OPERATOR, HUBSPOT_TOKEN, ACCESS_KEY, "access_key", "Lee Park", "+19705550163"]
    for _, number, name in CALLS.values():
        found += [number, number[2:], f"{number[2:5]}-{number[5:8]}", *name.split()]
    return found
