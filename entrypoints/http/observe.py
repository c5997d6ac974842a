"""What every request leaves behind, in one middleware (the outermost): its count and latency by
route template and status (metrics), a server span continuing the caller's trace (W3C
traceparent, or Google's X-Cloud-Trace-Context from Cloud Run's front end), and an access log
line written inside that span, so it carries the trace's ids; errors answered as problems
(entrypoints.http.problems) inside it. One middleware instead of four, and no coroutine of its
own between it and the handler: each was a layer that every webhook went through."""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import AbstractContextManager

from aiohttp import web

from entrypoints.http.keys import CONTAINER
from entrypoints.http.problems import Handler, as_problem
from entrypoints.logs import log_fields
from ports.telemetry import NoTracing, Span, Tracer

UNMATCHED = "unmatched"  # any path no route knows: one label, whatever was asked for
CLIENT_CLOSED = 499  # the client went away before the answer (nginx's convention)
# Probes and scrapes would be a trace each, every few seconds, and say nothing about a call.
UNTRACED_PATHS = frozenset({"/v1/health", "/health/live", "/health/ready", "/v1/metrics"})

access_log = logging.getLogger("ingestion_pipeline.access")
_UNTRACED = NoTracing()  # for UNTRACED_PATHS: no context to continue, no span


def route_template(request: web.Request) -> str | None:
    """The matched route's template (/v1/tenants/{tenant_id}/calls): never the values in the
    path, never the query; None for a path no route knows."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else None


@web.middleware
async def observe_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The only middleware: the status counted and logged is the one sent, after the errors
    were answered as problems (as_problem, around the handler itself)."""
    started = time.perf_counter()
    method = request.method
    template = route_template(request)
    status = 500
    try:
        tracer = _UNTRACED if request.path in UNTRACED_PATHS else request.app[CONTAINER].tracer()
        # The span is made inside the caller's context, once extract's has been entered.
        with tracer.extract(request.headers), _server_span(tracer, method, template) as span:
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                if exc.status < 400:  # a redirect: no error, it goes on as it is
                    span.set_attribute("http.response.status_code", exc.status)
                    raise
                response = as_problem(request, exc)
            except Exception as exc:
                response = as_problem(request, exc)
            status = response.status
            span.set_attribute("http.response.status_code", status)
            if status >= 500:
                span.record_error(str(status))
            _log_access(request, status, started)
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    except asyncio.CancelledError:
        status = CLIENT_CLOSED
        raise
    finally:
        request.app[CONTAINER].metrics().http_request(
            method, template or UNMATCHED, status, time.perf_counter() - started
        )


def _server_span(tracer: Tracer, method: str, template: str | None) -> AbstractContextManager[Span]:
    attributes: dict[str, str | int] = {"http.request.method": method}
    if template is not None:
        attributes["http.route"] = template
    return tracer.span(f"{method} {template}" if template else method, attributes, kind="server")


def _log_access(request: web.Request, status: int, started: float) -> None:
    # The path only: query strings and bodies can carry tokens and phone numbers.
    method, path = request.method, request.path
    http = {
        "method": method,
        "path": path,
        "status": status,
        "latency_ms": round((time.perf_counter() - started) * 1000, 2),
    }
    log_fields(access_log, logging.INFO, f"{method} {path} {status}", {"http": http})
