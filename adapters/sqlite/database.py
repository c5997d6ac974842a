"""The SQLite file: one writer thread, a small pool of readers.

One thread owns the write connection. Units of work reach it on a queue; it takes every unit
waiting, runs each in a SAVEPOINT of its own (a unit that fails is rolled back alone and gets
its error), and commits them in one transaction: one fsync for the lot, never on the event
loop. SQLite checkpoints the write-ahead log on that thread as it commits (wal_autocheckpoint).

Reads run on a few reader threads, each read in a transaction of its own that ends with it,
so no connection keeps an old snapshot after a read, failed or not.

Driver errors stop here: IntegrityError is left for the repositories to name (a duplicate),
every other sqlite3 error becomes StorageUnavailable, and so does a write not answered within
`write_timeout_s` (a stuck disk): the caller answers 503 instead of hanging."""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar, cast

from domain.errors import StorageUnavailable

T = TypeVar("T")
Unit = Callable[[sqlite3.Connection], Any]
SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")
MAX_GROUP = 256  # units in one transaction: bounds how long the write lock is held
BUSY_TIMEOUT_MS = 3000  # another program holding the write lock (the sqlite3 shell, say)


# A unit on its way to the writer; `undo`: run it, answer, then roll it back (a trial run).
_Item = tuple[Unit, bool, "Future[Any]"]


def storage_error(exc: Exception) -> StorageUnavailable:
    return StorageUnavailable(f"the database is unavailable: {exc}")


def _connect(path: str, synchronous: str) -> sqlite3.Connection:
    conn = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
    )
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    # A deleted row (an erased call or tenant) is overwritten with zeros, not left in a free
    # page for a scan of the file to find.
    conn.execute("PRAGMA secure_delete=ON")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    return conn


