from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from entrypoints.config import load_settings
from entrypoints.container import build_container
from entrypoints.http.app import create_app

OPERATOR_TOKEN = "operator-token-for-tests-0123456789"
Client = TestClient[web.Request, web.Application]
AiohttpClient = Callable[..., Awaitable[Client]]


def make_app(tmp_path: Path, **env: str) -> web.Application:
    settings = load_settings(
        {
            "PIPELINE_DATABASE_URL": f"sqlite:///{tmp_path / 'pipeline.db'}",
            "PIPELINE_OPERATOR_TOKEN": OPERATOR_TOKEN,
            **env,
        }
    )
    return create_app(build_container(settings))


@pytest.fixture
async def client(tmp_path: Path, aiohttp_client: AiohttpClient) -> Client:
    """The real app on a real aiohttp server, over a SQLite file, with an operator token."""
    return await aiohttp_client(make_app(tmp_path))


def operator() -> dict[str, str]:
    return {"Authorization": f"Bearer {OPERATOR_TOKEN}"}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def create_tenant(client: Client, document: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/v1/tenants", json=document, headers=operator())
    assert response.status == 201, await response.text()
    body: dict[str, Any] = await response.json()
    return body
