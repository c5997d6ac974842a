"""The tracer's life in the app: made before the first request, flushed and shut down after the
last span (after the workers have stopped). Each request's server span is observe_middleware's
(entrypoints.http.observe)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from entrypoints.http.keys import CONTAINER


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
