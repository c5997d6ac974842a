"""GET /v1/metrics for Prometheus (each request is counted and timed by its route's template
and status in entrypoints.http.observe). Every instance (webhook, worker, api) serves its own
figures; the processes of one `serve --processes N` serve theirs added up."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from aiohttp import web

from adapters.otel.metrics import CONTENT_TYPE, merge_renders
from entrypoints.http.keys import CONTAINER, GROUP_DIR
from entrypoints.processes import group_socket, siblings

METRICS_PATH = "/v1/metrics"
SIBLING_TIMEOUT_S = 2.0
log = logging.getLogger("ingestion_pipeline.metrics")


async def metrics(request: web.Request) -> web.Response:
    exporter = request.app[CONTAINER].metrics()
    await exporter.refresh()
    body = exporter.render()
    group_dir = request.app.get(GROUP_DIR)
    if group_dir is not None:
        others = await asyncio.gather(
            *(_sibling_render(path) for path in siblings(group_dir, os.getpid()))
        )
        body = merge_renders([body, *(text for text in others if text is not None)])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


async def own_metrics_site(app: web.Application) -> AsyncIterator[None]:
    """A cleanup context for a process of a group: this process's own figures, for its
    siblings, on its socket in the group's directory (no middlewares: not counted, not logged)."""
    exporter = app[CONTAINER].metrics()

    async def own(request: web.Request) -> web.Response:
        await exporter.refresh()
        return web.Response(body=exporter.render(), headers={"Content-Type": CONTENT_TYPE})

    inner = web.Application()
    inner.router.add_get(METRICS_PATH, own)
    runner = web.AppRunner(inner, access_log=None)
    await runner.setup()
    await web.UnixSite(runner, str(group_socket(app[GROUP_DIR], os.getpid()))).start()
    yield
    await runner.cleanup()


async def _sibling_render(path: Path) -> bytes | None:
    """Another process's own figures; None (and left out) if it does not answer in time."""
    with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
        async with (
            aiohttp.ClientSession(
                connector=aiohttp.UnixConnector(path=str(path)),
                timeout=aiohttp.ClientTimeout(total=SIBLING_TIMEOUT_S),
            ) as http,
            http.get(f"http://localhost{METRICS_PATH}") as response,
        ):
            if response.status == 200:
                return await response.read()
    log.warning("the serving process at %s did not give its metrics", path.name)
    return None


def add_routes(app: web.Application) -> None:
    app.router.add_get(METRICS_PATH, metrics)
