"""Jobs: deliver one (process its call, settle it), sweep calls that fell out of the queue, and
publish due jobs (the Pub/Sub shape's outbox)."""

from __future__ import annotations

from datetime import timedelta

import attrs

from domain.jobs import Job
from domain.usecases.processing import Outcome, ProcessCall, ProcessCallCommand, ProcessResult
from ports.queue import JobQueue
from ports.repositories import UnitOfWorkFactory
from ports.system import Clock, IdGenerator


class DeliverJob:
    """One delivery of a job, whichever queue brought it (the local worker, a Pub/Sub push):
    process the call, then settle the job by the outcome. Done and failed jobs leave the
    queue; the others come back when the outcome says. A job leaves as "gone" only when a
    fresh read finds no such call: a read that missed it (a storage hiccup) must not drop it."""

    def __init__(self, process: ProcessCall, uow: UnitOfWorkFactory, clock: Clock):
        self._process = process
        self._uow = uow
        self._clock = clock

    async def __call__(self, job: Job, owner: str) -> ProcessResult:
        result = await self._process(ProcessCallCommand(job.tenant_id, job.call_id, owner))
        async with self._uow() as uow:
            done = result.outcome in (Outcome.DONE, Outcome.FAILED)
            if result.outcome is Outcome.GONE:
                done = await uow.calls.get(job.tenant_id, job.call_id) is None
            if done:
                await uow.jobs.complete(job.job_id)
            else:
                wait_s = 1.0 if result.outcome is Outcome.GONE else result.retry_after_s
                due = self._clock.now() + timedelta(seconds=wait_s)
                await uow.jobs.reschedule(job.job_id, due, result.reason)
            await uow.commit()
        return result


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
