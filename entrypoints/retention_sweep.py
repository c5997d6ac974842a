"""The retention sweep `serve` runs beside its workers: every hour (the first a minute after
start), each tenant's expired audio is deleted and its expired transcripts and analyses erased
(domain/usecases/retention.py). Several instances may sweep at once: a call changed by another
is left to the next run, and deleting what is gone already is harmless."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from domain.errors import DomainError
from domain.usecases.retention import ExpireCommand, ExpiryReport, Progress
from entrypoints.http.keys import CONTAINER

log = logging.getLogger("ingestion_pipeline.retention")

Expire = Callable[[ExpireCommand, Progress], Awaitable[ExpiryReport]]
EVERY_S = 3600.0
FIRST_AFTER_S = 60.0


class RetentionSweeper:
    def __init__(
        self, expire: Expire, *, every_s: float = EVERY_S, first_after_s: float = FIRST_AFTER_S
    ):
        self._expire = expire
        self._every_s = every_s
        self._first_after_s = first_after_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="retention-sweep")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def sweep_once(self) -> ExpiryReport | None:
        try:
            report = await self._expire(ExpireCommand(), lambda line: log.info("%s", line))
        except (DomainError, OSError) as exc:  # the store is down: the next run tries again
            log.warning("retention sweep failed: %s", exc)
            return None
        if report.calls:
            log.info(
                "retention sweep expired %d call(s)",
                len(report.calls),
                extra={"event": "retention_sweep", "calls": len(report.calls)},
            )
        return report

    async def _run(self) -> None:
        await asyncio.sleep(self._first_after_s)
        while True:
            await self.sweep_once()
            await asyncio.sleep(self._every_s)


async def lifecycle(app: web.Application) -> AsyncIterator[None]:
    """An aiohttp cleanup context: the sweep runs while the app does (after the database
    opens, stopped before it closes)."""
    sweeper = RetentionSweeper(app[CONTAINER].expire_calls())
    sweeper.start()
    yield
    await sweeper.stop()
