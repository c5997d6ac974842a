"""The end-to-end scenario in the Google Cloud shape, on the real emulators: a signed webhook
is accepted into Spanner, published to the Pub/Sub emulator, pushed by its push subscription to
/v1/pubsub/push, and processed: recording stored in fake-gcs-server, transcribed by the Speech
v2 stand-in, analysed by the Gemini stand-in, scored, synced to the HubSpot stand-in. And when
Gemini answers malformed JSON, the call still completes, with a rules analysis marked as such.
With dynamic batching, the call waits for its transcription across deliveries and completes."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from dependency_injector import providers
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from adapters.otel.tracing import OtelTracer
from domain.webhook import sign
from entrypoints.config import load_settings
from entrypoints.container import build_container
from entrypoints.demo.runner import audio_dir
from entrypoints.http.app import create_app
from entrypoints.standins import RunningServer, start_server
from entrypoints.standins.hubspot import FakeHubSpot
from entrypoints.standins.recordings import RecordingServer
from entrypoints.standins.speech import FakeSpeech, Turn
from entrypoints.standins.vertex import FakeVertex
from tests.emulators import gcs, pubsub, spanner
from tests.support import tenant_document

fake_gcs = gcs.fake_gcs
pubsub_emulator = pubsub.pubsub_emulator
spanner_emulator = spanner.spanner_emulator_fixture
spanner_database = spanner.spanner_database_fixture

KEY = "gcp-signing-key"
TOKEN = "gcp-operator-token"
HUBSPOT_TOKEN = "gcp-hubspot-token"
TURNS = [
    Turn("1", 0.0, 3.0, "Acme Heating and Air, how can I help you?"),
    Turn("2", 3.2, 9.0, "My furnace stopped working and we have no heat, can someone come today?"),
    Turn("1", 9.5, 14.0, "Yes, a technician will be there today between two and four."),
]


class Stack:
    def __init__(self) -> None:
        self.speech = FakeSpeech(default_turns=TURNS)
        self.vertex = FakeVertex()
        self.hubspot = FakeHubSpot(token=HUBSPOT_TOKEN)
        self.recordings = RecordingServer({"CALGCP1": audio_dir() / "urgent_booking.mp3"})
        self.servers: list[RunningServer] = []

    async def start(self) -> dict[str, str]:
        urls = {}
        for name, app in [
            ("speech", self.speech.app()),
            ("vertex", self.vertex.app()),
            ("hubspot", self.hubspot.app()),
            ("recordings", self.recordings.app()),
        ]:
            server = await start_server(app)
            self.servers.append(server)
            urls[name] = server.url
        return urls

    async def stop(self) -> None:
        for server in reversed(self.servers):
            await server.close()


@pytest.fixture
async def stack() -> AsyncIterator[Stack]:
    running = Stack()
    yield running
    await running.stop()


async def run_scenario(
    stack: Stack,
    monkeypatch: pytest.MonkeyPatch,
    fake_gcs: gcs.FakeGcs,
    pubsub_emulator: pubsub.PubSubEmulator,
    spanner_database: Any,
    exporter: InMemorySpanExporter | None = None,
    **env: str,
) -> dict[str, Any]:
    urls = await stack.start()
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", fake_gcs.url)
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", pubsub_emulator.host)
    topic = pubsub_emulator.create_topic()
    settings = load_settings(
        {
            "PIPELINE_DATABASE_URL": f"spanner://{spanner_database.path}",
            "PIPELINE_AUDIO_STORE_URL": f"gs://{fake_gcs.bucket}/{fake_gcs.unique_prefix()}",
            "PIPELINE_QUEUE_URL": f"pubsub://{topic}",
            "PIPELINE_TRANSCRIBER": "google-speech",
            "PIPELINE_SPEECH_ENDPOINT": urls["speech"],
            "PIPELINE_ANALYZER": "vertex",
            "PIPELINE_VERTEX_BASE_URL": urls["vertex"] + "/",
            "PIPELINE_GCP_PROJECT": "emulated-project",
            "PIPELINE_RECORDING_ALLOWED_HOSTS": "127.0.0.1",
            "PIPELINE_CRM_HTTP_HOSTS": "127.0.0.1",
            "PIPELINE_OPERATOR_TOKEN": TOKEN,
            "PIPELINE_RETRY_BASE_SECONDS": "0.2",
            **env,
        }
    )
    container = build_container(settings)
    if exporter is not None:
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        container.tracer.override(providers.Object(OtelTracer(provider)))
    service = await start_server(create_app(container))
    stack.servers.append(service)
    pubsub_emulator.create_push_subscription(topic, f"{service.url}/v1/pubsub/push")
    async with aiohttp.ClientSession() as http:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        tenant = tenant_document(company_id="9090", secret=KEY)
        tenant["config"]["crm_config"] = {
            "type": "hubspot",
            "base_url": urls["hubspot"],
            "access_token": HUBSPOT_TOKEN,
        }
        async with http.post(f"{service.url}/v1/tenants", json=tenant, headers=auth) as r:
            assert r.status == 201, await r.text()
        body = json.dumps(
            {
                "resource_id": "CALGCP1",
                "company_id": "9090",
                "customer_phone_number": "+13035550142",
                "answered": "true",
                "duration": "30",
                "first_call": "true",
                "recording": stack.recordings.recording_url(urls["recordings"], "CALGCP1"),
            }
        ).encode()
        headers = {"Content-Type": "application/json", "Signature": sign(KEY, body)}
        async with http.post(f"{service.url}/v1/callrail/webhook", data=body, headers=headers) as r:
            assert r.status == 202, await r.text()
        deadline = time.monotonic() + 120
        call: dict[str, Any] = {}
        while time.monotonic() < deadline:
            async with http.get(f"{service.url}/v1/tenants/acme/calls/CALGCP1", headers=auth) as r:
                call = await r.json()
            if call["stage"] in ("COMPLETED", "FAILED"):
                break
            await asyncio.sleep(0.25)
    return call


async def test_a_webhook_reaches_completed_through_the_pubsub_push(
    stack: Stack,
    monkeypatch: pytest.MonkeyPatch,
    fake_gcs: gcs.FakeGcs,
    pubsub_emulator: pubsub.PubSubEmulator,
    spanner_database: Any,
) -> None:
    exporter = InMemorySpanExporter()
    call = await run_scenario(
        stack, monkeypatch, fake_gcs, pubsub_emulator, spanner_database, exporter
    )
    assert call["stage"] == "COMPLETED", call.get("failure")
    assert_one_trace_across_pubsub(await delivered(exporter))
    assert call["recording"]["uri"].startswith(f"gs://{fake_gcs.bucket}/")
    assert call["transcript"]["engine"] == "google-chirp_3"
    assert {s["speaker"] for s in call["transcript"]["segments"]} == {"1", "2"}
    assert call["analysis"]["engine"].startswith("vertex:")
    assert call["analysis"]["tokens"]["input"] > 0  # token counts recorded per call
    assert call["analysis"]["tokens"]["output"] > 0
    assert call["crm_sync"]["status"] == "success"
    assert len(stack.hubspot.calls) == 1
    assert len(stack.hubspot.contacts) == 1


async def test_malformed_gemini_output_ends_in_a_rules_analysis_not_a_failure(
    stack: Stack,
    monkeypatch: pytest.MonkeyPatch,
    fake_gcs: gcs.FakeGcs,
    pubsub_emulator: pubsub.PubSubEmulator,
    spanner_database: Any,
) -> None:
    stack.vertex.always = "malformed"
    call = await run_scenario(stack, monkeypatch, fake_gcs, pubsub_emulator, spanner_database)
    assert call["stage"] == "COMPLETED", call.get("failure")
    assert call["analysis"]["engine"].startswith("rules (vertex fallback")
    assert call["lead_score"]["score"] > 0


async def delivered(exporter: InMemorySpanExporter) -> tuple[ReadableSpan, ...]:
    """The spans once the push's delivery span has ended (just after the call's last save)."""
    deadline = time.monotonic() + 10
    while not any(s.name == "deliver.push" for s in exporter.get_finished_spans()):
        assert time.monotonic() < deadline, "the push delivery's span never ended"
        await asyncio.sleep(0.05)
    return exporter.get_finished_spans()


def assert_one_trace_across_pubsub(spans: tuple[ReadableSpan, ...]) -> None:
    """The webhook's trace goes through the Pub/Sub message's attributes to the push delivery,
    every stage and the adapters in the Google Cloud shape."""
    [admitted] = [s for s in spans if s.name == "admit_call"]
    in_trace = [s for s in spans if s.context.trace_id == admitted.context.trace_id]
    names = {s.name for s in in_trace}
    assert {
        "POST /v1/callrail/webhook",
        "enqueue",
        "deliver.push",
        "process_call",
        "speech.transcribe",
        "analyzer.analyze",
        "storage.put",
        "crm.create_activity",
        "db.commit",
        *(f"stage.{stage}" for stage in ("RECORDING_STORED", "SYNCED", "COMPLETED")),
    } <= names
    by_id = {s.context.span_id: s.name for s in in_trace}
    [delivery] = [s for s in in_trace if s.name == "deliver.push"]
    assert delivery.parent is not None
    assert by_id[delivery.parent.span_id] == "admit_call"
    # The push request itself is a trace of its own; the delivery is not in it.
    pushes = [s for s in spans if s.name == "POST /v1/pubsub/push"]
    assert pushes
    assert all(p.context.trace_id != admitted.context.trace_id for p in pushes)


async def test_with_dynamic_batching_the_call_waits_for_its_transcription_then_completes(
    stack: Stack,
    monkeypatch: pytest.MonkeyPatch,
    fake_gcs: gcs.FakeGcs,
    pubsub_emulator: pubsub.PubSubEmulator,
    spanner_database: Any,
) -> None:
    stack.speech.polls_before_done = 2  # "not done" to the first two deliveries that ask
    call = await run_scenario(
        stack,
        monkeypatch,
        fake_gcs,
        pubsub_emulator,
        spanner_database,
        PIPELINE_SPEECH_PROCESSING="dynamic_batch",
        PIPELINE_SPEECH_CHECK_SECONDS="1",
    )

    assert call["stage"] == "COMPLETED", call.get("failure")
    (operation,) = stack.speech.operations.values()  # recognised once, across deliveries
    assert operation.dynamic
    asked = [r for r in stack.speech.requests if r.method == "GET"]
    assert len(asked) == 3  # two deliveries heard "not done", the third collected it
    assert call["attempts"] <= 2  # waiting spent no attempt
    assert call["transcript"]["text"].startswith("Acme Heating and Air")
    speech = [item for item in call["cost"]["items"] if item["item"].startswith("speech:")]
    assert [item["item"] for item in speech] == ["speech:chirp_3:dynamic_batch"]
