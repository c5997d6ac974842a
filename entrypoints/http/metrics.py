"""GET /v1/metrics for Prometheus, and the middleware that counts and times every request by its
route's template and status. Every instance (webhook, worker, api) serves its own figures; the
processes of one `serve --processes N` serve theirs added up."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from aiohttp import web

from adapters.otel.metrics import CONTENT_TYPE, merge_renders
from entrypoints.http.keys import CONTAINER, GROUP_DIR
from entrypoints.http.problems import Handler
from entrypoints.processes import group_socket, siblings

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
