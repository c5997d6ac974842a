from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from entrypoints.config import load_settings
from entrypoints.container import build_container
from entrypoints.http.app import create_app
from tests.integration.openapi_check import MISMATCHES, hold_to_openapi

OPERATOR_TOKEN = "operator-token-for-tests-0123456789"
Client = TestClient[web.Request, web.Application]
AiohttpClient = Callable[..., Awaitable[Client]]


@pytest.fixture(autouse=True)
def answers_match_the_openapi_document() -> Iterator[None]:
    """Every answer an app of make_app gave during the test is one GET /v1/openapi.json
    describes (openapi_check)."""
    MISMATCHES.clear()
    yield
    assert MISMATCHES == [], "answers the OpenAPI document does not describe"


def make_app(tmp_path: Path, **env: str) -> web.Application:
    settings = load_settings(
        {
            "PIPELINE_DATABASE_URL": f"sqlite:///{tmp_path / 'pipeline.db'}",
            "PIPELINE_OPERATOR_TOKEN": OPERATOR_TOKEN,
            "PIPELINE_AUDIO_STORE_URL": f"file://{tmp_path / 'audio'}",
            # Recordings only from loopback: CallRail's real host is refused before any DNS.
            "PIPELINE_RECORDING_ALLOWED_HOSTS": "127.0.0.1",
            **env,
        }
    )
    return hold_to_openapi(create_app(build_container(settings)))


@pytest.fixture
async def client(tmp_path: Path, aiohttp_client: AiohttpClient) -> Client:
    """The real app on a real aiohttp server, over a SQLite file, with an operator token."""
    return await aiohttp_client(make_app(tmp_path))


@pytest.fixture
async def idle_client(tmp_path: Path, aiohttp_client: AiohttpClient) -> Client:
    """The same app with no in-process workers: accepted calls stay RECEIVED."""
    return await aiohttp_client(make_app(tmp_path, PIPELINE_WORKER_CONCURRENCY="0"))


def operator() -> dict[str, str]:
    return {"Authorization": f"Bearer {OPERATOR_TOKEN}"}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def create_tenant(client: Client, document: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/v1/tenants", json=document, headers=operator())
    assert response.status == 201, await response.text()
    body: dict[str, Any] = await response.json()
    return body
