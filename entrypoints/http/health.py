"""Health for people (/v1/health) and for the platform (/health/live, /health/ready)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from entrypoints.http.keys import CONTAINER
from ports.health import ComponentHealth, HealthProbe

PROBE_TIMEOUT_S = 2.0


async def _check(probe: HealthProbe | None) -> ComponentHealth:
    if probe is None:
        return ComponentHealth("not_checked", "no probe for this adapter")
    try:
        return await asyncio.wait_for(probe.check(), PROBE_TIMEOUT_S)
    except TimeoutError:
        return ComponentHealth("unhealthy", f"no answer within {PROBE_TIMEOUT_S:.0f}s")


def _view(health: ComponentHealth) -> dict[str, Any]:
    view: dict[str, Any] = {"status": health.status}
    if health.detail:
        view["detail"] = health.detail
    view.update(health.figures)
    return view


async def health(request: web.Request) -> web.Response:
    container = request.app[CONTAINER]
    probes: dict[str, HealthProbe | None] = {
        "database": container.database_probe(),
        "storage": container.storage_probe(),
        "speech_api": container.speech_probe(),
        "vertex_ai": container.analyzer_probe(),
        "queue": container.queue_probe(),
    }
    results = await asyncio.gather(*(_check(p) for p in probes.values()))
    services = dict(zip(probes, results, strict=True))
    if container.settings().analyzer == "rules":
        services["vertex_ai"] = ComponentHealth("disabled", "the rules analyzer needs no service")
    statuses = {s.status for s in results}
    if services["database"].status == "unhealthy":
        overall = "unhealthy"
    elif "unhealthy" in statuses or "degraded" in statuses:
        overall = "degraded"
    else:
        overall = "healthy"
    body = {
        "status": overall,
        "timestamp": container.clock().now().isoformat(),
        "version": container.settings().version,
        "services": {name: _view(s) for name, s in services.items()},
    }
    return web.json_response(body, status=503 if overall == "unhealthy" else 200)


async def live(request: web.Request) -> web.Response:
    return web.json_response({"status": "alive"})


async def ready(request: web.Request) -> web.Response:
    database = await _check(request.app[CONTAINER].database_probe())
    ok = database.status == "healthy"
    body = {"status": "ready" if ok else "not_ready", "database": _view(database)}
    return web.json_response(body, status=200 if ok else 503)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/health", health)
    app.router.add_get("/health/live", live)
    app.router.add_get("/health/ready", ready)
