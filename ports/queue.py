from __future__ import annotations

from collections.abc import Sequence
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


class LocalJobQueue(JobQueue, Protocol):
    """The queue a worker in this process drains (the embedded shape's)."""

    async def claim(self, worker_id: str, limit: int) -> Sequence[Job]:
        """Up to `limit` due jobs, oldest due first, claimed by this worker for a while."""
        ...

    async def keep(self, job_ids: Sequence[str], worker_id: str) -> None:
        """Heartbeat: the claims of jobs still in progress last a while longer."""
        ...

    async def wait(self, timeout_s: float) -> None:
        """Returns when a job may have been enqueued, or after `timeout_s`."""
        ...
