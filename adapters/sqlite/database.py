"""Connections and threads. One writer connection on its own thread (SQLite has one writer at a
time anyway), guarded by an asyncio lock; readers on a small pool of threads with a connection
each, which WAL lets read while the writer writes.

Group commit: `commit_unit` hands a unit of work's writes (one function) to a leader that
applies every unit waiting at that moment in one transaction, each in a savepoint of its own
(a unit that fails is rolled back alone and gets its error), then commits once: one trip to the
writer thread and one fsync for the lot. A unit's awaiter returns only after that COMMIT."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from adapters.sqlite.threads import ThreadLane
from domain.errors import StorageUnavailable

T = TypeVar("T")
Params = Sequence[Any] | dict[str, Any]
Unit = Callable[[sqlite3.Connection], Any]

SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")
MAX_GROUP = 256  # units in one transaction: bounds the time the write lock is held


def _storage_error(exc: sqlite3.DatabaseError) -> BaseException:
    if isinstance(exc, sqlite3.IntegrityError):
        return exc
    if isinstance(exc, sqlite3.OperationalError):
        # Disk full, file unreadable, locked past the busy timeout: retry later.
        return StorageUnavailable(f"the database is unavailable: {exc}")
    return StorageUnavailable(f"the database failed: {exc}")


def _apply_group(conn: sqlite3.Connection, units: Sequence[Unit]) -> list[tuple[bool, Any]]:
    """Runs every unit in one transaction, each in its own savepoint; (True, result) or
    (False, exception) per unit. Raises (and rolls everything back) only if the transaction
    itself cannot begin or commit."""
    outcomes: list[tuple[bool, Any]] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        for unit in units:
            conn.execute("SAVEPOINT unit")
            try:
                result = unit(conn)
            except Exception as exc:  # the unit's own failure: undo it alone
                conn.execute("ROLLBACK TO unit")
                conn.execute("RELEASE unit")
                error = _storage_error(exc) if isinstance(exc, sqlite3.DatabaseError) else exc
                outcomes.append((False, error))
            else:
                conn.execute("RELEASE unit")
                outcomes.append((True, result))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return outcomes


def _connect(path: str, synchronous: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    return conn


class SqliteDatabase:
    def __init__(self, path: str, *, synchronous: str = "FULL", readers: int = 2):
        if synchronous.upper() not in SYNCHRONOUS:
            raise ValueError(f"synchronous must be one of {', '.join(SYNCHRONOUS)}")
        self.path = path
        self._synchronous = synchronous.upper()
        self._readers = readers
        self._writer: ThreadLane | None = None
        self._reader_pool: ThreadLane | None = None
        self._writer_conn: sqlite3.Connection | None = None
        self._local = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._reader_conns_lock = threading.Lock()
        self.write_lock = asyncio.Lock()
        self._waiting: list[tuple[Unit, asyncio.Future[Any]]] = []
        self._leader: asyncio.Task[None] | None = None
        self.groups_committed = 0  # transactions group commit has made (how well it groups)

    @property
    def is_open(self) -> bool:
        return self._writer is not None

    async def open(self) -> None:
        if self._writer is not None:
            return
        if self.path != ":memory:":
            try:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageUnavailable(f"the database is unavailable: {exc}") from exc
        self._writer = ThreadLane(1, "sqlite-writer")
        self._reader_pool = ThreadLane(self._readers, "sqlite-reader")
        try:
            self._writer_conn = await self._in(
                self._writer, lambda: _connect(self.path, self._synchronous)
            )
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        if self._leader is not None:
            await asyncio.gather(self._leader, return_exceptions=True)
        writer, readers = self._writer, self._reader_pool
        self._writer = self._reader_pool = None
        if writer is not None:
            conn = self._writer_conn
            if conn is not None:
                await writer.run(conn.close)
            await writer.close()
        if readers is not None:
            await readers.close()
        for conn in self._reader_conns:
            conn.close()
        self._reader_conns.clear()
        self._writer_conn = None

    @property
    def writer_in_transaction(self) -> bool:
        """Only meaningful to the holder of write_lock, when no write is in flight."""
        return self._writer_conn is not None and self._writer_conn.in_transaction

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Runs fn on the writer connection. Callers hold write_lock for multi-step work."""
        if self._writer is None or self._writer_conn is None:
            raise StorageUnavailable("the database is not open")
        conn = self._writer_conn
        return await self._in(self._writer, lambda: fn(conn))

    async def commit_unit(self, unit: Callable[[sqlite3.Connection], T]) -> T:
        """Applies `unit` (a unit of work's writes) atomically, grouped with the units waiting
        at the same time; returns its result once committed, or raises what it raised (it
        alone was rolled back) or StorageUnavailable (none of the group was committed)."""
        if self._writer is None:
            raise StorageUnavailable("the database is not open")
        loop = asyncio.get_running_loop()
        done: asyncio.Future[T] = loop.create_future()
        # Retrieved even when its caller was cancelled, so a failure is never logged as lost.
        done.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._waiting.append((unit, done))
        if self._leader is None:
            self._leader = loop.create_task(self._lead())
        # Shielded: a cancelled caller does not take its unit out of a group being committed.
        return await asyncio.shield(done)

    async def _lead(self) -> None:
        try:
            while self._waiting:
                group = self._waiting[:MAX_GROUP]
                del self._waiting[:MAX_GROUP]
                units = [unit for unit, _ in group]
                try:
                    async with self.write_lock:
                        outcomes = await self.write(partial(_apply_group, units=units))
                except Exception as exc:  # none of the group was committed
                    for _, done in group:
                        if not done.done():
                            done.set_exception(exc)
                    continue
                except BaseException:  # the leader itself is cancelled: so are its awaiters
                    for _, done in group:
                        done.cancel()
                    raise
                self.groups_committed += 1
                for (_, done), (ok, value) in zip(group, outcomes, strict=True):
                    if done.done():
                        continue
                    if ok:
                        done.set_result(value)
                    else:
                        done.set_exception(value)
        finally:
            self._leader = None
            for _, done in self._waiting:  # only if the leader itself was cancelled
                if not done.done():
                    done.set_exception(StorageUnavailable("the database is closing"))
            self._waiting.clear()

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._reader_pool is None:
            raise StorageUnavailable("the database is not open")
        return await self._in(self._reader_pool, lambda: fn(self._reader()))

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path, self._synchronous)
            conn.execute("PRAGMA query_only=ON")
            self._local.conn = conn
            with self._reader_conns_lock:
                self._reader_conns.append(conn)
        return conn

    @staticmethod
    async def _in(pool: ThreadLane, fn: Callable[[], T]) -> T:
        try:
            return await pool.run(fn)
        except sqlite3.IntegrityError:
            raise
        except sqlite3.DatabaseError as exc:
            raise _storage_error(exc) from exc
