"""Every answer the HTTP tests' app gives, held to GET /v1/openapi.json.

`hold_to_openapi(app)` puts a middleware outside every other: it sees each answer as it is sent
(problems included) and, with openapi-core, checks it against the operation the request
reached: a status the document lists, a body its schema accepts, the headers it requires. An
answer no operation gives (an unknown path or method) must be one of the route-level problems.
Mismatches are collected, not raised (an exception here would only turn the answer into a
500); the autouse fixture in conftest fails the test that saw any."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aiohttp import web
from openapi_core import Config, OpenAPI
from openapi_core.contrib.aiohttp import AIOHTTPOpenAPIWebRequest, AIOHTTPOpenAPIWebResponse
from openapi_core.exceptions import OpenAPIError
from openapi_schema_validator import OAS31Validator

from entrypoints.http.openapi import PATHS, document
from entrypoints.http.openapi_schemas import SCHEMAS, problem_schema_name
from entrypoints.http.problem_types import METHOD_NOT_ALLOWED, NO_ROUTE
from entrypoints.http.webhook import is_json

# openapi-core reads application/json only; the problems and merge patches are JSON too.
JSON_TOO: dict[str, Callable[[bytes], Any]] = {
    "application/problem+json": json.loads,
    "application/merge-patch+json": json.loads,
}
SPEC = OpenAPI.from_dict(document("tests"), config=Config(extra_media_type_deserializers=JSON_TOO))
# What a request no operation takes may be answered.
UNROUTED = OAS31Validator(
    {
        "components": {"schemas": SCHEMAS},
        "oneOf": [
            {"$ref": f"#/components/schemas/{problem_schema_name(kind)}"}
            for kind in (NO_ROUTE, METHOD_NOT_ALLOWED)
        ],
    }
)
MISMATCHES: list[str] = []


def hold_to_openapi(app: web.Application) -> web.Application:
    app.middlewares.insert(0, _check_answer)
    return app


def request_mismatch(request: web.Request, body: bytes) -> str | None:
    """Why the request does not match the document (None: it does)."""
    try:
        SPEC.validate_request(AIOHTTPOpenAPIWebRequest(request, body=body))
    except OpenAPIError as exc:
        return f"{request.method} {request.path}: request: {_reason(exc)}"
    return None


def answer_mismatch(request: web.Request, response: web.Response) -> str | None:
    """Why the answer does not match the document (None: it does)."""
    where = f"{request.method} {request.path} {response.status}"
    resource = request.match_info.route.resource
    operations: dict[str, Any] = PATHS.get(resource.canonical, {}) if resource else {}
    if request.method.lower() not in operations:
        body = _json_body(response)
        errors = [e.message for e in UNROUTED.iter_errors(body)]
        return f"{where}: unrouted answer: {errors}" if errors else None
    try:
        SPEC.validate_response(
            AIOHTTPOpenAPIWebRequest(request, body=None), AIOHTTPOpenAPIWebResponse(response)
        )
    except OpenAPIError as exc:
        return f"{where}: {_reason(exc)}"
    return None


@web.middleware
async def _check_answer(request: web.Request, handler: Any) -> web.StreamResponse:
    response: web.StreamResponse = await handler(request)
    # HEAD is aiohttp's own companion of every GET (no body to check).
    if request.method == "HEAD" or not isinstance(response, web.Response):
        return response
    if (mismatch := answer_mismatch(request, response)) is not None:
        MISMATCHES.append(mismatch)
    return response


def _json_body(response: web.Response) -> Any:
    if not is_json(response.content_type) or not isinstance(response.body, bytes):
        return None
    return json.loads(response.body)


def _reason(exc: BaseException) -> str:
    """The error and what caused it: openapi-core wraps the schema's errors."""
    reasons = [repr(exc)]
    cause = exc.__cause__ or exc.__context__
    while cause is not None:
        reasons.append(repr(cause))
        cause = cause.__cause__ or cause.__context__
    details = getattr(exc, "schema_errors", None) or []
    return "; ".join(reasons + [str(e.message) for e in details])
