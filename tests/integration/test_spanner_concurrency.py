"""Write units of work racing on the real Spanner emulator: the version compare-and-set and the
job claim hold across units of work that each committed on their own, and a transaction that
Spanner aborts and the client re-runs applies its writes once."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
from google.cloud.spanner_v1 import param_types
from google.cloud.spanner_v1.database import Database

from adapters.spanner.database import SpannerDatabase, TransactionContext
from adapters.spanner.repositories import SpannerUnitOfWorkFactory
from domain.errors import CallNotFound, ConcurrentUpdate, TenantAlreadyExists, TenantNotFound
from domain.jobs import Job
from domain.stages import Stage
from tests.contract.test_repository_contract import (
    ACME_COMPANY,
    BETA_COMPANY,
    T0,
    add_calls,
    add_tenants,
    make_call,
    make_tenant,
    read_call,
)
from tests.emulators.spanner import (  # noqa: F401 - fixtures
    spanner_database_fixture,
    spanner_emulator_fixture,
)


async def both_read_then_race(
    first: Callable[[], Awaitable[None]], second: Callable[[], Awaitable[None]]
) -> list[BaseException | None]:
    results = await asyncio.gather(first(), second(), return_exceptions=True)
    return [r if isinstance(r, BaseException) else None for r in results]


async def test_of_two_writers_of_one_call_exactly_one_wins(
    spanner_database: SpannerDatabase,
) -> None:
    uow_factory = SpannerUnitOfWorkFactory(spanner_database)
    await add_tenants(uow_factory, make_tenant())
    await add_calls(uow_factory, make_call("acme", "c1", T0))
    both_read = asyncio.Barrier(2)

    async def worker(name: str) -> None:
        async with uow_factory() as uow:
            call = await uow.calls.get("acme", "CALc1")
            assert call is not None
            await both_read.wait()  # each has read version 1 before either commits
            call.take_lease(name, T0, 60)
            await uow.calls.update(call)
            await uow.commit()

    outcomes = await both_read_then_race(lambda: worker("w1"), lambda: worker("w2"))

    assert sorted(type(o).__name__ for o in outcomes) == ["ConcurrentUpdate", "NoneType"]
    winner = "w1" if outcomes[0] is None else "w2"
    stored = await read_call(uow_factory, "acme", "CALc1")
    assert stored is not None
    assert (stored.lease_owner, stored.version) == (winner, 2)


async def test_a_stale_update_fails_at_commit_when_the_row_changed_after_the_check(
    spanner_database: SpannerDatabase,
) -> None:
    uow_factory = SpannerUnitOfWorkFactory(spanner_database)
    await add_tenants(uow_factory, make_tenant())
    await add_calls(uow_factory, make_call("acme", "c1", T0))
    async with uow_factory() as slow:
        call = await slow.calls.get("acme", "CALc1")
        assert call is not None
        call.advance(Stage.RECORDING_STORED, T0)
        await slow.calls.update(call)  # version 1 is current now: accepted into the buffer
        async with uow_factory() as fast:
            other = await fast.calls.get("acme", "CALc1")
            assert other is not None
            other.take_lease("w2", T0, 60)
            await fast.calls.update(other)
            await fast.commit()
        with pytest.raises(ConcurrentUpdate):
            await slow.commit()

    stored = await read_call(uow_factory, "acme", "CALc1")
    assert stored is not None
    assert (stored.stage, stored.lease_owner, stored.version) == (Stage.RECEIVED, "w2", 2)


async def test_two_workers_never_both_claim_a_job(spanner_database: SpannerDatabase) -> None:
    uow_factory = SpannerUnitOfWorkFactory(spanner_database)
    await add_tenants(uow_factory, make_tenant())
    await add_calls(uow_factory, make_call("acme", "c1", T0))
    async with uow_factory() as uow:
        await uow.jobs.add(Job("j1", "acme", "CALc1", T0), due_at=T0)
        await uow.commit()
    both_read = asyncio.Barrier(2)
    claimed: dict[str, list[str]] = {}

    async def worker(name: str) -> None:
        async with uow_factory() as uow:
            jobs = await uow.jobs.claim_due(T0 + timedelta(seconds=1), name, 30, 10)
            await both_read.wait()
            await uow.commit()
        claimed[name] = [j.job_id for j in jobs]

    outcomes = await both_read_then_race(lambda: worker("w1"), lambda: worker("w2"))

    assert sorted(type(o).__name__ for o in outcomes) == ["ConcurrentUpdate", "NoneType"]
    assert list(claimed.values()) == [["j1"]]


async def test_an_aborted_transaction_is_rerun_and_applies_its_writes_once(
    spanner_database: SpannerDatabase,
) -> None:
    """Another transaction holds a call's row while ours commits. The emulator settles such a
    conflict by aborting one of the two, and which one varies from run to run; when it aborts
    the holder, ours commits at once and the round is tried again on a fresh call."""
    uow_factory = SpannerUnitOfWorkFactory(spanner_database)
    await add_tenants(uow_factory, make_tenant())
    database: Database = await spanner_database.run(lambda d: d)

    async def round_on(n: int) -> bool:
        """True when our transaction was aborted at least once and re-run."""
        call_id, job_id = f"CALc{n}", f"j{n}"
        await add_calls(uow_factory, make_call("acme", f"c{n}", T0))
        async with uow_factory() as uow:
            await uow.jobs.add(Job(job_id, "acme", call_id, T0), due_at=T0)
            await uow.commit()
        holding, release = threading.Event(), threading.Event()

        def hold_the_row() -> None:
            session = database.session()  # type: ignore[no-untyped-call]
            session.create()
            txn = session.transaction()
            txn.begin()
            found = txn.execute_sql(
                "SELECT version FROM calls WHERE call_id = @call",
                params={"call": call_id},
                param_types={"call": param_types.STRING},
            )
            list(found)
            txn.update("calls", ["tenant_id", "call_id", "attempts"], [["acme", call_id, 99]])
            holding.set()
            release.wait(30)
            try:
                txn.rollback()
            finally:
                session.delete()

        holder = threading.Thread(target=hold_the_row)
        holder.start()
        assert await asyncio.to_thread(holding.wait, 30)
        attempts_before = spanner_database.transaction_attempts
        try:
            async with uow_factory() as uow:
                call = await uow.calls.get("acme", call_id)
                assert call is not None
                call.advance(Stage.RECORDING_STORED, T0)
                await uow.calls.update(call)
                await uow.jobs.reschedule(job_id, T0 + timedelta(minutes=1), "503")
                await uow.jobs.add(Job(f"{job_id}-next", "acme", call_id, T0), due_at=T0)
                commit = asyncio.create_task(uow.commit())
                deadline = time.monotonic() + 20
                while spanner_database.transaction_attempts < attempts_before + 2:
                    if commit.done():
                        break  # the emulator aborted the holder: ours went through at once
                    assert time.monotonic() < deadline, "the commit neither ended nor re-ran"
                    await asyncio.sleep(0.05)
                release.set()
                await commit
        finally:
            release.set()
            await asyncio.to_thread(holder.join, 30)

        # Whichever transaction the emulator aborted, ours applied its writes exactly once.
        stored = await read_call(uow_factory, "acme", call_id)
        assert stored is not None
        assert (stored.stage, stored.version, stored.attempts) == (Stage.RECORDING_STORED, 2, 0)
        jobs = await spanner_database.query(
            "SELECT job_id, attempts, last_error FROM jobs WHERE call_id = @call ORDER BY job_id",
            {"call": call_id},
            {"call": param_types.STRING},
        )
        assert jobs == [[job_id, 1, "503"], [f"{job_id}-next", 0, None]]
        return spanner_database.transaction_attempts >= attempts_before + 2

    for n in range(1, 21):
        if await round_on(n):
            break
    else:
        pytest.fail("in 20 rounds the emulator never aborted our transaction")


async def test_a_race_for_a_tenant_or_its_company_is_settled_by_the_schema(
    spanner_database: SpannerDatabase,
) -> None:
    uow_factory = SpannerUnitOfWorkFactory(spanner_database)
    async with uow_factory() as first, uow_factory() as second, uow_factory() as third:
        # Each checks before any commits, so each is accepted into its own buffer.
        await first.tenants.add(make_tenant("acme", ACME_COMPANY))
        await second.tenants.add(make_tenant("acme", BETA_COMPANY))
        await third.tenants.add(make_tenant("beta", ACME_COMPANY))
        await first.commit()
        with pytest.raises(TenantAlreadyExists, match="acme exists"):
            await second.commit()
        with pytest.raises(TenantAlreadyExists, match=f"CallRail company {ACME_COMPANY}"):
            await third.commit()

    async with uow_factory(read_only=True) as uow:
        assert [t.tenant_id for t in await uow.tenants.list()] == ["acme"]


async def test_a_call_added_twice_at_once_is_stored_once(
    spanner_database: SpannerDatabase,
) -> None:
    uow_factory = SpannerUnitOfWorkFactory(spanner_database)
    await add_tenants(uow_factory, make_tenant())
    async with uow_factory() as first, uow_factory() as second:
        assert await first.calls.add(make_call("acme", "c1", T0, customer_name="First"))
        assert await second.calls.add(make_call("acme", "c1", T0, customer_name="Second"))
        await second.jobs.add(Job("j2", "acme", "CALc1", T0), due_at=T0)
        await first.commit()
        with pytest.raises(ConcurrentUpdate, match="added by another writer"):
            await second.commit()

    stored = await read_call(uow_factory, "acme", "CALc1")
    assert stored is not None
    assert stored.metadata.caller_name == "First"
    assert await spanner_database.query("SELECT job_id FROM jobs") == []


async def test_rows_whose_parent_is_gone_at_commit_are_refused(
    spanner_database: SpannerDatabase,
) -> None:
    uow_factory = SpannerUnitOfWorkFactory(spanner_database)
    async with uow_factory() as uow:
        await uow.jobs.add(Job("j1", "acme", "CALnone", T0), due_at=T0)
        with pytest.raises(CallNotFound):
            await uow.commit()
    await add_tenants(uow_factory, make_tenant())
    async with uow_factory() as uow:
        assert await uow.calls.add(make_call("acme", "c1", T0))

        def delete_acme(tx: TransactionContext) -> None:
            tx.delete("tenants", [["acme"]])

        await spanner_database.transact(delete_acme)
        with pytest.raises(TenantNotFound):
            await uow.commit()
