"""The local durable queue. The job row is written by the unit of work in the call's own
transaction (SqliteJobRepository); enqueue() only wakes the in-process workers, so a crash
between commit and wake-up loses nothing: the workers find the row when they next look."""

from __future__ import annotations

import asyncio

from domain.jobs import Job
from ports.queue import JobQueue


class SqliteJobQueue(JobQueue):
    dispatch_grace_s = 0.0

    def __init__(self) -> None:
        self.wakeup = asyncio.Event()

    async def enqueue(self, job: Job) -> None:
        self.wakeup.set()
