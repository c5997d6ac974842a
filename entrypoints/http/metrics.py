"""GET /v1/metrics for Prometheus (each request is counted and timed by its route's template
and status in entrypoints.http.observe). Every instance (webhook, worker, api) serves its own
figures."""

from __future__ import annotations

from aiohttp import web

from adapters.otel.metrics import CONTENT_TYPE
from entrypoints.http.keys import CONTAINER

METRICS_PATH = "/v1/metrics"


async def metrics(request: web.Request) -> web.Response:
    exporter = request.app[CONTAINER].metrics()
    await exporter.refresh()
    return web.Response(body=exporter.render(), headers={"Content-Type": CONTENT_TYPE})


def add_routes(app: web.Application) -> None:
    app.router.add_get(METRICS_PATH, metrics)
