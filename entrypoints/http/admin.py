"""Tenant administration (operator token) and call reads (operator or the tenant's own key)."""

from __future__ import annotations

import hmac
import json
from datetime import datetime
from typing import Any

from aiohttp import web

from domain.errors import (
    AuthenticationFailed,
    FieldError,
    MalformedPayload,
    TenantNotFound,
    ValidationFailed,
)
from domain.paging import utc_time
from domain.usecases.calls import MAX_PAGE, ListCallsQuery
from domain.usecases.reprocess import ReprocessCommand, parse_stage
from domain.usecases.stats import StatsQuery
from domain.webhook import lone_surrogate_fields
from entrypoints.http.keys import CONTAINER
from entrypoints.http.problem_types import ADMIN_API_CLOSED, OPERATOR_ONLY
from entrypoints.http.problems import problem_of
from entrypoints.http.webhook import read_json_body
from entrypoints.presenters import call_summary, call_view, stats_view, tenant_view

OPERATOR = "operator"


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    if not (token.isascii() and token.isprintable()):
        # Bytes aiohttp let through (obs-text, read as surrogate escapes): no token of ours.
        # Refused before anything encodes, hashes or logs it.
        raise AuthenticationFailed("the bearer token must be printable ASCII")
    return token


def _is_operator(request: web.Request, token: str) -> bool:
    expected = request.app[CONTAINER].settings().operator_token
    return expected is not None and hmac.compare_digest(token.encode(), expected.encode())


async def _principal(request: web.Request) -> str:
    """OPERATOR, or the id of the tenant whose API key was presented."""
    token = _bearer(request)
    if token is None:
        raise AuthenticationFailed("send Authorization: Bearer <operator token or tenant API key>")
    if _is_operator(request, token):
        return OPERATOR
    return await request.app[CONTAINER].authenticate_api_key()(token)


async def require_operator(request: web.Request) -> web.Response | None:
    if request.app[CONTAINER].settings().operator_token is None:
        return problem_of(
            ADMIN_API_CLOSED, "set PIPELINE_OPERATOR_TOKEN to open it; the CLI works meanwhile"
        )
    if await _principal(request) != OPERATOR:
        return problem_of(OPERATOR_ONLY, "this needs the operator token")
    return None


async def _require_tenant_access(request: web.Request, tenant_id: str) -> None:
    principal = await _principal(request)
    if principal not in (OPERATOR, tenant_id):
        # As if it did not exist: a tenant's key learns nothing about other tenants.
        raise TenantNotFound(f"no tenant {tenant_id}")


async def _json_object(request: web.Request) -> dict[str, Any] | web.Response:
    body = await read_json_body(request)
    if isinstance(body, web.Response):
        return body
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise MalformedPayload("the body is not valid JSON (UTF-8)") from None
    if not isinstance(document, dict):
        raise MalformedPayload("the body must be a JSON object")
    if fields := lone_surrogate_fields(document):
        raise ValidationFailed([FieldError(f, "must be Unicode text") for f in fields], "body")
    return document


async def create_tenant(request: web.Request) -> web.Response:
    if (denied := await require_operator(request)) is not None:
        return denied
    document = await _json_object(request)
    if isinstance(document, web.Response):
        return document
    tenant = await request.app[CONTAINER].create_tenant()(document)
    return web.json_response(
        tenant_view(tenant), status=201, headers={"Location": f"/v1/tenants/{tenant.tenant_id}"}
    )


async def list_tenants(request: web.Request) -> web.Response:
    if (denied := await require_operator(request)) is not None:
        return denied
    tenants = await request.app[CONTAINER].list_tenants()()
    return web.json_response({"tenants": [tenant_view(t) for t in tenants]})


async def get_tenant(request: web.Request) -> web.Response:
    if (denied := await require_operator(request)) is not None:
        return denied
    tenant = await request.app[CONTAINER].get_tenant()(request.match_info["tenant_id"])
    return web.json_response(tenant_view(tenant))


