"""DeliverJob: one delivery, from the local worker or a Pub/Sub push: process the call, then
settle its job. A job leaves the queue only when its call is terminal or provably absent: a
read that missed the call (a storage hiccup, a reader behind the writer) must not drop it."""

from __future__ import annotations

from adapters.memory.fakes import FixedClock
from adapters.memory.repositories import (
    InMemoryCallRepository,
    InMemoryUnitOfWork,
    InMemoryUnitOfWorkFactory,
    _State,
)
from domain.call import Call
from domain.jobs import Job
from domain.usecases.jobs import DeliverJob
from domain.usecases.processing import Outcome
from ports.repositories import UnitOfWork
from tests.unit.test_process_call import Harness


class _MissingCalls(InMemoryCallRepository):
    async def get(self, tenant_id: str, call_id: str) -> Call | None:
        return None


class _MissingUnit(InMemoryUnitOfWork):
    def _bind(self, state: _State) -> None:
        super()._bind(state)
        self.calls = _MissingCalls(state)


class MissesTheCallOnce(InMemoryUnitOfWorkFactory):
    """The store, but its first unit of work does not find the call that is there."""

    def __init__(self) -> None:
        super().__init__()
        self.misses = 0

    def __call__(self, *, read_only: bool = False) -> UnitOfWork:
        if self.misses:
            self.misses -= 1
            return _MissingUnit(self.db, read_only)
        return super().__call__(read_only=read_only)


async def queue_job(h: Harness) -> Job:
    job = Job("job-1", "acme", "CALc1", h.clock.now())
    async with h.uow() as uow:
        await uow.jobs.add(job, due_at=h.clock.now())
        await uow.commit()
    return job


async def pending(h: Harness) -> list[str]:
    async with h.uow(read_only=True) as uow:
        return [j.job_id for j in await uow.jobs.pending_for("acme", "CALc1")]


async def test_a_done_call_settles_its_job(clock: FixedClock) -> None:
    h = Harness(clock)
    await h.setup()
    job = await queue_job(h)

    result = await DeliverJob(h.process, h.uow, clock)(job, "w1")

    assert result.outcome is Outcome.DONE
    assert await pending(h) == []


async def test_a_call_missed_by_one_read_keeps_its_job_and_is_processed_later(
    clock: FixedClock,
) -> None:
    flaky = MissesTheCallOnce()
    h = Harness(clock, uow=flaky)
    await h.setup()
    job = await queue_job(h)
    flaky.misses = 1

    first = await DeliverJob(h.process, flaky, clock)(job, "w1")

    assert first.outcome is Outcome.GONE
    assert await pending(h) == ["job-1"], "the call exists: its job stays in the queue"
    clock.advance(2)
    again = await DeliverJob(h.process, flaky, clock)(job, "w2")
    assert again.outcome is Outcome.DONE
    assert await pending(h) == []


async def test_a_job_whose_call_is_gone_leaves_the_queue(clock: FixedClock) -> None:
    h = Harness(clock)
    await h.setup()
    job = Job("job-ghost", "acme", "CALghost", clock.now())

    result = await DeliverJob(h.process, h.uow, clock)(job, "w1")

    assert result.outcome is Outcome.GONE
    async with h.uow(read_only=True) as uow:
        assert await uow.jobs.pending_for("acme", "CALghost") == []
