"""Group commit on a real SQLite file: units of work that commit at the same moment share one
transaction (one trip to the writer, one fsync), each is applied exactly once, and one unit's
failure is rolled back alone while the rest of its group is committed."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.sqlite.database import SqliteDatabase
from adapters.sqlite.migrations import migrate
from adapters.sqlite.repositories import SqliteUnitOfWorkFactory
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


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[SqliteDatabase]:
    database = SqliteDatabase(str(tmp_path / "pipeline.db"))
    await database.open()
    await migrate(database)
    try:
        yield database
    finally:
        await database.close()


def count(path: str, sql: str) -> int:
    """Read through a connection of its own: what another process would see."""
    with sqlite3.connect(path) as conn:
        return int(conn.execute(sql).fetchone()[0])


async def test_units_committing_together_share_one_transaction(db: SqliteDatabase) -> None:
    uow_factory = SqliteUnitOfWorkFactory(db)
    await add_tenants(uow_factory, make_tenant())
    units = 40
    all_staged = asyncio.Barrier(units)

    async def admit(n: int) -> None:
        async with uow_factory() as uow:
            call = make_call("acme", f"g{n}", T0)
            assert await uow.calls.add(call)
            await uow.jobs.add(Job(f"job-{n}", "acme", call.call_id, T0), due_at=T0)
            await all_staged.wait()  # every unit commits in the same turn of the loop
            await uow.commit()

    before = db.groups_committed
    await asyncio.gather(*(admit(n) for n in range(units)))

    assert db.groups_committed - before < units / 4
    assert count(db.path, "SELECT count(*) FROM calls") == units
    assert count(db.path, "SELECT count(*) FROM jobs") == units


async def test_units_reaching_their_commit_a_loop_iteration_apart_share_one_transaction(
    db: SqliteDatabase,
) -> None:
    """Requests read in one wake-up of the loop reach their commit an iteration or two apart
    (each handler's own awaits): they go in one transaction, one fsync, not one each."""
    await db.write(lambda conn: conn.execute("CREATE TABLE rows (n INTEGER NOT NULL)"))

    async def unit_after(iterations: int) -> None:
        for _ in range(iterations):
            await asyncio.sleep(0)
        await db.commit_unit(lambda conn: conn.execute("INSERT INTO rows VALUES (?)", (1,)))

    before = db.groups_committed
    await asyncio.gather(*(unit_after(n % 3) for n in range(12)))

    assert db.groups_committed - before == 1
    assert count(db.path, "SELECT count(*) FROM rows") == 12


async def test_a_unit_that_fails_at_commit_is_rolled_back_alone(db: SqliteDatabase) -> None:
    uow_factory = SqliteUnitOfWorkFactory(db)
    await add_tenants(uow_factory, make_tenant())
    await add_calls(uow_factory, make_call("acme", "old", T0))
    all_staged = asyncio.Barrier(3)

    async def admit_twice(job_id: str) -> None:
        # Both check before either commits: each is accepted, the second loses at commit.
        async with uow_factory() as uow:
            assert await uow.calls.add(make_call("acme", "twice", T0))
            await uow.jobs.add(Job(job_id, "acme", "CALtwice", T0), due_at=T0)
            await all_staged.wait()
            await uow.commit()

    async def advance_old() -> None:
        async with uow_factory() as uow:
            call = await uow.calls.get("acme", "CALold")
            assert call is not None
            call.advance(Stage.RECORDING_STORED, T0)
            await uow.calls.update(call)
            await all_staged.wait()
            await uow.commit()

    before = db.groups_committed
    outcomes = await asyncio.gather(
        admit_twice("first"), admit_twice("second"), advance_old(), return_exceptions=True
    )

    assert db.groups_committed - before == 1
    first, second, other = outcomes
    assert other is None
    assert sorted(type(o).__name__ for o in (first, second)) == ["ConcurrentUpdate", "NoneType"]
    winner = "first" if first is None else "second"
    # The loser's job went with it; the winner's and the other unit's writes are there.
    jobs = await db.read(lambda c: [r[0] for r in c.execute("SELECT job_id FROM jobs")])
    assert jobs == [winner]
    old = await read_call(uow_factory, "acme", "CALold")
    assert old is not None
    assert (old.stage, old.version) == (Stage.RECORDING_STORED, 2)


async def test_a_caller_cancelled_while_its_group_commits_does_not_undo_it(
    db: SqliteDatabase,
) -> None:
    uow_factory = SqliteUnitOfWorkFactory(db)
    await add_tenants(uow_factory, make_tenant())
    staged, go = asyncio.Event(), asyncio.Event()

    async def admit() -> None:
        async with uow_factory() as uow:
            assert await uow.calls.add(make_call("acme", "cancelled", T0))
            staged.set()
            await go.wait()
            await uow.commit()

    task = asyncio.create_task(admit())
    await staged.wait()
    go.set()
    await asyncio.sleep(0)  # the task reaches commit and hands its unit over
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await db.close()  # waits for the group in flight
    await db.open()

    # The unit was handed over whole: it is committed whole (like a reply lost in transit).
    assert count(db.path, "SELECT count(*) FROM calls WHERE call_id = 'CALcancelled'") == 1


async def test_a_commit_returns_only_once_its_writes_are_durable(db: SqliteDatabase) -> None:
    uow_factory = SqliteUnitOfWorkFactory(db)
    await add_tenants(uow_factory, make_tenant())
    async with uow_factory() as uow:
        assert await uow.calls.add(make_call("acme", "seen", T0))
        await uow.commit()
        # Another connection (another process) sees it the moment commit() returns.
        assert count(db.path, "SELECT count(*) FROM calls WHERE call_id = 'CALseen'") == 1
