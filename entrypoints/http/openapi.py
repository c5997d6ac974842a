"""GET /v1/openapi.json: the OpenAPI 3.1 description of every HTTP route, written here as data
(the schemas in openapi_schemas) rather than generated from the handlers, so that it reads as
the contract it is. tests/integration/test_http_openapi.py holds it to the routes the app
serves, and every answer the HTTP tests receive to it."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from adapters.otel.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from domain.usecases.calls import MAX_PAGE
from entrypoints.http.openapi_schemas import SCHEMAS, Schema, problem_schema_name, ref
from entrypoints.http.problem_types import (
    ADMIN_API_CLOSED,
    CONCURRENT_UPDATE,
    HEADER_TOO_LARGE,
    ILLEGAL_TRANSITION,
    INTERNAL_ERROR,
    INVALID_REQUEST,
    INVALID_SIGNATURE,
    MALFORMED_BODY,
    MALFORMED_HTTP,
    METHOD_NOT_ALLOWED,
    NO_ROUTE,
    NOT_AUTHENTICATED,
    OPERATOR_ONLY,
    PAYLOAD_TOO_LARGE,
    SECRET_UNAVAILABLE,
    STORAGE_UNAVAILABLE,
    TENANT_EXISTS,
    UNKNOWN_CALL,
    UNKNOWN_TENANT,
    UNSUPPORTED_MEDIA_TYPE,
    ProblemType,
)
from entrypoints.http.problems import PROBLEM

OPENAPI_PATH = "/v1/openapi.json"
JSON = "application/json"

# The problems of a route that reads a JSON body, of one that needs the operator token, and of
# one the operator or the tenant's own API key may call (checking a key reads the database).
BODY = (PAYLOAD_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE, MALFORMED_BODY)
OPERATOR = (NOT_AUTHENTICATED, ADMIN_API_CLOSED, OPERATOR_ONLY, STORAGE_UNAVAILABLE)
TENANT_READ = (NOT_AUTHENTICATED, UNKNOWN_TENANT, STORAGE_UNAVAILABLE)
# Headers every answer of a status carries.
HEADERS = {503: {"Retry-After": "seconds to wait before trying again"}}


def _json(schema: Schema, media: str = JSON) -> dict[str, Any]:
    return {"content": {media: {"schema": schema}}}


def _problems(kinds: Iterable[ProblemType]) -> dict[str, Any]:
    """One response per status, its body one of the kinds listed (always INTERNAL_ERROR too)."""
    by_status: dict[int, list[ProblemType]] = {}
    for kind in (*kinds, INTERNAL_ERROR):
        if kind not in by_status.setdefault(kind.status, []):
            by_status[kind.status].append(kind)
    responses: dict[str, Any] = {}
    for status, group in sorted(by_status.items()):
        schemas = [ref(problem_schema_name(k)) for k in group]
        response: dict[str, Any] = {
            "description": "; ".join(f"{k.name}: {k.meaning}" for k in group),
            **_json(schemas[0] if len(schemas) == 1 else {"oneOf": schemas}, PROBLEM),
        }
        if status in HEADERS:
            response["headers"] = {
                name: {"required": True, "description": text, "schema": {"type": "string"}}
                for name, text in HEADERS[status].items()
            }
        responses[str(status)] = response
    return responses


def _operation(
    summary: str,
    answers: dict[int, tuple[str, dict[str, Any]]],
    problems: Iterable[ProblemType] = (),
    **more: Any,
) -> dict[str, Any]:
    """`answers`: status -> (description, content or headers) of the successful answers."""
    responses = {str(s): {"description": d, **content} for s, (d, content) in answers.items()}
    return {"summary": summary, **more, "responses": {**responses, **_problems(problems)}}


def _path_parameter(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string"},
    }


def _query(name: str, description: str, schema: Schema | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


def _body(schema: Schema, *, required: bool = True, merge_patch: bool = False) -> dict[str, Any]:
    content = {JSON: {"schema": schema}}
    if merge_patch:
        content["application/merge-patch+json"] = {"schema": schema}
    return {"required": required, "content": content}


TENANT_ID = _path_parameter("tenant_id", "the tenant")
CALL_ID = _path_parameter("call_id", "CallRail's call id (CAL…, or the legacy numeric id)")
SINCE = _query(
    "since",
    "calls received at or after this time (ISO 8601 with a UTC offset)",
    {"type": "string", "format": "date-time"},
)
OPERATOR_AUTH: list[dict[str, list[str]]] = [{"operatorToken": []}]
TENANT_AUTH: list[dict[str, list[str]]] = [{"operatorToken": []}, {"tenantApiKey": []}]

WEBHOOK = _operation(
    "A call from CallRail",
    {
        202: (
            "a new call, durably recorded and queued; or a Call Modified that runs a stored "
            "call again (`change`)",
            _json(ref("WebhookAnswer")),
        ),
        200: (
            "a call already accepted: its state; nothing changed (`duplicate`), or a Call "
            "Modified's metadata stored (`change`)",
            _json(ref("WebhookAnswer")),
        ),
    },
    (
        *BODY,
        INVALID_REQUEST,
        INVALID_SIGNATURE,
        UNKNOWN_TENANT,
        CONCURRENT_UPDATE,
        SECRET_UNAVAILABLE,
        STORAGE_UNAVAILABLE,
    ),
    description="Signed by CallRail (header Signature). The tenant is found from the body's "
    "company id, or from the path. A call is answered 2xx only once it is durably recorded.",
    security=[{"callrailSignature": []}],
    requestBody=_body({"anyOf": [ref("CallRailCall"), ref("FlatWebhook")]}),
)

PATHS: dict[str, Any] = {
    "/v1/callrail/webhook": {"post": {**WEBHOOK, "operationId": "receiveWebhook"}},
    "/v1/callrail/webhook/{tenant_id}": {
        "parameters": [TENANT_ID],
        "post": {**WEBHOOK, "operationId": "receiveTenantWebhook"},
    },
    "/v1/pubsub/push": {
        "post": _operation(
            "A job delivered by a Pub/Sub push subscription",
            {
                204: (
                    "processed, rescheduled in the outbox, or permanently failed: acknowledged",
                    {},
                )
            },
            (*BODY, NOT_AUTHENTICATED, STORAGE_UNAVAILABLE),
            description="Served by worker instances on the Pub/Sub queue only. 503: nothing "
            "could be recorded; Pub/Sub redelivers. 400: the envelope is malformed; Pub/Sub "
            "retries it, then dead-letters it.",
            operationId="pubsubPush",
            security=[{"pubsubOidc": []}, {}],
            requestBody=_body(ref("PushEnvelope")),
        )
    },
    "/v1/health": {
        "get": _operation(
            "Health of the service and each dependency",
            {
                200: ("healthy or degraded", _json(ref("Health"))),
                503: ("unhealthy: the database is unreachable", _json(ref("Health"))),
            },
            operationId="health",
            security=[],
        )
    },
    "/health/live": {
        "get": _operation(
            "Liveness: the process answers",
            {200: ("alive", _json(ref("Live")))},
            operationId="live",
            security=[],
        )
    },
    "/health/ready": {
        "get": _operation(
            "Readiness: the database is reachable and migrated",
            {
                200: ("ready", _json(ref("Ready"))),
                503: ("not ready", _json(ref("Ready"))),
            },
            operationId="ready",
            security=[],
        )
    },
    "/v1/metrics": {
        "get": _operation(
            "Prometheus metrics of this instance",
            {200: ("the text exposition format", _json({"type": "string"}, "text/plain"))},
            operationId="metrics",
            security=[],
            description=f"Content-Type: {METRICS_CONTENT_TYPE}",
        )
    },
    OPENAPI_PATH: {
        "get": _operation(
            "This document",
            {200: ("OpenAPI 3.1", _json({"type": "object"}))},
            operationId="openapi",
            security=[],
        )
    },
    "/v1/tenants": {
        "post": _operation(
            "Create a tenant",
            {
                201: (
                    'created; secrets read "***"',
                    {
                        **_json(ref("Tenant")),
                        "headers": {
                            "Location": {"required": True, "schema": {"type": "string"}},
                        },
                    },
                )
            },
            (*OPERATOR, *BODY, INVALID_REQUEST, TENANT_EXISTS),
            operationId="createTenant",
            security=OPERATOR_AUTH,
            requestBody=_body(ref("TenantDocument")),
        ),
        "get": _operation(
            "Every tenant",
            {200: ("the tenants", _json(ref("TenantList")))},
            OPERATOR,
            operationId="listTenants",
            security=OPERATOR_AUTH,
        ),
    },
    "/v1/tenants/{tenant_id}": {
        "parameters": [TENANT_ID],
        "get": _operation(
            "A tenant",
            {200: ('the tenant; secrets read "***"', _json(ref("Tenant")))},
            (*OPERATOR, UNKNOWN_TENANT),
            operationId="getTenant",
            security=OPERATOR_AUTH,
        ),
        "patch": _operation(
            "Change a tenant",
            {200: ("the tenant as changed", _json(ref("Tenant")))},
            (*OPERATOR, *BODY, INVALID_REQUEST, UNKNOWN_TENANT, CONCURRENT_UPDATE),
            operationId="updateTenant",
            security=OPERATOR_AUTH,
            requestBody=_body(ref("TenantPatch"), merge_patch=True),
        ),
        "delete": _operation(
            "Delete a tenant and everything held for it: calls, jobs, audio (quarantined and "
            "redacted copies too), usage, API keys. Secrets in the secret store are named, not "
            "deleted. Safe to repeat after a failure: a repeat finishes the work.",
            {200: ("what went, by kind", _json(ref("TenantDeletion")))},
            (*OPERATOR, INVALID_REQUEST, UNKNOWN_TENANT),
            operationId="deleteTenant",
            security=OPERATOR_AUTH,
            parameters=[
                {**_query("confirm", "the tenant's id again"), "required": True},
            ],
        ),
    },
    "/v1/tenants/{tenant_id}/api-keys": {
        "parameters": [TENANT_ID],
        "post": _operation(
            "Issue an API key that reads this tenant's calls only",
            {201: ("the key, shown this once; only its hash is kept", _json(ref("ApiKey")))},
            (*OPERATOR, UNKNOWN_TENANT),
            operationId="issueApiKey",
            security=OPERATOR_AUTH,
        ),
    },
    "/v1/tenants/{tenant_id}/calls": {
        "parameters": [TENANT_ID],
        "get": _operation(
            "The tenant's calls, newest first, a page at a time",
            {200: ("a page", _json(ref("CallPage")))},
            (*TENANT_READ, INVALID_REQUEST),
            operationId="listCalls",
            security=TENANT_AUTH,
            parameters=[
                _query(
                    "status",
                    "received, processing, completed, failed, or a stage; several comma-separated",
                ),
                SINCE,
                _query(
                    "limit",
                    "calls a page (default 50)",
                    {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
                ),
                _query("page_token", "next_page_token of the page before"),
            ],
        ),
    },
    "/v1/tenants/{tenant_id}/calls/{call_id}": {
        "parameters": [TENANT_ID, CALL_ID],
        "get": _operation(
            "A call in full",
            {200: ("the call", _json(ref("Call")))},
            (*TENANT_READ, UNKNOWN_CALL),
            operationId="getCall",
            security=TENANT_AUTH,
        ),
        "delete": _operation(
            "Delete a call and everything held for it: its row, jobs and audio",
            {200: ("what went, by kind", _json(ref("CallDeletion")))},
            (*OPERATOR, UNKNOWN_CALL, CONCURRENT_UPDATE),
            operationId="deleteCall",
            security=OPERATOR_AUTH,
        ),
    },
    "/v1/tenants/{tenant_id}/calls/{call_id}/reprocess": {
        "parameters": [TENANT_ID, CALL_ID],
        "post": _operation(
            "Run a finished or failed call again from a stage",
            {202: ("queued again; the call as it now is", _json(ref("Call")))},
            (
                *OPERATOR,
                *BODY,
                INVALID_REQUEST,
                UNKNOWN_CALL,
                ILLEGAL_TRANSITION,
                CONCURRENT_UPDATE,
            ),
            operationId="reprocessCall",
            security=OPERATOR_AUTH,
            requestBody=_body(ref("Reprocess"), required=False),
        ),
    },
    "/v1/tenants/{tenant_id}/expire": {
        "parameters": [TENANT_ID],
        "post": _operation(
            "Delete the audio and erase the transcripts and analyses past the tenant's "
            "retention (config.retention); the metadata and the score stay. dry_run lists them "
            "and changes nothing.",
            {200: ("the calls expired, or that would be", _json(ref("Expiry")))},
            (*OPERATOR, INVALID_REQUEST, UNKNOWN_TENANT),
            operationId="expireCalls",
            security=OPERATOR_AUTH,
            parameters=[_query("dry_run", "true: list only", {"type": "boolean"})],
        ),
    },
    "/v1/deletions": {
        "get": _operation(
            "The record of deletions, newest first: who, what, when (never personal data; a "
            "call is named by a digest of its id)",
            {200: ("the records", _json(ref("DeletionList")))},
            (*OPERATOR, INVALID_REQUEST),
            operationId="listDeletions",
            security=OPERATOR_AUTH,
            parameters=[
                _query("tenant_id", "one tenant's (also once it is deleted)"),
                _query("limit", "at most this many", {"type": "integer", "minimum": 1}),
            ],
        ),
    },
    "/v1/tenants/{tenant_id}/stats": {
        "parameters": [TENANT_ID],
        "get": _operation(
            "The tenant's figures: requests, success rate, processing time, CRM syncs, lead "
            "tiers, failures by stage, usage by day",
            {200: ("the figures", _json(ref("Stats")))},
            (*TENANT_READ, INVALID_REQUEST),
            operationId="tenantStats",
            security=TENANT_AUTH,
            parameters=[SINCE],
        ),
    },
}

SECURITY_SCHEMES = {
    "operatorToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "The operator token (PIPELINE_OPERATOR_TOKEN). Unset: the admin API "
        "answers 403 admin-api-closed.",
    },
    "tenantApiKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "A tenant's API key (POST /v1/tenants/{tenant_id}/api-keys, or `tenants "
        "api-key`): reads that tenant's calls and figures only; another tenant's are answered "
        "404 as if they did not exist.",
    },
    "callrailSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "Signature",
        "description": "base64(HMAC-SHA1(the tenant's signing key as text, the raw body)), as "
        "CallRail signs its webhooks.",
    },
    "pubsubOidc": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "The OIDC token Google signs a push with; verified (audience, issuer, "
        "service account) when PIPELINE_PUSH_AUDIENCE is set.",
    },
}

DESCRIPTION = f"""The multi-tenant CallRail call-ingestion pipeline's HTTP API.

