"""Several processes on one SQLite file (`serve --processes N`): their writers take turns on a
lock file (WriterTurn) instead of SQLite's sleeping busy wait, and SQLite's own lock still
decides what is correct.

Two SqliteDatabase objects on one file stand for two processes: each opens the lock file
itself, and flock() locks belong to an open file, so they exclude each other as two processes'
do."""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from adapters.sqlite.database import (
    CHECKPOINT_EVERY,
    SqliteDatabase,
    TurnWait,
    WriterTurn,
    begin_write,
    end_write,
)
from adapters.sqlite.session import Session


@pytest.fixture
async def path(tmp_path: Path) -> str:
    file = str(tmp_path / "pipeline.db")
    db = SqliteDatabase(file)
    await db.open()
    await db.write(lambda conn: conn.execute("CREATE TABLE rows (n INTEGER NOT NULL)"))
    await db.close()
    return file


@pytest.fixture
async def two(path: str) -> AsyncIterator[tuple[SqliteDatabase, SqliteDatabase]]:
    a, b = SqliteDatabase(path), SqliteDatabase(path)
    await a.open()
    await b.open()
    try:
        yield a, b
    finally:
        await a.close()
        await b.close()


def insert(n: int) -> Callable[[sqlite3.Connection], None]:
    def write(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO rows (n) VALUES (?)", (n,))

    return write


def count(path: str) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM rows").fetchone()[0])


def turn_is_free(path: str) -> bool:
    fd = os.open(path + "-writer.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


async def test_commits_from_two_processes_on_one_file_all_land(
    path: str, two: tuple[SqliteDatabase, SqliteDatabase]
) -> None:
    a, b = two
    writes = [db.commit_unit(insert(n)) for n in range(200) for db in (a, b)]
    await asyncio.wait_for(asyncio.gather(*writes), 30)
    assert count(path) == 400
    assert turn_is_free(path), "every turn was given back"


async def test_a_writer_waits_for_the_other_processes_turn_then_commits(
    path: str, two: tuple[SqliteDatabase, SqliteDatabase]
) -> None:
    a, b = two
    await a.write(lambda conn: begin_write(conn, a.turn))  # a holds its turn, mid-transaction
    waiting = asyncio.create_task(b.commit_unit(insert(1)))
    await asyncio.sleep(0.3)
    assert not waiting.done(), "b must not write while a holds the turn"
    assert b.turn.waits == 1

    await a.write(lambda conn: end_write(conn, a.turn, commit=True))
    await asyncio.wait_for(waiting, 5)
    assert count(path) == 1


async def test_what_arrives_while_a_writer_waits_for_its_turn_commits_in_its_group(
    path: str, two: tuple[SqliteDatabase, SqliteDatabase]
) -> None:
    """Two serving processes wait for each other's turn a third of the time: units queued
    meanwhile go with the waiting group, rather than waiting for a turn of their own (one
    fsync each turn, and the other process between them)."""
    a, b = two
    await a.write(lambda conn: begin_write(conn, a.turn))
    first = asyncio.create_task(b.commit_unit(insert(1)))
    await asyncio.sleep(0.1)
    later = [asyncio.create_task(b.commit_unit(insert(n))) for n in (2, 3, 4)]
    await asyncio.sleep(0.1)
    groups_before = b.groups_committed

    await a.write(lambda conn: end_write(conn, a.turn, commit=True))
    await asyncio.wait_for(asyncio.gather(first, *later), 5)

    assert count(path) == 4
    assert b.groups_committed - groups_before == 1, "the four units went in one transaction"


async def test_a_writer_that_takes_no_turns_is_waited_for_by_sqlite(
    path: str, two: tuple[SqliteDatabase, SqliteDatabase]
) -> None:
    """The sqlite3 shell, or an older version of this program: SQLite's busy timeout waits."""
    _, b = two
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO rows (n) VALUES (0)")
        waiting = asyncio.create_task(b.commit_unit(insert(1)))
        await asyncio.sleep(0.3)
        assert not waiting.done()
        other.execute("COMMIT")
    finally:
        other.close()
    await asyncio.wait_for(waiting, 10)
    assert count(path) == 2


async def test_a_turn_never_given_back_leaves_the_decision_to_sqlite(path: str) -> None:
    """A stuck holder of the lock file (not of SQLite's lock) costs the timeout, then the
    write goes ahead: the turn is a way to wait, never a way to fail."""
    stuck = os.open(path + "-writer.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(stuck, fcntl.LOCK_EX)
    db = SqliteDatabase(path)
    db.turn = WriterTurn(path, timeout_s=0.3)
    await db.open()
    try:
        started = time.monotonic()
        await asyncio.wait_for(db.commit_unit(insert(1)), 10)
        assert time.monotonic() - started >= 0.3
        assert count(path) == 1
    finally:
        await db.close()
        os.close(stuck)


async def test_a_wait_abandoned_at_its_timeout_takes_no_turn_when_the_holder_lets_go(
    path: str,
) -> None:
    """The loop's writer waits for a turn on a thread blocked in flock, which cannot be given
    a deadline: at timeout_s the wait is abandoned and the write goes ahead under SQLite's
    lock. When the stuck holder lets go, that flock returns with the turn, which must go back
    at once, or no other process would get a turn again."""
    stuck = os.open(path + "-writer.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(stuck, fcntl.LOCK_EX)
    db, other = SqliteDatabase(path), SqliteDatabase(path)
    db.turn = WriterTurn(path, timeout_s=0.3)
    await db.open()
    await other.open()
    try:
        await asyncio.wait_for(db.commit_unit(insert(1)), 10)
        fcntl.flock(stuck, fcntl.LOCK_UN)  # the holder lets go; db's wait is still in flock
        await asyncio.sleep(0.2)  # long enough for it to return

        assert turn_is_free(path), "the abandoned wait kept the turn"
        # Another process takes turns as usual (its own wait would last 10 s, not 5).
        await asyncio.wait_for(other.commit_unit(insert(2)), 5)
        await asyncio.wait_for(db.commit_unit(insert(3)), 5)
        assert count(path) == 3
        assert turn_is_free(path)
    finally:
        await db.close()
        await other.close()
        os.close(stuck)


async def test_a_wait_in_flock_either_takes_the_turn_or_is_abandoned_never_both(
    path: str,
) -> None:
    holder = os.open(path + "-writer.lock", os.O_RDWR | os.O_CREAT)
    turn = WriterTurn(path)
    try:
        # Abandoned before the turn came: the turn is not taken when it comes.
        fcntl.flock(holder, fcntl.LOCK_EX)
        wait = TurnWait()
        waiting = asyncio.create_task(asyncio.to_thread(turn.wait_blocking, wait))
        await asyncio.sleep(0.1)
        assert turn.abandon(wait) is False
        fcntl.flock(holder, fcntl.LOCK_UN)
        assert await asyncio.wait_for(waiting, 5) is False
        assert turn_is_free(path)

        # The turn came first: abandoning now says so, and the turn is this process's.
        fcntl.flock(holder, fcntl.LOCK_EX)
        wait = TurnWait()
        waiting = asyncio.create_task(asyncio.to_thread(turn.wait_blocking, wait))
        await asyncio.sleep(0.1)
        fcntl.flock(holder, fcntl.LOCK_UN)
        assert await asyncio.wait_for(waiting, 5) is True
        assert turn.abandon(wait) is True
        assert not turn_is_free(path)
        assert turn.try_take(), "held by this process"
        turn.give_back()
        assert turn_is_free(path)
    finally:
        turn.close()
        os.close(holder)


async def test_a_unit_that_leaves_without_committing_gives_its_turn_back(
    path: str, two: tuple[SqliteDatabase, SqliteDatabase]
) -> None:
    a, b = two
    session = Session(a, read_only=False)
    await session.run(lambda conn: conn.execute("INSERT INTO rows (n) VALUES (1)"))  # pinned
    assert not turn_is_free(path)
    await session.close()  # no commit: rolled back
    assert turn_is_free(path)
    await asyncio.wait_for(b.commit_unit(insert(2)), 5)
    assert count(path) == 1


async def test_a_group_commits_on_the_event_loop_unless_sqlite_is_busy(
    path: str, two: tuple[SqliteDatabase, SqliteDatabase]
) -> None:
    """The loop runs BEGIN..COMMIT itself (no wait for the interpreter's lock per statement on
    the writer thread); a database locked by a writer that takes no turns sends the group to
    the thread, which can wait for it without stopping the loop."""
    a, _ = two
    await a.commit_unit(insert(1))
    assert a.groups_on_loop == 1

    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        waiting = asyncio.create_task(a.commit_unit(insert(2)))
        ticks = 0
        while ticks < 20:  # the loop keeps running meanwhile
            await asyncio.sleep(0.01)
            ticks += 1
        assert not waiting.done()
        other.execute("COMMIT")
    finally:
        other.close()
    await asyncio.wait_for(waiting, 10)
    assert a.groups_on_loop == 1, "the busy group went to the writer thread"
    assert count(path) == 2


async def test_the_write_ahead_log_is_checkpointed_as_groups_commit(path: str) -> None:
    """The loop's connection never checkpoints as it commits; the database does it on the
    writer thread every CHECKPOINT_EVERY groups, so the log stays the size of one period
    instead of growing with every call ever taken."""
    db = SqliteDatabase(path)
    await db.open()
    wal = Path(path + "-wal")
    blob = "x" * 8000
    sizes = []
    try:
        await db.write(lambda conn: conn.execute("CREATE TABLE blobs (b TEXT)"))
        for period in range(5):
            for _ in range(CHECKPOINT_EVERY - (1 if period == 0 else 0)):
                await db.commit_unit(
                    lambda conn: conn.execute("INSERT INTO blobs VALUES (?)", (blob,))
                )
            sizes.append(wal.stat().st_size)  # noqa: ASYNC240  (a stat, in a test)
    finally:
        await db.close()
    one_period = sizes[0]  # the log of one period's groups, before any checkpoint
    assert max(sizes) <= 1.5 * one_period, f"the log grew: {sizes}"


async def test_a_pinned_unit_whose_commit_fails_leaves_nothing_open(
    path: str, two: tuple[SqliteDatabase, SqliteDatabase]
) -> None:
    """COMMIT itself can fail (here a deferred foreign key): the transaction is rolled back
    and the turn given back, so the next writer, in this process or another, goes ahead."""
    a, b = two
    await a.write(lambda conn: conn.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)"))
    await a.write(
        lambda conn: conn.execute(
            "CREATE TABLE child (parent INTEGER REFERENCES parent (id)"
            " DEFERRABLE INITIALLY DEFERRED)"
        )
    )
    session = Session(a, read_only=False)
    await session.run(lambda conn: conn.execute("INSERT INTO child (parent) VALUES (42)"))
    with pytest.raises(sqlite3.IntegrityError):
        await session.commit()
    await session.close()

    assert turn_is_free(path)
    await asyncio.wait_for(a.commit_unit(insert(1)), 5)
    await asyncio.wait_for(b.commit_unit(insert(2)), 5)
    assert count(path) == 2


async def test_the_log_starts_over_while_two_processes_commit_without_a_pause(
    path: str, two: tuple[SqliteDatabase, SqliteDatabase]
) -> None:
    """A log is started over only by a writer that finds it wholly copied back; a checkpoint
    that the other process appended to meanwhile never gets there. Two processes committing
    without a pause between them (as under load) must still see it start over, or the log
    grows with every call taken until the disk is full."""
    a, b = two
    wal = Path(path + "-wal")
    blob = "x" * 8000
    await a.write(lambda conn: conn.execute("CREATE TABLE blobs (b TEXT)"))

    def add(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO blobs VALUES (?)", (blob,))

    sizes: list[int] = []

    async def keep_committing(db: SqliteDatabase, periods: int, record: bool) -> None:
        for n in range(periods * CHECKPOINT_EVERY):
            await db.commit_unit(add)
            if record and n % CHECKPOINT_EVERY == CHECKPOINT_EVERY - 1:
                sizes.append(wal.stat().st_size)  # noqa: ASYNC240  (a stat, in a test)

    await asyncio.wait_for(
        asyncio.gather(keep_committing(a, 8, True), keep_committing(b, 8, False)), 120
    )
    assert a.checkpoints + b.checkpoints >= 2, "the log was never wholly copied back"
    one_period = sizes[0]  # both processes' groups of one period, before any checkpoint
    assert max(sizes) <= 3 * one_period, f"the log grew: {sizes}"