async def patch_tenant(request: web.Request) -> web.Response:
    if (denied := await require_operator(request)) is not None:
        return denied
    patch = await _json_object(request)
    if isinstance(patch, web.Response):
        return patch
    tenant = await request.app[CONTAINER].update_tenant()(request.match_info["tenant_id"], patch)
    return web.json_response(tenant_view(tenant))


async def issue_api_key(request: web.Request) -> web.Response:
    if (denied := await require_operator(request)) is not None:
        return denied
    tenant_id = request.match_info["tenant_id"]
    key = await request.app[CONTAINER].issue_api_key()(tenant_id)
    return web.json_response({"tenant_id": tenant_id, "api_key": key}, status=201)


def _since(text: str | None) -> datetime | None:
    """The time in UTC. One that exists only in its own offset (9999-12-31T23:59:59-23:59 is in
    year 10000 in UTC) is refused like any other that is not a time."""
    if not text:
        return None
    try:
        return utc_time(text)
    except ValueError:
        raise ValidationFailed(
            [FieldError("since", "an ISO 8601 time with a UTC offset")], "query"
        ) from None


def query_limit(text: str | None) -> int:
    if text is None:
        return 50
    # ASCII digits only: str.isdigit and int() also take "²" and "٣".
    if not (text.isascii() and text.isdigit()):
        raise ValidationFailed([FieldError("limit", "a whole number")], "query")
    if len(text.lstrip("0")) > len(str(MAX_PAGE)):
        raise ValidationFailed([FieldError("limit", f"from 1 to {MAX_PAGE}")], "query")
    return int(text)


async def list_calls(request: web.Request) -> web.Response:
    tenant_id = request.match_info["tenant_id"]
    await _require_tenant_access(request, tenant_id)
    q = request.query
    page = await request.app[CONTAINER].list_calls()(
        ListCallsQuery(
            tenant_id=tenant_id,
            status=q.get("status"),
            since=_since(q.get("since")),
            limit=query_limit(q.get("limit")),
            cursor=q.get("page_token") or None,
        )
    )
    return web.json_response(
        {"calls": [call_summary(c) for c in page.calls], "next_page_token": page.next_cursor}
    )


async def get_call(request: web.Request) -> web.Response:
    tenant_id = request.match_info["tenant_id"]
    await _require_tenant_access(request, tenant_id)
    container = request.app[CONTAINER]
    call = await container.get_call()(tenant_id, request.match_info["call_id"])
    return web.json_response(call_view(call, container.call_cost()(call)))


async def tenant_stats(request: web.Request) -> web.Response:
    tenant_id = request.match_info["tenant_id"]
    await _require_tenant_access(request, tenant_id)
    query = StatsQuery(tenant_id, since=_since(request.query.get("since")))
    stats = await request.app[CONTAINER].tenant_stats()(query)
    return web.json_response(stats_view(stats))


async def reprocess_call(request: web.Request) -> web.Response:
    if (denied := await require_operator(request)) is not None:
        return denied
    body: dict[str, Any] = {}
    if request.can_read_body:
        parsed = await _json_object(request)
        if isinstance(parsed, web.Response):
            return parsed
        body = parsed
    call = await request.app[CONTAINER].reprocess_call()(
        ReprocessCommand(
            request.match_info["tenant_id"],
            request.match_info["call_id"],
            parse_stage(body.get("from_stage")),
        )
    )
    return web.json_response(call_view(call, request.app[CONTAINER].call_cost()(call)), status=202)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/tenants", create_tenant)
    app.router.add_get("/v1/tenants", list_tenants)
    app.router.add_get("/v1/tenants/{tenant_id}", get_tenant)
    app.router.add_patch("/v1/tenants/{tenant_id}", patch_tenant)
    app.router.add_post("/v1/tenants/{tenant_id}/api-keys", issue_api_key)
    app.router.add_get("/v1/tenants/{tenant_id}/calls", list_calls)
    app.router.add_get("/v1/tenants/{tenant_id}/calls/{call_id}", get_call)
    app.router.add_get("/v1/tenants/{tenant_id}/stats", tenant_stats)
    app.router.add_post("/v1/tenants/{tenant_id}/calls/{call_id}/reprocess", reprocess_call)
