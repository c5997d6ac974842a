"""The local queue's side of processing: claim due jobs, settle them by the outcome, and sweep
calls that fell out of the queue. (Pub/Sub does the first two itself in the cloud shape.)"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import attrs

from domain.jobs import Job
from domain.usecases.processing import Outcome, ProcessResult
from ports.queue import JobQueue
from ports.repositories import UnitOfWorkFactory
from ports.system import Clock, IdGenerator


class ClaimDueJobs:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, claim_s: float = 60.0):
        self._uow = uow
        self._clock = clock
        self._claim_s = claim_s

    async def __call__(self, worker_id: str, limit: int) -> Sequence[Job]:
        async with self._uow() as uow:
            jobs = await uow.jobs.claim_due(self._clock.now(), worker_id, self._claim_s, limit)
            await uow.commit()
        return jobs


class KeepClaims:
    """Heartbeat for the jobs a worker is still working on, so their claims do not lapse."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, claim_s: float = 60.0):
        self._uow = uow
        self._clock = clock
        self._claim_s = claim_s

    async def __call__(self, job_ids: Sequence[str], worker_id: str) -> None:
        until = self._clock.now() + timedelta(seconds=self._claim_s)
        async with self._uow() as uow:
            await uow.jobs.extend_claims(job_ids, worker_id, until)
            await uow.commit()


class SettleJob:
    """Done and dead jobs leave the queue; the others come back when the outcome says."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock):
        self._uow = uow
        self._clock = clock

    async def __call__(self, job: Job, result: ProcessResult) -> None:
        async with self._uow() as uow:
            if result.outcome in (Outcome.DONE, Outcome.FAILED, Outcome.GONE):
                await uow.jobs.complete(job.job_id)
            else:
                due = self._clock.now() + timedelta(seconds=result.retry_after_s)
                await uow.jobs.reschedule(job.job_id, due, result.reason)
            await uow.commit()


@attrs.frozen
class SweepReport:
    requeued: tuple[tuple[str, str], ...]


class SweepStalledCalls:
    """CallRail never resends a webhook, so a call whose job was lost (a failed publish, a
    deleted row) is found here by its stage and age and given a new job."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        queue: JobQueue,
        clock: Clock,
        ids: IdGenerator,
        stalled_after_s: float = 900.0,
    ):
        self._uow = uow
        self._queue = queue
        self._clock = clock
        self._ids = ids
        self._stalled_after_s = stalled_after_s

    async def __call__(self, limit: int = 500) -> SweepReport:
        now = self._clock.now()
        jobs: list[Job] = []
        async with self._uow() as uow:
            stalled = await uow.calls.stalled(now - timedelta(seconds=self._stalled_after_s), limit)
            for tenant_id, call_id in stalled:
                job = Job(self._ids.new_id(), tenant_id, call_id, now)
                grace = timedelta(seconds=self._queue.dispatch_grace_s)
                await uow.jobs.add(job, due_at=now + grace)
                jobs.append(job)
            await uow.commit()
        for job in jobs:
            await self._queue.enqueue(job)
        return SweepReport(tuple((j.tenant_id, j.call_id) for j in jobs))


class DispatchDueJobs:
    """The Pub/Sub shape's outbox: jobs are rows in the database, and this publishes the ones
    that are due and not out for delivery — a retry whose time has come, or a job whose
    publish was lost. A published job is claimed for `grace_s`: if its delivery has not
    settled by then, it is published again (processing it twice is harmless: the call's lease
    and its persisted stages make the second delivery a no-op)."""

    def __init__(self, uow: UnitOfWorkFactory, queue: JobQueue, clock: Clock, grace_s: float):
        self._uow = uow
        self._queue = queue
        self._clock = clock
        self._grace_s = grace_s

    async def __call__(self, limit: int = 500) -> int:
        async with self._uow() as uow:
            jobs = await uow.jobs.claim_due(self._clock.now(), "dispatcher", self._grace_s, limit)
            await uow.commit()
        for job in jobs:
            await self._queue.enqueue(job)
        return len(jobs)
