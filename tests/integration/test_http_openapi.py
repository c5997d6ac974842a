"""GET /v1/openapi.json: a valid OpenAPI 3.1 document that describes exactly the routes the app
serves, that the README walk-through's requests and answers match, and that catches an answer
it does not describe. (Every answer of the other HTTP tests is held to it by the autouse
fixture in conftest.)"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from openapi_spec_validator import OpenAPIV31SpecValidator

from entrypoints.http.problem_types import (
    NO_ROUTE,
    NOT_AUTHENTICATED,
    PROBLEM_TYPES,
    TENANT_EXISTS,
)
from entrypoints.http.problems import PROBLEM
from tests.e2e.test_readme_walkthrough import walkthrough
from tests.integration.conftest import (
    OPERATOR_TOKEN,
    AiohttpClient,
    Client,
    create_tenant,
    make_app,
    operator,
)
from tests.integration.openapi_check import MISMATCHES, hold_to_openapi, request_mismatch
from tests.support import tenant_document

AiohttpServer = Callable[[web.Application], Awaitable[TestServer]]
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


async def served_document(client: Client) -> dict[str, Any]:
    response = await client.get("/v1/openapi.json")
    assert response.status == 200
    assert response.content_type == "application/json"
    document: dict[str, Any] = await response.json()
    return document


async def test_the_document_served_is_valid_openapi_3_1(client: Client) -> None:
    document = await served_document(client)
    errors = [e.message for e in OpenAPIV31SpecValidator(document).iter_errors()]
    assert errors == []
    assert document["openapi"].startswith("3.1")


async def test_every_route_served_is_described_and_every_route_described_is_served(
    tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    # Every route at once: all services, on the Pub/Sub queue (which adds /v1/pubsub/push).
    app = make_app(tmp_path, PIPELINE_QUEUE_URL="pubsub://projects/proj-1/topics/calls")
    served = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.method != "HEAD"  # aiohttp's, with each GET
    }
    document = await served_document(await aiohttp_client(make_app(tmp_path / "other")))
    described = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in METHODS
    }
    assert ("POST", "/v1/pubsub/push") in served
    assert served == described


def test_each_problem_has_a_type_of_its_own() -> None:
    uris = [kind.uri for kind in PROBLEM_TYPES]
    assert len(set(uris)) == len(uris)
    assert "about:blank" not in uris
    assert len({kind.name for kind in PROBLEM_TYPES}) == len(PROBLEM_TYPES)


async def test_problems_keep_their_titles_and_statuses_and_name_their_type(
    client: Client,
) -> None:
    unauthenticated = await client.get("/v1/tenants")
    duplicate_document = tenant_document()
    await create_tenant(client, duplicate_document)
    duplicate = await client.post("/v1/tenants", json=duplicate_document, headers=operator())
    nowhere = await client.get("/v1/nowhere")
    answers = [
        (unauthenticated, NOT_AUTHENTICATED),
        (duplicate, TENANT_EXISTS),
        (nowhere, NO_ROUTE),
    ]
    for response, kind in answers:
        body = await response.json(content_type=PROBLEM)
        assert (response.status, body["title"], body["type"]) == (kind.status, kind.title, kind.uri)
    assert (duplicate.status, (await duplicate.json(content_type=PROBLEM))["title"]) == (
        409,
        "Conflict",
    )


async def test_the_readme_walkthrough_requests_and_answers_match_the_document(
    tmp_path: Path, aiohttp_server: AiohttpServer
) -> None:
    requests: list[tuple[str, str | None]] = []

    @web.middleware
    async def check_request(request: web.Request, handler: Any) -> web.StreamResponse:
        requests.append((request.path, request_mismatch(request, await request.read())))
        response: web.StreamResponse = await handler(request)
        return response

    app = make_app(tmp_path)
    app.middlewares.insert(0, check_request)
    server = await aiohttp_server(app)
    script = await asyncio.create_subprocess_exec(
        "bash",
        "-euo",
        "pipefail",
        "-c",
        walkthrough(),
        env={"BASE": str(server.make_url("")), "TOKEN": OPERATOR_TOKEN, "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(script.communicate(), 60)
    assert script.returncode == 0, (out + err).decode()
    assert requests == [
        ("/v1/tenants", None),
        ("/v1/callrail/webhook", None),
        ("/v1/tenants/demo-tenant-001/calls/CAL0001", None),
    ]
    # The answers were checked as they were sent (openapi_check), the problems of the
    # walk-through's answers with them: none.


async def test_an_answer_the_document_does_not_describe_is_caught(
    aiohttp_client: AiohttpClient,
) -> None:
    """The check can fail: a health answer missing its keys, a status the operation does not
    list, and an unknown path answered without a problem are each reported."""

    async def wrong_health(request: web.Request) -> web.Response:
        return web.json_response({"status": "fine"})

    async def teapot(request: web.Request) -> web.Response:
        return web.json_response({"status": "alive"}, status=418)

    async def not_a_problem(request: web.Request) -> web.Response:
        return web.json_response({"error": "no such thing"}, status=404)

    app = web.Application()
    app.router.add_get("/v1/health", wrong_health)
    app.router.add_get("/health/live", teapot)
    app.router.add_get("/v1/somewhere-else", not_a_problem)
    client = await aiohttp_client(hold_to_openapi(app))
    for path in ("/v1/health", "/health/live", "/v1/somewhere-else"):
        await client.get(path)
    caught = list(MISMATCHES)
    MISMATCHES.clear()  # seen on purpose: the autouse check must not fail this test
    assert [m.split(":")[0] for m in caught] == [
        "GET /v1/health 200",
        "GET /health/live 418",
        "GET /v1/somewhere-else 404",
    ]


@pytest.mark.parametrize("service", ["webhook", "worker", "api"])
async def test_every_instance_serves_the_document(
    tmp_path: Path, aiohttp_client: AiohttpClient, service: str
) -> None:
    client = await aiohttp_client(make_app(tmp_path, PIPELINE_SERVICE_TYPE=service))
    document = await served_document(client)
    assert "/v1/tenants/{tenant_id}/calls/{call_id}" in document["paths"]


async def test_a_request_the_document_does_not_describe_is_caught(
    tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    """The walk-through's check can fail: a tenant document without its config, and a webhook
    without a call id, are requests the document refuses (as the service does)."""
    mismatches: list[str | None] = []

    @web.middleware
    async def check_request(request: web.Request, handler: Any) -> web.StreamResponse:
        mismatches.append(request_mismatch(request, await request.read()))
        response: web.StreamResponse = await handler(request)
        return response

    app = make_app(tmp_path)
    app.middlewares.insert(0, check_request)
    client = await aiohttp_client(app)
    no_config = {"tenant_id": "acme", "name": "Acme"}
    assert (await client.post("/v1/tenants", json=no_config, headers=operator())).status == 400
    no_call_id = {"company_id": "12345", "duration": "95"}
    assert (await client.post("/v1/callrail/webhook", json=no_call_id)).status in (400, 401, 404)
    assert all(m is not None for m in mismatches), mismatches
    assert len(mismatches) == 2


async def test_the_push_routes_answers_match_the_document(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, aiohttp_client: AiohttpClient
) -> None:
    """/v1/pubsub/push, served on the Pub/Sub queue only: an envelope as Pub/Sub sends it (for a
    call that is gone: acknowledged, 204), and one that is malformed (400 malformed-body)."""
    # The publisher is made (and closed) at shutdown: pointed at a loopback port, it needs no
    # credentials and sends nothing. (monkeypatch comes first: it is undone after the app.)
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", "127.0.0.1:9")
    app = make_app(
        tmp_path,
        PIPELINE_QUEUE_URL="pubsub://projects/proj-1/topics/calls",
        PIPELINE_WORKER_CONCURRENCY="0",  # nothing published: no Pub/Sub needed
    )
    mismatches: list[str | None] = []

    @web.middleware
    async def check_request(request: web.Request, handler: Any) -> web.StreamResponse:
        mismatches.append(request_mismatch(request, await request.read()))
        response: web.StreamResponse = await handler(request)
        return response

    app.middlewares.insert(0, check_request)
    client = await aiohttp_client(app)
    job = {
        "job_id": "job-1",
        "tenant_id": "acme",
        "call_id": "CAL404",
        "enqueued_at": "2026-03-04T15:30:00+00:00",
    }
    envelope = {
        "message": {
            "data": base64.b64encode(json.dumps(job).encode()).decode(),
            "attributes": {"tenant_id": "acme", "call_id": "CAL404"},
            "messageId": "1",
            "publishTime": "2026-03-04T15:30:01.123Z",
        },
        "subscription": "projects/proj-1/subscriptions/calls-push",
    }
    delivered = await client.post("/v1/pubsub/push", json=envelope)
    malformed = await client.post("/v1/pubsub/push", json={"message": {}})
    assert (delivered.status, malformed.status) == (204, 400)
    assert mismatches[0] is None
    assert mismatches[1] is not None  # the document refuses what the route refuses
