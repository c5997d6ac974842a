"""The queue side of the persistence ports: claiming, settling, leases and the sweep query.
Run against every UnitOfWorkFactory adapter."""

from __future__ import annotations

from datetime import timedelta

from domain.jobs import Job
from domain.stages import Stage
from ports.repositories import UnitOfWorkFactory
from tests.contract.test_repository_contract import (
    T0,
    add_calls,
    add_tenants,
    advance_to,
    make_call,
    make_tenant,
    read_call,
)


async def add_job(
    uow_factory: UnitOfWorkFactory, job_id: str, call_id: str, due_in_s: float = 0
) -> Job:
    job = Job(job_id, "acme", f"CAL{call_id}", T0)  # make_call's ids get CallRail's prefix
    async with uow_factory() as uow:
        await uow.jobs.add(job, due_at=T0 + timedelta(seconds=due_in_s))
        await uow.commit()
    return job


async def claim(
    uow_factory: UnitOfWorkFactory, at_s: float, worker: str = "w1", limit: int = 10
) -> list[str]:
    async with uow_factory() as uow:
        jobs = await uow.jobs.claim_due(T0 + timedelta(seconds=at_s), worker, 30, limit)
        await uow.commit()
    return [j.job_id for j in jobs]


async def setup(uow_factory: UnitOfWorkFactory, *call_ids: str) -> None:
    await add_tenants(uow_factory, make_tenant())
    await add_calls(uow_factory, *(make_call("acme", c, T0) for c in call_ids))


async def test_claims_only_due_jobs_oldest_first_and_not_twice(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await setup(uow_factory, "c1", "c2", "c3")
    await add_job(uow_factory, "j-late", "c1", due_in_s=100)
    await add_job(uow_factory, "j2", "c2", due_in_s=5)
    await add_job(uow_factory, "j1", "c3", due_in_s=1)
    assert await claim(uow_factory, 10) == ["j1", "j2"]
    # Claimed jobs are not handed to another worker while the claim lasts.
    assert await claim(uow_factory, 11, worker="w2") == []
    async with uow_factory() as uow:
        await uow.jobs.complete("j1")
        await uow.jobs.complete("j2")
        await uow.commit()
    assert await claim(uow_factory, 200, worker="w2") == ["j-late"]


async def test_a_lapsed_claim_is_claimed_again(uow_factory: UnitOfWorkFactory) -> None:
    await setup(uow_factory, "c1")
    await add_job(uow_factory, "j1", "c1")
    assert await claim(uow_factory, 0) == ["j1"]
    # The worker died: 30 s later the claim has lapsed and the job is handed out again.
    assert await claim(uow_factory, 31, worker="w2") == ["j1"]


async def test_complete_removes_and_reschedule_returns_the_job(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await setup(uow_factory, "c1", "c2")
    await add_job(uow_factory, "j1", "c1")
    await add_job(uow_factory, "j2", "c2")
    assert await claim(uow_factory, 0) == ["j1", "j2"]
    async with uow_factory() as uow:
        await uow.jobs.complete("j1")
        await uow.jobs.reschedule("j2", T0 + timedelta(seconds=60), "503 from the recording host")
        await uow.commit()
    async with uow_factory(read_only=True) as uow:
        assert await uow.jobs.pending_count() == 1
        assert await uow.jobs.oldest_due() == T0 + timedelta(seconds=60)
    assert await claim(uow_factory, 59) == []
    assert await claim(uow_factory, 60) == ["j2"]


async def test_oldest_due_of_an_empty_queue_is_none(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory(read_only=True) as uow:
        assert await uow.jobs.oldest_due() is None


async def test_extend_lease_only_for_its_owner_and_without_a_version_change(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await setup(uow_factory, "c1")
    call = await read_call(uow_factory, "acme", "CALc1")
    assert call is not None
    call.take_lease("w1", T0, 30)
    async with uow_factory() as uow:
        await uow.calls.update(call)
        await uow.commit()
    later = T0 + timedelta(seconds=90)
    async with uow_factory() as uow:
        assert await uow.calls.extend_lease("acme", "CALc1", "w1", later) is True
        assert await uow.calls.extend_lease("acme", "CALc1", "w2", later) is False
        await uow.commit()
    stored = await read_call(uow_factory, "acme", "CALc1")
    assert stored is not None
    assert stored.lease_expires_at == later
    assert stored.version == call.version
    # The owner's next update still applies: the heartbeat did not make it stale.
    call.lease_expires_at = later
    advance_to(call, Stage.RECORDING_STORED)
    async with uow_factory() as uow:
        await uow.calls.update(call)
        await uow.commit()


async def test_stalled_finds_unfinished_calls_without_a_job(uow_factory: UnitOfWorkFactory) -> None:
    await add_tenants(uow_factory, make_tenant())
    old_queued = make_call("acme", "queued", T0)
    old_orphan = make_call("acme", "orphan", T0)
    old_done = advance_to(make_call("acme", "done", T0), Stage.COMPLETED, T0)
    recent = make_call("acme", "recent", T0 + timedelta(minutes=30))
    await add_calls(uow_factory, old_queued, old_orphan, old_done, recent)
    await add_job(uow_factory, "jq", "queued")
    async with uow_factory(read_only=True) as uow:
        stalled = await uow.calls.stalled(T0 + timedelta(minutes=15), 10)
    assert list(stalled) == [("acme", "CALorphan")]


async def test_extending_claims_keeps_jobs_from_other_workers(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await setup(uow_factory, "c1", "c2")
    await add_job(uow_factory, "j1", "c1")
    await add_job(uow_factory, "j2", "c2")
    assert await claim(uow_factory, 0, worker="w1") == ["j1", "j2"]
    async with uow_factory() as uow:
        # w1 still works on j1 (heartbeat); another worker cannot extend what it does not hold.
        await uow.jobs.extend_claims(["j1"], "w1", T0 + timedelta(seconds=100))
        await uow.jobs.extend_claims(["j2"], "w2", T0 + timedelta(seconds=100))
        await uow.commit()
    assert await claim(uow_factory, 60, worker="w2") == ["j2"]
    assert await claim(uow_factory, 85, worker="w3") == []  # j1 held by w1, j2 by w2 (until 90)
    assert sorted(await claim(uow_factory, 101, worker="w3")) == ["j1", "j2"]
