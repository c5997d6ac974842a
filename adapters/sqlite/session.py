"""A unit of work's way to the SQLite database: reads on the readers, writes kept for one
grouped commit, or (when the unit needs it) the writer's transaction held open."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import TypeVar

from adapters.sqlite.database import SqliteDatabase, WriterTurn, begin_write, end_write

T = TypeVar("T")
Write = Callable[[sqlite3.Connection], object]


class Session:
    """How a unit of work reaches the database.

    A read-only unit reads on the reader connections. A writing unit reads there too and keeps
    its writes until commit, which applies them in one trip, grouped with other units' commits
    (SqliteDatabase.commit_unit). What needs the transaction itself pins the writer instead:
    an operation that needs a write's result at once, or a read after this unit's own writes.
    A pinned unit holds the write lock and an open transaction (the writes kept so far go
    first) until it commits or leaves, as a transaction on one connection does."""

    def __init__(self, db: SqliteDatabase, read_only: bool):
        self._db = db
        self.read_only = read_only
        self._writes: list[Write] = []
        self._pinned = False
        self._after_commit: list[Callable[[], None]] = []

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """A read: on a reader, unless this unit's writes must be visible to it."""
        if self._pinned or self._writes:
            return await self.run(fn)
        return await self._db.read(fn)

    async def defer(self, fn: Write) -> None:
        """A write whose outcome can wait for commit (it raises there if it fails)."""
        self._writable()
        if self._pinned:
            await self._db.write(fn)
        else:
            self._writes.append(fn)

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Runs fn in this unit's transaction now (a read-only unit: on a reader)."""
        if self.read_only:
            return await self._db.read(fn)
        if self._pinned:
            return await self._db.write(fn)
        await self._db.write_lock.acquire()
        self._pinned = True
        kept, self._writes = self._writes, []

        turn = self._db.turn

        def begin_then(conn: sqlite3.Connection) -> T:
            begin_write(conn, turn)
            for write in kept:
                write(conn)
            return fn(conn)

        return await self._db.write(begin_then)

    def after_commit(self, fn: Callable[[], None]) -> None:
        """Runs fn once this unit's writes are committed (never if they are not)."""
        self._after_commit.append(fn)

    async def commit(self) -> None:
        self._writable()
        kept, self._writes = self._writes, []
        if self._pinned:
            try:
                turn = self._db.turn
                await self._db.write(lambda conn: _apply_then_commit(conn, kept, turn))
            finally:
                self._unpin()
        elif kept:
            await self._db.commit_unit(lambda conn: _apply(conn, kept))
        hooks, self._after_commit = self._after_commit, []
        for hook in hooks:
            hook()

    async def close(self) -> None:
        """Leaving the unit: what commit() did not take is dropped."""
        self._writes.clear()
        self._after_commit.clear()
        if not self._pinned:
            return
        try:
            turn = self._db.turn  # rolled back and given back, whatever state it was left in
            await self._db.write(lambda conn: end_write(conn, turn, commit=False))
        finally:
            self._unpin()

    def _unpin(self) -> None:
        if self._pinned:
            self._pinned = False
            self._db.write_lock.release()

    @property
    def pinned(self) -> bool:
        return self._pinned

    def _writable(self) -> None:
        if self.read_only:
            raise RuntimeError("a read-only unit of work cannot write")


def _apply(conn: sqlite3.Connection, writes: Sequence[Write]) -> None:
    for write in writes:
        write(conn)


def _apply_then_commit(conn: sqlite3.Connection, writes: Sequence[Write], turn: WriterTurn) -> None:
    """A pinned unit's commit: whatever fails (a write, or COMMIT itself, a deferred
    constraint say) rolls the transaction back and gives the turn back, as the unit is
    unpinned either way and nothing else would."""
    try:
        _apply(conn, writes)
        end_write(conn, turn, commit=True)
    except BaseException:
        end_write(conn, turn, commit=False)
        raise
