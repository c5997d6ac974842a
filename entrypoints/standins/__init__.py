"""Local stand-ins for the CRMs: aiohttp applications that speak HubSpot's and Salesforce's wire
formats from memory. The tests drive the real adapters against them, and `ingestion-pipeline
demo` uses the HubSpot one as its CRM so the demo shows real-shaped records.

They listen on 127.0.0.1 only."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import attrs
from aiohttp import web


@attrs.frozen
class RecordedRequest:
    method: str
    path: str
    query: str
    at: float  # time.monotonic() when the request arrived
    body: Any = None  # the JSON body, parsed; None when there was none


async def record(request: web.Request, into: list[RecordedRequest]) -> None:
    arrived = time.monotonic()
    body: Any = None
    if request.can_read_body and request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            body = None
    into.append(RecordedRequest(request.method, request.path, request.query_string, arrived, body))


async def scripted_failure(
    fail_next: list[int | str], hold_s: float, text: str | None = None
) -> web.Response | None:
    """The next failure a test scripted, or None: a status to answer, or "timeout" (the request
    held `hold_s`, past the client's patience, then 504)."""
    if not fail_next:
        return None
    failure = fail_next.pop(0)
    if failure == "timeout":
        await asyncio.sleep(hold_s)
        failure = 504
    return web.Response(status=int(failure), text=text)


def drop_connection(request: web.Request) -> None:
    """Closes the connection under the response: the work is done, the client never hears."""
    if request.transport is not None:
        request.transport.abort()


@attrs.frozen
class RunningServer:
    url: str
    runner: web.AppRunner

    async def close(self) -> None:
        await self.runner.cleanup()


async def start_server(app: web.Application) -> RunningServer:
    """Serves `app` on 127.0.0.1 at a free port; the caller closes it."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
    except BaseException:
        await runner.cleanup()
        raise
    return RunningServer(f"http://{host}:{port}", runner)


@contextlib.asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """`async with serve(fake.app()) as base_url: ...`"""
    server = await start_server(app)
    try:
        yield server.url
    finally:
        await server.close()
