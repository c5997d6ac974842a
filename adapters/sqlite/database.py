"""Connections and threads. One writer connection on its own thread (SQLite has one writer at a
time anyway), guarded by an asyncio lock; readers on a small pool of threads with a connection
each, which WAL lets read while the writer writes.

Group commit: `commit_unit` hands a unit of work's writes (one function) to a leader that
applies every unit waiting at that moment in one transaction, each in a savepoint of its own
(a unit that fails is rolled back alone and gets its error), then commits once: one trip to the
writer thread and one fsync for the lot. A unit's awaiter returns only after that COMMIT.

Several processes (`serve --processes N`) share one database file: WriterTurn makes their
writers take turns without SQLite's sleeping busy wait."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
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
GATHER_ITERATIONS = 3  # loop iterations a group waits for more units before it commits
log = logging.getLogger("ingestion_pipeline.sqlite")


def _storage_error(exc: sqlite3.DatabaseError) -> BaseException:
    if isinstance(exc, sqlite3.IntegrityError):
        return exc
    if isinstance(exc, sqlite3.OperationalError):
        # Disk full, file unreadable, locked past the busy timeout: retry later.
        return StorageUnavailable(f"the database is unavailable: {exc}")
    return StorageUnavailable(f"the database failed: {exc}")


class WriterTurn:
    """Turns at SQLite's one write lock for the processes that share a database file.

    SQLite itself makes a writer that finds the lock taken sleep 1, 2, 5, 10, 15 ... ms between
    tries: two serving processes committing hundreds of times a second would spend their time
    asleep while the lock stood free. So our writers first take an advisory lock on a file
    beside the database (flock), and begin their transaction once they have it. The event
    loop's writer waits for it on a thread blocked in flock (wait_blocking), which the kernel
    wakes the moment the other process gives its turn back; the writer thread's tries again
    within a tenth of a millisecond at first and at most every 2 ms (take). SQLite's lock still
    decides what is correct: a process that does not take turns (an older version, the sqlite3
    shell) only costs waiting, and after `timeout_s` without a turn the writer goes ahead and
    lets SQLite's busy timeout decide. A turn is held from BEGIN to COMMIT or ROLLBACK."""

    def __init__(self, database_path: str, timeout_s: float = 10.0):
        self.path = database_path + "-writer.lock"
        self.timeout_s = timeout_s
        self._fd: int | None = None
        self._held = False
        # Whether this process holds the turn changes on the loop's thread, the writer's and
        # the one that waits in flock.
        self._lock = threading.Lock()
        self.waits = 0  # turns that had to wait for another process (how contended it is)

    def take(self) -> None:
        """Waits for the turn, sleeping between tries, up to timeout_s; after that SQLite's own
        busy timeout decides."""
        if self.try_take():
            return
        self.waits += 1
        deadline = time.monotonic() + self.timeout_s
        for pause in pauses():
            if time.monotonic() >= deadline:
                return
            time.sleep(pause)
            if self.try_take():
                return

    def try_take(self) -> bool:
        """The turn if it is free now, without waiting."""
        with self._lock:
            if self._held:
                return True
            try:
                fcntl.flock(self._open(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            self._held = True
            return True

    def wait_blocking(self, wait: TurnWait) -> bool:
        """Blocks this thread until the turn is this process's, and takes it; False if the
        wait was abandoned meanwhile (then the turn, if flock gave it, is given back). flock
        cannot be given a deadline: the waiter abandons the wait instead (abandon)."""
        with self._lock:
            if wait.abandoned:
                return False
            fd = self._open()
        fcntl.flock(fd, fcntl.LOCK_EX)
        with self._lock:
            if not wait.abandoned:
                self._held = wait.granted = True
                return True
            # No one wants it any more. Held by this process meanwhile (flock's locks belong
            # to the open file, which try_take shares), it stays held; otherwise it goes back,
            # if the file is still the one locked.
            if not self._held and self._fd == fd:
                with contextlib.suppress(OSError):
                    fcntl.flock(fd, fcntl.LOCK_UN)
            return False

    def abandon(self, wait: TurnWait) -> bool:
        """Ends a wait that wait_blocking may still be in: True if it had the turn already
        (it is this process's), False if not (wait_blocking will not take it)."""
        with self._lock:
            if wait.granted:
                return True
            wait.abandoned = True
            return False

    def give_back(self) -> None:
        with self._lock:
            if self._held and self._fd is not None:
                self._held = False
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        self.give_back()
        with self._lock:
            if self._fd is not None:
                with contextlib.suppress(OSError):
                    os.close(self._fd)
                self._fd = None

    def _open(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        return self._fd


class TurnWait:
    """One wait for the turn on a thread (WriterTurn.wait_blocking), which its waiter may
    abandon (WriterTurn.abandon)."""

    __slots__ = ("abandoned", "granted")

    def __init__(self) -> None:
        self.abandoned = False
        self.granted = False


def pauses() -> Iterator[float]:
    """The waits between two tries for a turn: 0.1 ms at first, doubling up to 2 ms."""
    pause = 0.0001
    while True:
        yield pause
        pause = min(pause * 2, 0.002)


class NoTurns(WriterTurn):
    """An in-memory database has one process: no turns to take."""

    def __init__(self) -> None:
        super().__init__(":memory:")

    def try_take(self) -> bool:
        return True


def begin_write(conn: sqlite3.Connection, turn: WriterTurn) -> None:
    """BEGIN IMMEDIATE, once this process has its turn (given back if BEGIN fails)."""
    turn.take()
    try:
        conn.execute("BEGIN IMMEDIATE")
    except BaseException:
        turn.give_back()
        raise


def end_write(conn: sqlite3.Connection, turn: WriterTurn, *, commit: bool) -> None:
    """COMMIT (or ROLLBACK) the writer's transaction, and give the turn back either way."""
    try:
        if conn.in_transaction:
            conn.execute("COMMIT" if commit else "ROLLBACK")
    finally:
        if not conn.in_transaction:
            turn.give_back()


def _apply_group(
    conn: sqlite3.Connection, units: Sequence[Unit], turn: WriterTurn
) -> list[tuple[bool, Any]]:
    """Runs every unit in one transaction; (True, result) or (False, exception) per unit, a
    unit that fails undone alone. Raises (and rolls everything back) only if the transaction
    itself cannot begin or commit.

    The units run first all together, with no savepoint each: every statement costs the writer
    thread a wait for the interpreter's lock, which a busy event loop holds, and a savepoint
    per unit doubled the statements. Only when one fails (a call stored meanwhile, say: rare)
    is that attempt undone and the group run again, each unit in a savepoint of its own."""
    begin_write(conn, turn)
    try:
        conn.execute("SAVEPOINT grp")
        try:
            outcomes: list[tuple[bool, Any]] = [(True, unit(conn)) for unit in units]
        except Exception:
            conn.execute("ROLLBACK TO grp")
            outcomes = [_apply_alone(conn, unit) for unit in units]
        conn.execute("RELEASE grp")
        end_write(conn, turn, commit=True)
    except BaseException:
        end_write(conn, turn, commit=False)
        raise
    return outcomes


def _apply_alone(conn: sqlite3.Connection, unit: Unit) -> tuple[bool, Any]:
    conn.execute("SAVEPOINT unit")
    try:
        result = unit(conn)
    except Exception as exc:  # the unit's own failure: undo it alone
        conn.execute("ROLLBACK TO unit")
        conn.execute("RELEASE unit")
        return False, _storage_error(exc) if isinstance(exc, sqlite3.DatabaseError) else exc
    conn.execute("RELEASE unit")
    return True, result


def _connect(path: str, synchronous: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    # A statement that may have to be undone inside a transaction (every INSERT of a group
    # commit, in its savepoint) keeps a statement journal: in a temporary file by default, one
    # created and unlinked per group. In memory it costs neither (measured: the two INSERTs of
    # a webhook 96 -> 74 us).
    conn.execute("PRAGMA temp_store=MEMORY")
    return conn


def _connect_group(path: str, synchronous: str) -> sqlite3.Connection:
    """The connection group commits run on, on the event loop: it never waits for SQLite's
    lock (busy timeout 0: a busy database sends the group to the writer thread instead) and
    never checkpoints as it commits (it could write megabytes back and fsync the database
    while the loop waits): SqliteDatabase checkpoints on a thread of its own instead."""
    conn = _connect(path, synchronous)
    conn.execute("PRAGMA busy_timeout=0")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    return conn


CHECKPOINT_EVERY = 100  # groups committed on the loop between two checkpoints


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
        self.turn = NoTurns() if path == ":memory:" else WriterTurn(path)
        self._group_conn: sqlite3.Connection | None = None
        self._since_checkpoint = 0
        self._checkpointer: ThreadLane | None = None
        self._turn_lane: ThreadLane | None = None  # where the loop's writer waits for a turn
        self._checkpoint_conn: sqlite3.Connection | None = None
        self._checkpointing: asyncio.Task[None] | None = None
        self.checkpoints = 0  # checkpoints that copied the whole log back (it starts over)
        self.groups_on_loop = 0  # groups committed on the event loop (the rest: on the thread)

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
            if self.path != ":memory:":  # another connection would be another database
                self._group_conn = await self._in(
                    self._writer, lambda: _connect_group(self.path, self._synchronous)
                )
                self._checkpointer = ThreadLane(1, "sqlite-checkpoint")
                self._turn_lane = ThreadLane(1, "sqlite-turn")
                self._checkpoint_conn = await self._in(
                    self._checkpointer, lambda: _connect(self.path, self._synchronous)
                )
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        if self._leader is not None:
            await asyncio.gather(self._leader, return_exceptions=True)
        if self._checkpointing is not None:
            await asyncio.gather(self._checkpointing, return_exceptions=True)
        turn_lane, self._turn_lane = self._turn_lane, None
        if turn_lane is not None:
            # Its thread may still be in flock for a wait abandoned at timeout_s, behind a
            # process that never gives its turn back: it is not waited for.
            await turn_lane.close(wait_s=0.1)
        checkpointer, self._checkpointer = self._checkpointer, None
        if checkpointer is not None:
            if self._checkpoint_conn is not None:
                await checkpointer.run(self._checkpoint_conn.close)
            await checkpointer.close()
        self._checkpoint_conn = None
        writer, readers = self._writer, self._reader_pool
        self._writer = self._reader_pool = None
        if writer is not None:
            conn = self._writer_conn
            if conn is not None:
                await writer.run(conn.close)
            if self._group_conn is not None:
                await writer.run(self._group_conn.close)
            await writer.run(self.turn.close)
            await writer.close()
        if readers is not None:
            await readers.close()
        for conn in self._reader_conns:
            conn.close()
        self._reader_conns.clear()
        self._writer_conn = self._group_conn = None

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
        # A cancelled caller cancels `done` only: its unit stays in its group (the leader skips
        # a future that is done), so what the caller began is committed or not with the rest.
        return await done

    async def _lead(self) -> None:
        try:
            while self._waiting:
                group: list[tuple[Unit, asyncio.Future[Any]]] = []
                try:
                    # A few turns of the loop first: requests read in the same wake-up as the
                    # one that started this group reach their commit an iteration or two
                    # later (their body, their handler's awaits), and join it instead of
                    # waiting for the next fsync. Microseconds when the loop has nothing else.
                    for _ in range(GATHER_ITERATIONS):
                        await asyncio.sleep(0)
                    async with self.write_lock:
                        on_loop = await self._loop_may_commit()
                        # Taken once the turn is ours, not before waiting for it: what
                        # arrived meanwhile commits in this group instead of waiting for the
                        # next turn (with two processes, a third of the groups wait).
                        group = self._waiting[:MAX_GROUP]
                        del self._waiting[:MAX_GROUP]
                        outcomes = await self._commit_group([unit for unit, _ in group], on_loop)
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
                if self._since_checkpoint >= CHECKPOINT_EVERY and self._checkpointing is None:
                    self._since_checkpoint = 0
                    self._checkpointing = asyncio.get_running_loop().create_task(self._checkpoint())
        finally:
            self._leader = None
            for _, done in self._waiting:  # only if the leader itself was cancelled
                if not done.done():
                    done.set_exception(StorageUnavailable("the database is closing"))
            self._waiting.clear()

    async def _loop_may_commit(self) -> bool:
        """Whether the loop commits the next group itself: it has a connection of its own
        and this process has the writers' turn (held from here to the group's COMMIT)."""
        return self._group_conn is not None and await self._turn_without_blocking()

    async def _commit_group(self, units: Sequence[Unit], on_loop: bool) -> list[tuple[bool, Any]]:
        """On the event loop when it can be: handing a group to the writer thread cost a
        wait for the interpreter's lock at every statement (a busy loop holds it), a context
        switch each on a virtual machine. The loop runs BEGIN..COMMIT itself when `on_loop`
        (this process has its turn: _loop_may_commit waited for it without blocking the loop)
        and SQLite's lock is free at once; the COMMIT's fsync is the only wait it blocks on.
        Otherwise (SQLite busy with a writer that takes no turns, no turn in time, an
        in-memory database) the writer thread does it, as it waits without harm."""
        conn = self._group_conn
        if on_loop and conn is not None:
            try:
                outcomes = _apply_group(conn, units, self.turn)
            except sqlite3.OperationalError:
                # Rolled back, turn given back: BEGIN found the database locked by a writer
                # outside the turns (or the disk failed): the thread tries again, and waits
                # (busy timeout) where the loop must not.
                pass
            except sqlite3.DatabaseError as exc:
                raise _storage_error(exc) from exc
            else:
                self.groups_on_loop += 1
                self._since_checkpoint += 1
                return outcomes
        return await self.write(partial(_apply_group, units=units, turn=self.turn))

    async def _turn_without_blocking(self) -> bool:
        """WriterTurn.take without blocking the loop: False after timeout_s without the turn.

        A thread of its own waits in flock, which the kernel wakes as the other process gives
        its turn back. The loop used to try again after pauses of 0.1 to 2 ms: a turn given
        back between two tries stood free until the next, or went to the other process again,
        and at 1,000 webhooks a second those waits made most of the p99 latency."""
        turn = self.turn
        if turn.try_take():
            return True
        turn.waits += 1
        lane = self._turn_lane
        if lane is None:  # closed meanwhile (an in-memory database never waits): SQLite decides
            return False
        wait = TurnWait()
        try:
            return await asyncio.wait_for(
                lane.run(partial(turn.wait_blocking, wait)), turn.timeout_s
            )
        except TimeoutError:
            return turn.abandon(wait)  # True if the turn came as the wait ended
        except BaseException:
            if turn.abandon(wait):  # cancelled with the turn in hand: no one will use it
                turn.give_back()
            raise

    async def _checkpoint(self) -> None:
        """Copies the write-ahead log back into the database (what SQLite does as it commits
        past 1,000 pages, which the loop's connection must not), on a connection and thread of
        its own, while group commits go on.

        Two passes. The first copies what the log holds when it starts (a hundred groups:
        tens of milliseconds on this disk) while every process goes on committing. The second
        holds this process's write lock and the writers' turn, so that no process appends
        meanwhile, and copies the few groups committed during the first; then the log is
        copied back whole and the next writer starts it over from its beginning. A log that
        is appended to during every checkpoint never starts over: with two processes and the
        one locked pass this replaces, it grew to 430 MB in a ten-second run at 1,000 webhooks a
        second, and that pass held each process's commits for 20-50 ms (the p99 latency)."""
        try:
            if self._checkpointer is None or self._checkpoint_conn is None:
                return
            conn, lane = self._checkpoint_conn, self._checkpointer

            def one_pass() -> bool:
                busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                return not busy and frames == copied

            await self._in(lane, one_pass)
            async with self.write_lock:
                if not await self._turn_without_blocking():
                    return  # another writer kept its turn: the next checkpoint tries again
                try:
                    if await self._in(lane, one_pass):
                        self.checkpoints += 1
                finally:
                    self.turn.give_back()
        except (StorageUnavailable, OSError) as exc:  # the next one will try again
            log.warning("checkpoint failed: %s", exc)
        finally:
            self._checkpointing = None

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
