"""GET /v1/metrics for Prometheus, and the middleware that counts and times every request by its
route's template and status. Every instance (webhook, worker, api) serves its own figures."""

from __future__ import annotations

import asyncio
import time

from aiohttp import web

from adapters.otel.metrics import CONTENT_TYPE
from entrypoints.http.keys import CONTAINER
from entrypoints.http.problems import Handler

METRICS_PATH = "/v1/metrics"
UNMATCHED = "unmatched"  # any path no route knows: one label, whatever was asked for
CLIENT_CLOSED = 499  # the client went away before the answer (nginx's convention)


def route_template(request: web.Request) -> str:
    """The matched route's template (/v1/tenants/{tenant_id}/calls), never the path's values."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else UNMATCHED


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outermost, so the status is the one sent after problem_middleware mapped the errors."""
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    except asyncio.CancelledError:
        status = CLIENT_CLOSED
        raise
    finally:
        request.app[CONTAINER].metrics().http_request(
            request.method, route_template(request), status, time.perf_counter() - started
        )


async def metrics(request: web.Request) -> web.Response:
    exporter = request.app[CONTAINER].metrics()
    await exporter.refresh()
    return web.Response(body=exporter.render(), headers={"Content-Type": CONTENT_TYPE})


def add_routes(app: web.Application) -> None:
    app.router.add_get(METRICS_PATH, metrics)