Which routes an instance serves depends on PIPELINE_SERVICE_TYPE (`all`, `webhook`, `worker`,
`api`); health, metrics and this document are served by every instance.

Every GET also answers HEAD (its headers, no body).

Errors are `{PROBLEM}` (RFC 9457); each kind has a `type` of its own, listed with its status and
title as the Problem-* schemas. Besides the answers listed per route, any request can get
{NO_ROUTE.name} (404) or {METHOD_NOT_ALLOWED.name} (405, with Allow), and HTTP the server cannot
parse is answered {MALFORMED_HTTP.name} (400), {HEADER_TOO_LARGE.name} (431) or
{UNSUPPORTED_MEDIA_TYPE.name} (415, a Content-Encoding it does not know) before any route."""


def document(version: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Ingestion pipeline",
            "version": version,
            "description": DESCRIPTION,
        },
        "servers": [{"url": "/"}],
        "security": TENANT_AUTH,
        "paths": PATHS,
        "components": {"schemas": SCHEMAS, "securitySchemes": SECURITY_SCHEMES},
    }


OPENAPI_DOCUMENT = web.AppKey("openapi_document", bytes)


async def openapi_json(request: web.Request) -> web.Response:
    return web.Response(body=request.app[OPENAPI_DOCUMENT], content_type=JSON)


def add_routes(app: web.Application, version: str) -> None:
    app[OPENAPI_DOCUMENT] = json.dumps(document(version), indent=1).encode()
    app.router.add_get(OPENAPI_PATH, openapi_json)
