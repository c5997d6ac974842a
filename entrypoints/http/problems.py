"""Every error is answered as application/problem+json (RFC 9457). No body ever
carries a stack trace or a secret: domain messages are written not to hold one, and anything
unexpected is logged and answered with a generic 500."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from domain.errors import (
    AuthenticationFailed,
    CallNotFound,
    ConcurrentUpdate,
    DomainError,
    IllegalTransition,
    InvalidSignature,
    MalformedPayload,
    SecretNotFound,
    StorageUnavailable,
    TenantAlreadyExists,
    TenantInactive,
    TenantNotFound,
    ValidationFailed,
)

log = logging.getLogger("ingestion_pipeline.http")

PROBLEM = "application/problem+json"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_STATUS: dict[type[DomainError], tuple[int, str]] = {
    ValidationFailed: (400, "Invalid request"),
    MalformedPayload: (400, "Malformed body"),
    InvalidSignature: (401, "Invalid signature"),
    AuthenticationFailed: (401, "Not authenticated"),
    TenantNotFound: (404, "Unknown tenant"),
    TenantInactive: (404, "Tenant not active"),
    CallNotFound: (404, "Unknown call"),
    TenantAlreadyExists: (409, "Conflict"),
    IllegalTransition: (409, "Conflict"),
    ConcurrentUpdate: (409, "Conflict"),
    SecretNotFound: (503, "Secret unavailable"),
    StorageUnavailable: (503, "Storage unavailable"),
}


def problem(
    status: int, title: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> web.Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    headers = dict(headers or {})
    if status == 503:
        headers["Retry-After"] = "5"
    return web.Response(status=status, text=json.dumps(body), content_type=PROBLEM, headers=headers)


def domain_problem(exc: DomainError) -> web.Response:
    status, title = next(
        (v for k, v in _STATUS.items() if isinstance(exc, k)), (500, "Internal error")
    )
    if isinstance(exc, ValidationFailed):
        errors = [{"field": f.field, "message": f.message} for f in exc.fields]
        return problem(status, title, str(exc), errors=errors)
    if isinstance(exc, (StorageUnavailable, SecretNotFound)):
        log.error("dependency unavailable: %s", exc)
        return problem(status, title, "a dependency is unavailable; try again later")
    if isinstance(exc, AuthenticationFailed):
        return problem(status, title, str(exc), {"WWW-Authenticate": "Bearer"})
    return problem(status, title, str(exc))


def as_problem(request: web.Request, exc: Exception) -> web.Response:
    """The problem+json answer for what a handler raised (an HTTPException under 400, a
    redirect, is no error: callers let it go on). Called in the `except` block, so that an
    unexpected error is logged with its traceback.

    observe_middleware calls this around the handler itself, instead of a middleware of its
    own: every request went through one more layer of coroutines for it."""
    if isinstance(exc, DomainError):
        return domain_problem(exc)
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return problem(413, "Payload too large", "the body is larger than this endpoint accepts")
    if isinstance(exc, web.HTTPException):
        allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else {}
        return problem(exc.status, exc.reason, exc.text or exc.reason, allow)
    log.exception("unhandled error on %s %s", request.method, request.path)
    return problem(500, "Internal error", "the request failed; it has been logged")
