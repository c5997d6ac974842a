"""The aiohttp application factory."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator

from aiohttp import web

from adapters.sqlite.migrations import migrate
from entrypoints.container import Container
from entrypoints.http import admin, health, webhook
from entrypoints.http.keys import CONTAINER
from entrypoints.http.problems import Handler, problem_middleware
from entrypoints.http.webhook import MAX_BODY

access_log = logging.getLogger("ingestion_pipeline.access")


@web.middleware
async def access_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    response = await handler(request)
    # The path only: query strings and bodies can carry tokens and phone numbers.
    access_log.info(
        "%s %s %s",
        request.method,
        request.path,
        response.status,
        extra={
            "http": {
                "method": request.method,
                "path": request.path,
                "status": response.status,
                "latency_ms": round((time.perf_counter() - started) * 1000, 2),
            }
        },
    )
    return response


async def _database(app: web.Application) -> AsyncIterator[None]:
    container = app[CONTAINER]
    db = container.database()
    await db.open()
    await migrate(db)
    yield
    await db.close()


async def _worker(app: web.Application) -> AsyncIterator[None]:
    """The in-process workers that drain the local queue (after the database opens, and
    stopped before it closes: cleanup contexts unwind in reverse)."""
    worker = app[CONTAINER].worker()
    worker.start()
    yield
    await worker.stop()
    await app[CONTAINER].crm().close()


def create_app(container: Container) -> web.Application:
    app = web.Application(
        middlewares=[access_middleware, problem_middleware],
        client_max_size=MAX_BODY,
    )
    app[CONTAINER] = container
    app.cleanup_ctx.append(_database)
    service = container.settings().service_type
    # PIPELINE_WORKER_CONCURRENCY=0: this instance only accepts; jobs wait for other workers.
    if service in ("all", "worker") and container.settings().processing.worker_concurrency > 0:
        app.cleanup_ctx.append(_worker)
    health.add_routes(app)
    if service in ("all", "webhook"):
        webhook.add_routes(app)
    if service in ("all", "api"):
        admin.add_routes(app)
    return app