class SqliteDatabase:
    def __init__(
        self,
        path: str,
        *,
        synchronous: str = "FULL",
        readers: int = 2,
        write_timeout_s: float = 5.0,
    ):
        if synchronous.upper() not in SYNCHRONOUS:
            raise ValueError(f"synchronous must be one of {', '.join(SYNCHRONOUS)}")
        self.path = path
        self._synchronous = synchronous.upper()
        self._readers = readers
        self.write_timeout_s = write_timeout_s
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._reader_pool: ThreadPoolExecutor | None = None
        self._idle_readers: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self.write_failure: str | None = None  # the last group's error, until one commits

    @property
    def is_open(self) -> bool:
        return self._writer is not None

    async def open(self) -> None:
        if self._writer is not None:
            return
        try:
            conn = await asyncio.to_thread(self._open_writer)
        except (OSError, sqlite3.Error) as exc:
            raise storage_error(exc) from exc
        self._reader_pool = ThreadPoolExecutor(self._readers, "sqlite-reader")
        self._writer = threading.Thread(target=self._write_loop, args=(conn,), daemon=True)
        self._writer.name = "sqlite-writer"
        self._writer.start()

    def _open_writer(self) -> sqlite3.Connection:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # It holds tenants' inline secrets: only this user reads it (SQLite gives the -wal
        # and -shm files the database file's mode).
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))
        return _connect(self.path, self._synchronous)

    async def close(self) -> None:
        writer, pool = self._writer, self._reader_pool
        self._writer = self._reader_pool = None
        if writer is not None:
            self._queue.put(None)  # after every unit already handed over
            await asyncio.to_thread(writer.join)
        if pool is not None:
            pool.shutdown(wait=True)
        while not self._idle_readers.empty():
            self._idle_readers.get().close()

    async def checkpoint(self) -> bool:
        """Copies the write-ahead log into the file and truncates it (once no reader needs
        it, within the busy timeout), so that what was deleted lives on in neither. True if
        the log was emptied."""

        def truncate() -> bool:
            conn = _connect(self.path, self._synchronous)
            try:
                busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            finally:
                conn.close()
            return not busy

        try:
            return await asyncio.to_thread(truncate)
        except sqlite3.Error as exc:
            raise storage_error(exc) from exc

    async def write(
        self, unit: Callable[[sqlite3.Connection], T], *, undo: bool = False, wait: bool = True
    ) -> T:
        """Runs `unit` on the writer in a transaction grouped with the units waiting with it,
        and returns its result once committed; raises what it raised (it alone was rolled
        back) or StorageUnavailable. `undo`: roll it back after answering (a trial run).
        A caller that stops waiting leaves its unit to commit or not with its group."""
        if self._writer is None:
            raise StorageUnavailable("the database is not open")
        done: Future[Any] = Future()
        self._queue.put((unit, undo, done))
        try:
            async with asyncio.timeout(self.write_timeout_s if wait else None):
                # Shielded: a cancelled caller's unit still commits with its group.
                return cast(T, await asyncio.shield(asyncio.wrap_future(done)))
        except TimeoutError:
            done.cancel()  # if not begun yet, the writer skips it
            raise StorageUnavailable("the database did not answer in time") from None

    def _write_loop(self, conn: sqlite3.Connection) -> None:
        try:
            while self._commit_next(conn):
                pass
        finally:
            conn.close()

    def _commit_next(self, conn: sqlite3.Connection) -> bool:
        """Commits every unit waiting (at least one); False once asked to stop. A function of
        its own so that no unit stays referenced while the thread waits for the next."""
        group = [self._queue.get()]
        while len(group) < MAX_GROUP and group[-1] is not None:
            try:
                group.append(self._queue.get_nowait())
            except queue.Empty:
                break
        items = [item for item in group if item and item[2].set_running_or_notify_cancel()]
        if items:
            self._commit(conn, items)
        return group[-1] is not None

    def _commit(self, conn: sqlite3.Connection, items: list[_Item]) -> None:
        answers: list[tuple[Callable[[Any], None], Any]] = []  # given once the group commits
        failure: str | None = None  # a storage error inside a unit (disk full, say)
        wrote = False  # whether COMMIT has rows to write: only that proves the file takes them
        try:
            conn.execute("BEGIN IMMEDIATE")
            for unit, undo, done in items:
                conn.execute("SAVEPOINT unit")
                changes = conn.total_changes
                try:
                    answers.append((done.set_result, unit(conn)))
                    wrote = wrote or (not undo and conn.total_changes > changes)
                except Exception as exc:  # the unit's own failure: undo it alone
                    # A constraint (a duplicate, a missing tenant) is the repositories' to name.
                    if isinstance(exc, sqlite3.Error) and not isinstance(
                        exc, sqlite3.IntegrityError
                    ):
                        failure, exc = str(exc), storage_error(exc)
                    answers.append((done.set_exception, exc))
                    undo = True
                if undo:
                    conn.execute("ROLLBACK TO unit")
                conn.execute("RELEASE unit")
            conn.execute("COMMIT")
        except sqlite3.Error as exc:  # the transaction itself failed: none of it is kept
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            self.write_failure = str(exc)
            for _, _, done in items:
                done.set_exception(storage_error(exc))
            return
        if wrote or failure is not None:
            self.write_failure = failure
        for answer, value in answers:
            answer(value)

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Runs fn on a reader, in a read transaction that ends with it."""
        pool = self._reader_pool
        if pool is None:
            raise StorageUnavailable("the database is not open")
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, self._read, fn)
        except RuntimeError as exc:  # the pool shut down meanwhile
            raise StorageUnavailable("the database is not open") from exc
        except sqlite3.Error as exc:
            raise storage_error(exc) from exc

    def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        try:
            conn = self._idle_readers.get_nowait()
        except queue.Empty:
            conn = _connect(self.path, self._synchronous)
            conn.execute("PRAGMA query_only=ON")
        try:
            conn.execute("BEGIN")
            result = fn(conn)
            conn.execute("ROLLBACK")
        except BaseException:
            # A statement left half-read keeps its snapshot even past ROLLBACK, as long as
            # anything (a traceback) holds its cursor: this connection is not used again.
            conn.close()
            raise
        self._idle_readers.put(conn)
        return result
