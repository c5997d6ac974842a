"""A server span for every request, continuing the caller's trace (W3C traceparent, or Google's
X-Cloud-Trace-Context from Cloud Run's front end), and the tracer's life: made before the first
request, flushed and shut down after the last span (after the workers have stopped)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from entrypoints.http.keys import CONTAINER
from entrypoints.http.problems import Handler

# Probes and scrapes would be a trace each, every few seconds, and say nothing about a call.
UNTRACED_PATHS = frozenset({"/v1/health", "/health/live", "/health/ready", "/v1/metrics"})


def _route(request: web.Request) -> str | None:
    """The matched route's template (/v1/callrail/webhook/{tenant_id}): never the values in the
    path, never the query."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else None


@web.middleware
async def tracing_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path in UNTRACED_PATHS:
        return await handler(request)
    tracer = request.app[CONTAINER].tracer()
    route = _route(request)
    attributes: dict[str, str | int] = {"http.request.method": request.method}
    if route is not None:
        attributes["http.route"] = route
    name = f"{request.method} {route}" if route else request.method
    with tracer.extract(request.headers), tracer.span(name, attributes, kind="server") as span:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            span.set_attribute("http.response.status_code", exc.status)
            raise
        span.set_attribute("http.response.status_code", response.status)
        if response.status >= 500:
            span.record_error(str(response.status))
        return response


async def tracing_lifecycle(app: web.Application) -> AsyncIterator[None]:
    """First in the app's cleanup contexts, so last out: every other context's spans (the
    workers' last calls) are exported before the exporters stop."""
    container = app[CONTAINER]
    # Cloud Trace's resource detection asks the metadata server: not on the event loop.
    tracer = await asyncio.to_thread(container.tracer)
    yield
    close = getattr(tracer, "aclose", None)
    if close is not None:
        await close()
