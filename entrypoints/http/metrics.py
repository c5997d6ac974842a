"""GET /v1/metrics for Prometheus (each request is counted and timed by its route's template
and status in entrypoints.http.observe). Every instance (webhook, worker, api) serves its own
figures. When they are also pushed (PIPELINE_METRICS_EXPORT=gcp), nobody asks for them, so the
queue's figures are refreshed here on the export's rhythm, and the last figures are pushed at
shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from adapters.otel.metrics import CONTENT_TYPE, OtelMetrics
from entrypoints.http.keys import CONTAINER

METRICS_PATH = "/v1/metrics"
log = logging.getLogger(__name__)


async def metrics(request: web.Request) -> web.Response:
    exporter = request.app[CONTAINER].metrics()
    await exporter.refresh()
    return web.Response(body=exporter.render(), headers={"Content-Type": CONTENT_TYPE})


def add_routes(app: web.Application) -> None:
    app.router.add_get(METRICS_PATH, metrics)


async def lifecycle(app: web.Application) -> AsyncIterator[None]:
    """A cleanup context (after the database opens): keeps a pushing exporter's queue figures
    fresh, and pushes the last ones at shutdown, before the database closes."""
    container = app[CONTAINER]
    # Off the loop: with the Cloud Monitoring export, building it asks the metadata server
    # where it runs (a blocking request, seconds when there is none).
    exporter = await asyncio.to_thread(container.metrics)
    if not exporter.pushes:
        yield
        return
    every_s = container.settings().metrics.interval_s / 2
    task = asyncio.create_task(_refresh_every(exporter, every_s), name="metrics-refresh")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    with contextlib.suppress(Exception):  # the last figures if they can be read; pushed anyway
        await exporter.refresh()
    await asyncio.to_thread(exporter.shutdown)


async def _refresh_every(exporter: OtelMetrics, every_s: float) -> None:
    while True:
        try:
            await exporter.refresh()
        except Exception:  # a failed reading leaves the gauges out; the next one may succeed
            log.warning("could not read the queue's figures for the metrics", exc_info=True)
        await asyncio.sleep(every_s)
