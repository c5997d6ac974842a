"""The Spanner unit of work's one-Commit writes on the real emulator: what a write asserts
without reading (a call's version, through its call_versions row) still refuses a stale writer;
what this process remembers wrongly costs a refusal, never a lost update; a call stored before
call_versions, or a job this process never saw, goes through the checked transaction; and every
query gives up at its timeout."""

from __future__ import annotations

import time

import pytest
from google.cloud.spanner_v1 import param_types

from adapters.spanner.database import RoundTrips, SpannerDatabase, TransactionContext
from adapters.spanner.repositories import SpannerUnitOfWorkFactory
from domain.errors import ConcurrentUpdate, StorageUnavailable
from domain.jobs import Job
from domain.stages import Stage
from tests.contract.test_repository_contract import (
    T0,
    add_calls,
    add_tenants,
    make_call,
    make_tenant,
    read_call,
)
from tests.emulators.spanner import (  # noqa: F401 - fixtures
    SpannerEmulator,
    spanner_database_fixture,
    spanner_emulator_fixture,
)

CALL = ("acme", "CALc1")


async def versions(db: SpannerDatabase) -> list[list[object]]:
    return await db.query("SELECT tenant_id, call_id, version FROM call_versions ORDER BY 1, 2, 3")


async def advance(factory: SpannerUnitOfWorkFactory, owner: str, times: int = 1) -> None:
    for _ in range(times):
        async with factory() as uow:
            call = await uow.calls.get(*CALL)
            assert call is not None
            call.take_lease(owner, T0, 60)
            call.attempts += 1
            await uow.calls.update(call)
            await uow.commit()


async def test_a_save_is_one_commit_that_moves_the_version_row_on(
    spanner_database: SpannerDatabase,
) -> None:
    factory = SpannerUnitOfWorkFactory(spanner_database)
    await add_tenants(factory, make_tenant())
    await add_calls(factory, make_call("acme", "c1", T0))
    assert await versions(spanner_database) == [["acme", "CALc1", 1]]
    async with factory() as uow:
        call = await uow.calls.get(*CALL)
    assert call is not None

    before = spanner_database.round_trips()
    async with factory() as uow:
        call.advance(Stage.RECORDING_STORED, T0)
        await uow.calls.update(call)  # the version this process read: no read first
        await uow.commit()

    assert spanner_database.round_trips() - before == RoundTrips(commits=1)
    assert await versions(spanner_database) == [["acme", "CALc1", 2]]
    stored = await read_call(factory, *CALL)
    assert stored is not None
    assert (stored.stage, stored.version) == (Stage.RECORDING_STORED, 2)


async def test_a_version_remembered_wrongly_is_refused_and_nothing_lands(
    spanner_database: SpannerDatabase,
) -> None:
    """Two processes (two factories): the first read version 1, the second moved the call on
    twice; the first's save from its stale copy is refused at commit, and its next attempt
    reads first."""
    here, elsewhere = (SpannerUnitOfWorkFactory(spanner_database) for _ in range(2))
    await add_tenants(here, make_tenant())
    await add_calls(here, make_call("acme", "c1", T0))
    async with here() as uow:
        stale = await uow.calls.get(*CALL)
    assert stale is not None
    await advance(elsewhere, "w2", times=2)

    async with here() as uow:
        stale.advance(Stage.RECORDING_STORED, T0)
        await uow.calls.update(stale)  # on what this process knows: version 1
        with pytest.raises(ConcurrentUpdate):
            await uow.commit()
    stale.version -= 1  # as it was read
    async with here() as uow:
        with pytest.raises(ConcurrentUpdate):
            await uow.calls.update(stale)  # forgotten: read first, and refused at once

    stored = await read_call(here, *CALL)
    assert stored is not None
    assert (stored.stage, stored.lease_owner, stored.version) == (Stage.RECEIVED, "w2", 3)
    assert await versions(spanner_database) == [["acme", "CALc1", 3]]


async def test_a_call_stored_before_call_versions_is_saved_by_the_checked_transaction(
    spanner_database: SpannerDatabase,
) -> None:
    factory = SpannerUnitOfWorkFactory(spanner_database)
    await add_tenants(factory, make_tenant())
    await add_calls(factory, make_call("acme", "c1", T0))

    def as_before_the_upgrade(tx: TransactionContext) -> None:
        tx.delete_under("call_versions", CALL)

    await spanner_database.transact(as_before_the_upgrade)
    assert await versions(spanner_database) == []

    before = spanner_database.round_trips()
    await advance(factory, "w1")
    spent = spanner_database.round_trips() - before

    # The lease's read, the Commit Spanner refused (no version row), then the checked
    # transaction: its read and its commit.
    assert spent == RoundTrips(snapshot_reads=1, transaction_reads=1, commits=2)
    assert await versions(spanner_database) == [["acme", "CALc1", 2]]
    before = spanner_database.round_trips()
    await advance(factory, "w1")
    assert spanner_database.round_trips() - before == RoundTrips(snapshot_reads=1, commits=1)
    stored = await read_call(factory, *CALL)
    assert stored is not None
    assert (stored.attempts, stored.version) == (2, 3)


async def test_a_job_this_process_never_saw_is_settled_by_its_id(
    spanner_database: SpannerDatabase,
) -> None:
    webhook, worker = (SpannerUnitOfWorkFactory(spanner_database) for _ in range(2))
    await add_tenants(webhook, make_tenant())
    async with webhook() as uow:
        assert await uow.calls.add(make_call("acme", "c1", T0))
        await uow.jobs.add(Job("job-1", *CALL, T0), due_at=T0)
        await uow.commit()

    before = spanner_database.round_trips()
    async with worker() as uow:
        await uow.jobs.complete("job-1")
        await uow.commit()

    # Found by its id inside the transaction that deletes it.
    assert spanner_database.round_trips() - before == RoundTrips(transaction_reads=1, commits=1)
    remaining = await spanner_database.query(
        "SELECT COUNT(*) FROM jobs WHERE job_id = @id", {"id": "job-1"}, {"id": param_types.STRING}
    )
    assert remaining == [[0]]


async def test_a_query_gives_up_at_its_timeout(spanner_emulator: SpannerEmulator) -> None:
    errors: list[str] = []
    async with spanner_emulator.database(read_timeout_s=0.2, on_error=errors.append) as db:
        started = time.monotonic()
        with pytest.raises(StorageUnavailable):
            # Four million rows: seconds of work for the emulator.
            await db.query(
                "SELECT COUNT(*) FROM UNNEST(GENERATE_ARRAY(1, 2000)) a,"
                " UNNEST(GENERATE_ARRAY(1, 2000)) b"
            )
        assert time.monotonic() - started < 2.0
    assert errors == ["DeadlineExceeded"]
