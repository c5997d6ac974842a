"""/v1/health in the Google Cloud shape asks each service it uses, with the credentials and
names the work uses, instead of answering `not_checked`: Cloud Storage (fake-gcs-server),
Speech-to-Text v2 and Vertex AI (their stand-ins), each healthy when it answers and unhealthy,
with a reason, when it does not."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from entrypoints.standins import RunningServer, start_server
from entrypoints.standins.speech import FakeSpeech
from entrypoints.standins.vertex import FakeVertex
from tests.emulators import gcs
from tests.integration.conftest import AiohttpClient, make_app

fake_gcs = gcs.fake_gcs


@pytest.fixture
async def standins() -> AsyncIterator[tuple[FakeSpeech, RunningServer, RunningServer]]:
    speech = FakeSpeech()
    speech_server = await start_server(speech.app())
    vertex_server = await start_server(FakeVertex().app())
    yield speech, speech_server, vertex_server
    await vertex_server.close()
    await speech_server.close()


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"  # nothing listens there once the socket is closed


async def health(
    tmp_path: Path, aiohttp_client: AiohttpClient, bucket: str, speech: str, vertex: str
) -> tuple[int, dict[str, Any]]:
    app = make_app(
        tmp_path,
        PIPELINE_AUDIO_STORE_URL=f"gs://{bucket}/audio",
        PIPELINE_TRANSCRIBER="google-speech",
        PIPELINE_SPEECH_ENDPOINT=speech,
        PIPELINE_ANALYZER="vertex",
        PIPELINE_VERTEX_BASE_URL=vertex,
        PIPELINE_GCP_PROJECT="health-project",
        PIPELINE_WORKER_CONCURRENCY="0",
    )
    client: TestClient[Any, Any] = await aiohttp_client(app)
    response = await client.get("/v1/health")
    body: dict[str, Any] = await response.json()
    return response.status, body


async def test_each_google_service_is_asked_and_healthy_when_it_answers(
    tmp_path: Path,
    aiohttp_client: AiohttpClient,
    fake_gcs: gcs.FakeGcs,
    standins: tuple[FakeSpeech, RunningServer, RunningServer],
) -> None:
    speech, speech_server, vertex_server = standins
    status, body = await health(
        tmp_path, aiohttp_client, fake_gcs.bucket, speech_server.url, vertex_server.url + "/"
    )

    assert status == 200
    services = body["services"]
    assert services["storage"] == {"status": "healthy", "detail": "cloud storage"}
    assert services["speech_api"] == {"status": "healthy", "detail": "speech-to-text v2"}
    assert services["vertex_ai"] == {"status": "healthy", "detail": "vertex ai gemini"}
    assert body["status"] == "healthy"
    asked = [r.path for r in speech.requests]
    assert asked == ["/v2/projects/health-project/locations/us/recognizers"]


async def test_a_missing_bucket_a_refusing_speech_api_and_an_unreachable_vertex_are_unhealthy(
    tmp_path: Path,
    aiohttp_client: AiohttpClient,
    fake_gcs: gcs.FakeGcs,
    standins: tuple[FakeSpeech, RunningServer, RunningServer],
) -> None:
    speech, speech_server, _ = standins
    speech.fail_next(1, status=403)

    status, body = await health(
        tmp_path, aiohttp_client, "no-such-bucket-here", speech_server.url, closed_port_url()
    )

    services = body["services"]
    assert services["storage"]["status"] == "unhealthy"
    assert "no-such-bucket-here does not exist" in services["storage"]["detail"]
    assert services["speech_api"]["status"] == "unhealthy"
    assert "Speech-to-Text failed listing recognizers" in services["speech_api"]["detail"]
    assert services["vertex_ai"] == {
        "status": "unhealthy",
        "detail": "vertex ai gemini: unreachable",
    }
    assert body["status"] == "degraded"  # the database answers: degraded, not down
    assert status == 200
