"""Every error is answered as application/problem+json (RFC 9457). No body ever
carries a stack trace or a secret: domain messages are written not to hold one, and anything
unexpected is logged and answered with a generic 500.

That includes what aiohttp refuses before any handler runs (a malformed request line or header,
two Content-Lengths): see answer_malformed_http."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import ContentEncodingError, HttpProcessingError, LineTooLong

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
from entrypoints.http.problem_types import (
    CONCURRENT_UPDATE,
    HEADER_TOO_LARGE,
    ILLEGAL_TRANSITION,
    INTERNAL_ERROR,
    INVALID_REQUEST,
    INVALID_SIGNATURE,
    MALFORMED_BODY,
    MALFORMED_HTTP,
    NOT_AUTHENTICATED,
    PAYLOAD_TOO_LARGE,
    PROBLEM_TYPES,
    SECRET_UNAVAILABLE,
    STORAGE_UNAVAILABLE,
    TENANT_EXISTS,
    UNKNOWN_CALL,
    UNKNOWN_TENANT,
    UNSUPPORTED_MEDIA_TYPE,
    ProblemType,
)

log = logging.getLogger("ingestion_pipeline.http")

PROBLEM = "application/problem+json"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# An HTTP error aiohttp raised (no route, a method not allowed) is matched to its kind by its
# status and reason phrase; the 409s share a title, and are only ever named by their ProblemType.
_BY_STATUS_AND_TITLE = {
    (kind.status, kind.title): kind
    for kind in PROBLEM_TYPES
    if sum((k.status, k.title) == (kind.status, kind.title) for k in PROBLEM_TYPES) == 1
}

_KIND_OF: dict[type[DomainError], ProblemType] = {
    ValidationFailed: INVALID_REQUEST,
    MalformedPayload: MALFORMED_BODY,
    InvalidSignature: INVALID_SIGNATURE,
    AuthenticationFailed: NOT_AUTHENTICATED,
    TenantNotFound: UNKNOWN_TENANT,
    TenantInactive: UNKNOWN_TENANT,  # as TenantNotFound: nothing to tell them apart
    CallNotFound: UNKNOWN_CALL,
    TenantAlreadyExists: TENANT_EXISTS,
    IllegalTransition: ILLEGAL_TRANSITION,
    ConcurrentUpdate: CONCURRENT_UPDATE,
    SecretNotFound: SECRET_UNAVAILABLE,
    StorageUnavailable: STORAGE_UNAVAILABLE,
}


def problem(
    status: int, title: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> web.Response:
    """The problem of the kind with this status and title (an HTTP error aiohttp raised, titled
    by its reason phrase); one no kind has is `about:blank`, as RFC 9457 has it. Code that knows
    the kind calls problem_of."""
    kind = _BY_STATUS_AND_TITLE.get((status, title))
    type_uri = kind.uri if kind is not None else "about:blank"
    return _answer(type_uri, status, title, detail, headers, extra)


def problem_of(
    kind: ProblemType, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> web.Response:
    return _answer(kind.uri, kind.status, kind.title, detail, headers, extra)


def _answer(
    type_uri: str,
    status: int,
    title: str,
    detail: str,
    headers: dict[str, str] | None,
    extra: dict[str, Any],
) -> web.Response:
    body = {"type": type_uri, "title": title, "status": status, "detail": detail, **extra}
    headers = dict(headers or {})
    if status == 503:
        headers["Retry-After"] = "5"
    return web.Response(status=status, text=json.dumps(body), content_type=PROBLEM, headers=headers)


def domain_problem(exc: DomainError) -> web.Response:
    kind = next((v for k, v in _KIND_OF.items() if isinstance(exc, k)), INTERNAL_ERROR)
    if isinstance(exc, ValidationFailed):
        errors = [{"field": f.field, "message": f.message} for f in exc.fields]
        return problem_of(kind, str(exc), errors=errors)
    if isinstance(exc, (StorageUnavailable, SecretNotFound)):
        log.error("dependency unavailable: %s", exc)
        return problem_of(kind, "a dependency is unavailable; try again later")
    if isinstance(exc, AuthenticationFailed):
        return problem_of(kind, str(exc), {"WWW-Authenticate": "Bearer"})
    return problem_of(kind, str(exc))


def as_problem(request: web.Request, exc: Exception) -> web.Response:
    """The problem+json answer for what a handler raised (an HTTPException under 400, a
    redirect, is no error: callers let it go on). Called in the `except` block, so that an
    unexpected error is logged with its traceback.

    observe_middleware calls this around the handler itself, instead of a middleware of its
    own: every request went through one more layer of coroutines for it."""
    if isinstance(exc, DomainError):
        return domain_problem(exc)
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return problem_of(PAYLOAD_TOO_LARGE, "the body is larger than this endpoint accepts")
    if isinstance(exc, web.HTTPException):
        allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else {}
        return problem(exc.status, exc.reason, exc.text or exc.reason, allow)
    log.exception("unhandled error on %s %s", request.method, request.path)
    return problem_of(INTERNAL_ERROR, "the request failed; it has been logged")


def end_unreadable_body(request: web.Request, answer: web.Response) -> web.Response:
    """`answer`, with the connection closed after it. A body aiohttp failed to read (gzip that
    is not gzip) keeps its error: aiohttp would read it again after the answer and log the
    error with a traceback, so the stream is ended here."""
    if request.content.exception() is not None:
        request.content.feed_eof()
    answer.force_close()
    return answer


_aiohttp_handle_error = web.RequestHandler.handle_error


def answer_malformed_http(
    handler: web.RequestHandler,
    request: web.BaseRequest,
    status: int = 500,
    exc: BaseException | None = None,
    message: str | None = None,
) -> web.StreamResponse:
    """RequestHandler.handle_error for what aiohttp's HTTP parser refuses, before any route,
    middleware or handler: a problem+json (431 for an over-long line or too many headers, 415
    for an unknown Content-Encoding, 400 otherwise) that echoes none of the request's bytes,
    and one WARNING line naming the error's kind only. aiohttp's own answer quotes the bad
    line (a bearer token with one stray byte in it) in the body, and logs it with a traceback.

    aiohttp offers no hook for these (aio-libs/aiohttp#3287, #9882): create_app installs it
    on RequestHandler itself (answer_parser_errors_as_problems). Any other error goes to
    aiohttp's handle_error as before."""
    if not isinstance(exc, HttpProcessingError) or request.writer.output_size > 0:
        return _aiohttp_handle_error(handler, request, status, exc, message)
    if isinstance(exc, LineTooLong) or exc.message.startswith("Too many headers"):
        answer = problem_of(HEADER_TOO_LARGE, "a request line or header is too long")
    elif isinstance(exc, ContentEncodingError):
        answer = problem_of(UNSUPPORTED_MEDIA_TYPE, "send the body without a Content-Encoding")
    else:
        answer = problem_of(MALFORMED_HTTP, "the request is not well-formed HTTP/1.1")
    log.warning("refused a malformed request (%s): %d", type(exc).__name__, answer.status)
    answer.force_close()
    return answer


def answer_parser_errors_as_problems() -> None:
    """Every aiohttp server of this process answers HTTP it cannot parse with a problem."""
    # setattr: mypy allows no assignment to a method.
    setattr(web.RequestHandler, "handle_error", answer_malformed_http)  # noqa: B010
