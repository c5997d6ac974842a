"""A unit of work's way to the database. Reads go to the readers; writes are kept and handed
to the writer together at commit (one unit there, in its own savepoint). A write whose outcome
the caller needs now is tried first (`check`): the kept writes and it run on the writer and
are rolled back. A read after this unit's own writes sees them the same way. Nothing holds a
transaction open across an await."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from adapters.sqlite.database import SqliteDatabase

T = TypeVar("T")
Write = Callable[[sqlite3.Connection], object]
Row = Callable[[sqlite3.Row], T]


class Session:
    def __init__(self, db: SqliteDatabase, read_only: bool):
        self.db = db
        self.read_only = read_only
        self._writes: list[Write] = []

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if not self._writes:
            return await self.db.read(fn)
        return await self.db.write(self._after_kept(fn), undo=True)

    async def one(self, sql: str, params: Sequence[Any], row_to: Row[T]) -> T | None:
        row = await self.read(lambda conn: conn.execute(sql, params).fetchone())
        return None if row is None else row_to(row)

    async def all(self, sql: str, params: Sequence[Any], row_to: Row[T]) -> list[T]:
        rows = await self.read(lambda conn: conn.execute(sql, params).fetchall())
        return [row_to(row) for row in rows]

    async def defer(self, fn: Write) -> None:
        """A write whose failure may wait for commit."""
        self._writable()
        self._writes.append(fn)

    async def check(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """A write whose outcome (result or error) the caller needs now; kept for commit."""
        self._writable()
        result = await self.db.write(self._after_kept(fn), undo=True)
        self._writes.append(fn)
        return result

    async def now(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Commits the writes kept so far and fn with them, at once (a claim, say)."""
        self._writable()
        run, self._writes = self._after_kept(fn), []
        return await self.db.write(run)

    async def commit(self) -> None:
        self._writable()
        if self._writes:
            await self.now(lambda conn: None)

    def close(self) -> None:
        self._writes.clear()

    def _after_kept(
        self, fn: Callable[[sqlite3.Connection], T]
    ) -> Callable[[sqlite3.Connection], T]:
        writes = list(self._writes)

        def run(conn: sqlite3.Connection) -> T:
            for write in writes:
                write(conn)
            return fn(conn)

        return run

    def _writable(self) -> None:
        if self.read_only:
            raise RuntimeError("a read-only unit of work cannot write")
