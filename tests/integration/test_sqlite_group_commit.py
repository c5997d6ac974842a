"""Group commit on a real SQLite file: units of work waiting for the writer at the same moment
are committed in one transaction, each applied exactly once, and one unit's failure is rolled
back alone while the rest of its group is committed."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
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


async def hold_the_writer(db: SqliteDatabase) -> tuple[threading.Event, asyncio.Task[None]]:
    """Keeps the writer thread busy until the event is set: every unit handed over meanwhile
    waits, and they are committed together, in one transaction."""
    release, busy = threading.Event(), threading.Event()

    def wait(conn: sqlite3.Connection) -> None:
        busy.set()
        release.wait(10)

    task = asyncio.create_task(db.write(wait))
    await asyncio.to_thread(busy.wait, 10)
    return release, task


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

    release, held = await hold_the_writer(db)  # the three units commit in one group
    units = asyncio.gather(
        admit_twice("first"), admit_twice("second"), advance_old(), return_exceptions=True
    )
    await asyncio.sleep(0.1)
    release.set()
    await held
    outcomes = await units

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
