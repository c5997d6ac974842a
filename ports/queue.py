from __future__ import annotations

from typing import Protocol

from domain.jobs import Job


class JobQueue(Protocol):
    """Hands a committed job to the workers. Called after the job's transaction commits; if it
    fails the job is not lost: it is a row in the JobRepository, found again when due."""

    # How long a job handed over by enqueue() may take before it counts as lost and is handed
    # over again: 0 for the local queue (workers claim rows themselves), the push delivery's
    # deadline for Pub/Sub.
    dispatch_grace_s: float

    async def enqueue(self, job: Job) -> None: ...
