"""The aiohttp application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from entrypoints import retention_sweep
from entrypoints.container import Container, close_clients
from entrypoints.http import admin, health, metrics, openapi, push, retention, webhook
from entrypoints.http.keys import CONTAINER
from entrypoints.http.observe import observe_middleware
from entrypoints.http.problems import answer_parser_errors_as_problems
from entrypoints.http.tracing import tracing_lifecycle
from entrypoints.http.webhook import MAX_BODY
from entrypoints.migrations import migrate_database


async def _stores(app: web.Application) -> AsyncIterator[None]:
    """Opens the database (and, for SQLite, applies its migrations: one machine needs no
    set-up step; Spanner's are applied by `ingestion-pipeline migrate` at deploy time), and
    closes every client the container made, in reverse, at shutdown."""
    container = app[CONTAINER]
    db = container.database()
    await db.open()
    if container.settings().database.backend == "sqlite":
        await migrate_database(container)
    yield
    await close_clients(container)
    await db.close()


async def _worker(app: web.Application) -> AsyncIterator[None]:
    """The in-process workers (after the database opens, stopped before it closes: cleanup
    contexts unwind in reverse). Local queue: a pool draining the jobs table. Pub/Sub: the
    outbox dispatcher and the sweep; Pub/Sub pushes the jobs to /v1/pubsub/push."""
    container = app[CONTAINER]
    worker = (
        container.worker()
        if container.settings().queue.backend == "local"
        else container.dispatcher()
    )
    worker.start()
    yield
    await worker.stop()


def create_app(container: Container) -> web.Application:
    answer_parser_errors_as_problems()
    app = web.Application(
        middlewares=[observe_middleware],
        client_max_size=MAX_BODY,
    )
    app[CONTAINER] = container
    app.cleanup_ctx.append(tracing_lifecycle)  # first in, last out: flushes every span
    app.cleanup_ctx.append(_stores)
    app.cleanup_ctx.append(metrics.lifecycle)  # needs the database; flushes before it closes
    settings = container.settings()
    service = settings.service_type
    # PIPELINE_WORKER_CONCURRENCY=0: this instance only accepts; jobs wait for other workers.
    if service in ("all", "worker") and settings.processing.worker_concurrency > 0:
        app.cleanup_ctx.append(_worker)
    if service in ("all", "worker"):
        app.cleanup_ctx.append(retention_sweep.lifecycle)  # expired audio and transcripts
    if service in ("all", "worker") and settings.queue.backend == "pubsub":
        push.add_routes(app)
    health.add_routes(app)
    metrics.add_routes(app)
    openapi.add_routes(app, settings.version)
    if service in ("all", "webhook"):
        webhook.add_routes(app)
    if service in ("all", "api"):
        admin.add_routes(app)
        retention.add_routes(app)
    return app
