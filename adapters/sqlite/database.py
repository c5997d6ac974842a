"""Connections and threads. One writer connection on its own thread (SQLite has one writer at a
time anyway), guarded by an asyncio lock held for a whole unit of work; readers on a small pool
of threads with a connection each, which WAL lets read while the writer writes."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from domain.errors import StorageUnavailable

T = TypeVar("T")
Params = Sequence[Any] | dict[str, Any]

SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")


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
        self._writer: ThreadPoolExecutor | None = None
        self._reader_pool: ThreadPoolExecutor | None = None
        self._writer_conn: sqlite3.Connection | None = None
        self._local = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._reader_conns_lock = threading.Lock()
        self.write_lock = asyncio.Lock()

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
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        self._reader_pool = ThreadPoolExecutor(self._readers, thread_name_prefix="sqlite-reader")
        try:
            self._writer_conn = await self._in(
                self._writer, lambda: _connect(self.path, self._synchronous)
            )
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        writer, readers = self._writer, self._reader_pool
        self._writer = self._reader_pool = None
        if writer is not None:
            conn = self._writer_conn
            if conn is not None:
                await asyncio.get_running_loop().run_in_executor(writer, conn.close)
            writer.shutdown(wait=True)
        if readers is not None:
            readers.shutdown(wait=True)
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
    async def _in(pool: ThreadPoolExecutor, fn: Callable[[], T]) -> T:
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, fn)
        except sqlite3.IntegrityError:
            raise
        except sqlite3.OperationalError as exc:
            # Disk full, file unreadable, locked past the busy timeout: retry later.
            raise StorageUnavailable(f"the database is unavailable: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            raise StorageUnavailable(f"the database failed: {exc}") from exc
