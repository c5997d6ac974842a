from __future__ import annotations

from typing import Protocol

from domain.jobs import Job


class JobQueue(Protocol):
    """Hands a committed job to the workers. Called after the job's transaction commits; if it
    fails the job is not lost (it is in the JobRepository, or the sweep finds the call)."""

    async def enqueue(self, job: Job) -> None: ...
