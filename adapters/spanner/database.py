"""The Spanner database behind the repositories. The client library is synchronous, so every
call runs on a bounded pool of threads; driver errors come out as port errors; and every round
trip to Spanner is counted, so a benchmark can say what one call costs.

Round trips are counted on the wire: each data request the client library sends (a query or
read, single-use or in a transaction; BeginTransaction; Commit; Rollback), retries and re-runs
after ABORTED included. Not counted: sessions (created once per database handle) and schema
changes.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, TypeVar

import attrs
from google.api_core import exceptions as api_exceptions
from google.cloud import spanner
from google.cloud.spanner_v1.database import Database
from google.cloud.spanner_v1.transaction import Transaction

from domain.errors import DomainError, StorageUnavailable

T = TypeVar("T")
Row = list[Any]
Params = dict[str, Any]

_UNAVAILABLE = (
    api_exceptions.Aborted,  # still aborted when run_in_transaction's retries ran out
    api_exceptions.DeadlineExceeded,
    api_exceptions.ServiceUnavailable,
    api_exceptions.InternalServerError,
    api_exceptions.ResourceExhausted,
    api_exceptions.RetryError,
)


@attrs.frozen
class RoundTrips:
    """Spanner round trips by kind, since the database was opened."""

    snapshot_reads: int = 0
    transaction_reads: int = 0
    begins: int = 0
    commits: int = 0
    rollbacks: int = 0

    @property
    def total(self) -> int:
        return (
            self.snapshot_reads
            + self.transaction_reads
            + self.begins
            + self.commits
            + self.rollbacks
        )

    def __sub__(self, other: RoundTrips) -> RoundTrips:
        return RoundTrips(
            *(a - b for a, b in zip(attrs.astuple(self), attrs.astuple(other), strict=True))
        )


class _Counter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(attrs.fields_dict(RoundTrips), 0)
        self.transaction_attempts = 0

    def add(self, kind: str) -> None:
        with self._lock:
            self._counts[kind] += 1

    def attempt(self) -> None:
        with self._lock:
            self.transaction_attempts += 1

    def snapshot(self) -> RoundTrips:
        with self._lock:
            return RoundTrips(**self._counts)


def _count_requests(api: Any, counter: _Counter) -> None:
    """Wraps the data requests of the library's Spanner client so each one sent is counted."""

    def counted(name: str, kind: Callable[[Any], str]) -> None:
        send = getattr(api, name)

        def sending(*args: Any, **kwargs: Any) -> Any:
            counter.add(kind(kwargs.get("request", args[0] if args else None)))
            return send(*args, **kwargs)

        setattr(api, name, sending)

    def read_kind(request: Any) -> str:
        selector = getattr(request, "transaction", None)
        single = selector is not None and "single_use" in selector
        return "snapshot_reads" if single else "transaction_reads"

    for name in ("execute_streaming_sql", "streaming_read", "execute_sql", "execute_batch_dml"):
        counted(name, read_kind)
    counted("begin_transaction", lambda _: "begins")
    counted("commit", lambda _: "commits")
    counted("rollback", lambda _: "rollbacks")


class Mutations:
    """What a commit writes: inserts, updates and deletes, buffered until it is sent."""

    def __init__(self, target: Any):
        self._target = target  # a Transaction or a Batch: both buffer mutations

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        self._target.insert(table, list(columns), [list(r) for r in rows])

    def update(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        self._target.update(table, list(columns), [list(r) for r in rows])

    def delete(self, table: str, keys: Sequence[Sequence[Any]]) -> None:
        keyset = spanner.KeySet(keys=[list(k) for k in keys])  # type: ignore[no-untyped-call]
        self._target.delete(table, keyset)

    def delete_under(self, table: str, prefix: Sequence[Any]) -> None:
        """Every row of `table` whose key starts with `prefix`."""
        span = spanner.KeyRange(start_closed=list(prefix), end_closed=list(prefix))  # type: ignore[no-untyped-call]
        self._target.delete(table, spanner.KeySet(ranges=[span]))  # type: ignore[no-untyped-call]


class TransactionContext(Mutations):
    """A read-write transaction as the repositories use it: reads, and mutations."""

    def __init__(self, txn: Transaction, timeout_s: float):
        super().__init__(txn)
        self._txn = txn
        self._timeout_s = timeout_s

    def query(
        self, sql: str, params: Params | None = None, types: Params | None = None
    ) -> list[Row]:
        result = self._txn.execute_sql(  # type: ignore[no-untyped-call]
            sql, params=params, param_types=types, timeout=self._timeout_s
        )
        return [list(row) for row in result]

    def read(self, table: str, columns: Sequence[str], keys: Sequence[Sequence[Any]]) -> list[Row]:
        keyset = spanner.KeySet(keys=[list(k) for k in keys])  # type: ignore[no-untyped-call]
        found = self._txn.read(table, list(columns), keyset, timeout=self._timeout_s)  # type: ignore[no-untyped-call]
        return [list(row) for row in found]


class SpannerDatabase:
    def __init__(
        self,
        project: str,
        instance: str,
        database: str,
        *,
        threads: int = 8,
        transaction_timeout_s: float = 60.0,
        read_timeout_s: float = 30.0,
        abort_retry_delay_s: float | None = None,
        on_error: Callable[[str], object] | None = None,
    ):
        """`read_timeout_s` bounds each query or read (single-use or in a transaction);
        `transaction_timeout_s` how long a commit keeps re-running after ABORTED.
        `abort_retry_delay_s` overrides the wait before re-running an aborted transaction
        when Spanner does not say how long (the library's default doubles from 2 s).
        `on_error` is told the name of every driver error turned into StorageUnavailable
        (ServiceUnavailable, DeadlineExceeded...), for the metrics."""
        self.project, self.instance_id, self.database_id = project, instance, database
        self._threads = threads
        self._transaction_timeout_s = transaction_timeout_s
        self._read_timeout_s = read_timeout_s
        self._abort_retry_delay_s = abort_retry_delay_s
        self._pool: ThreadPoolExecutor | None = None
        self._database: Database | None = None
        self._counter = _Counter()
        self._on_error = on_error

    @classmethod
    def from_path(cls, path: str, **options: Any) -> SpannerDatabase:
        """`projects/P/instances/I/databases/D`."""
        parts = path.strip("/").split("/")
        if len(parts) != 6 or parts[0::2] != ["projects", "instances", "databases"]:
            raise ValueError(f"not a Spanner database path: {path!r}")
        return cls(parts[1], parts[3], parts[5], **options)

    @property
    def path(self) -> str:
        return f"projects/{self.project}/instances/{self.instance_id}/databases/{self.database_id}"

    @property
    def is_open(self) -> bool:
        return self._pool is not None

    async def open(self) -> None:
        if self._pool is not None:
            return
        self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="spanner")
        try:
            # Finding credentials may ask the metadata server: not on the event loop.
            self._database = await self._in(self._connect)
        except BaseException:
            await self.close()
            raise

    def _connect(self) -> Database:
        client = spanner.Client(project=self.project)
        instance = client.instance(self.instance_id)  # type: ignore[no-untyped-call]
        database: Database = instance.database(self.database_id)
        _count_requests(database.spanner_api, self._counter)
        return database

    async def close(self) -> None:
        # Not Database.close(): in this library version it joins a session-maintenance thread
        # that sleeps for ten minutes. That thread is a daemon and ends with its handle.
        pool, self._pool, self._database = self._pool, None, None
        if pool is not None:
            pool.shutdown(wait=True)

    def round_trips(self) -> RoundTrips:
        return self._counter.snapshot()

    @property
    def transaction_attempts(self) -> int:
        """How often a read-write transaction's function ran, re-runs after ABORTED included."""
        return self._counter.transaction_attempts

    async def run(self, fn: Callable[[Database], T]) -> T:
        """Runs fn with the database handle on the pool (schema work, administration)."""
        database = self._handle()
        return await self._in(lambda: fn(database))

    async def query(
        self,
        sql: str,
        params: Params | None = None,
        types: Params | None = None,
        *,
        staleness: timedelta | None = None,
    ) -> list[Row]:
        """One single-use read-only query: strong, or as of `staleness` ago."""
        database = self._handle()
        options: dict[str, Any] = {} if staleness is None else {"exact_staleness": staleness}

        def run() -> list[Row]:
            with database.snapshot(**options) as snapshot:  # type: ignore[no-untyped-call]
                result = snapshot.execute_sql(
                    sql, params=params, param_types=types, timeout=self._read_timeout_s
                )
                return [list(row) for row in result]

        return await self._in(run)

    async def transact(
        self,
        fn: Callable[[TransactionContext], T],
        conflict: Callable[[api_exceptions.GoogleAPICallError], DomainError | None] = (
            lambda exc: None
        ),
    ) -> T:
        """Runs fn in a read-write transaction and commits it, re-running fn on ABORTED: fn
        must have no effect but its reads and mutations. `conflict` turns a refused commit
        (a duplicate key, a missing parent) into the domain's error."""
        database = self._handle()
        counter = self._counter

        def attempt(txn: Transaction) -> T:
            counter.attempt()
            return fn(TransactionContext(txn, self._read_timeout_s))

        options = self._commit_options()

        def run() -> T:
            try:
                result: T = database.run_in_transaction(attempt, **options)  # type: ignore[no-untyped-call]
            except _UNAVAILABLE:
                raise
            except api_exceptions.GoogleAPICallError as exc:
                mapped = conflict(exc)
                if mapped is not None:
                    raise mapped from None
                raise
            return result

        return await self._in(run)

    async def write(self, fn: Callable[[Mutations], None]) -> bool:
        """Sends fn's mutations in one Commit with no transaction begun first (one round trip),
        re-sent after ABORTED. False, and nothing written, when Spanner refuses them: a row to
        insert exists, a row to update is missing, a parent is missing, a unique index holds the
        value. Nothing can be read: a write that depends on what is stored says so by the rows it
        updates (which must exist) and inserts (which must not)."""
        database = self._handle()

        def run() -> bool:
            try:
                with database.batch(**self._commit_options()) as batch:  # type: ignore[no-untyped-call]
                    fn(Mutations(batch))
            except (api_exceptions.NotFound, api_exceptions.AlreadyExists):
                return False
            return True

        return await self._in(run)

    def _commit_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"timeout_secs": self._transaction_timeout_s}
        if self._abort_retry_delay_s is not None:
            options["default_retry_delay"] = self._abort_retry_delay_s
        return options

    def _handle(self) -> Database:
        if self._database is None:
            raise StorageUnavailable("the database is not open")
        return self._database

    async def _in(self, fn: Callable[[], T]) -> T:
        if self._pool is None:
            raise StorageUnavailable("the database is not open")
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, fn)
        except _UNAVAILABLE as exc:
            self._count(exc)
            raise StorageUnavailable(f"Spanner is unavailable: {exc.message}") from exc
        except api_exceptions.GoogleAPICallError as exc:
            self._count(exc)
            raise StorageUnavailable(f"Spanner failed: {exc.message}") from exc

    def _count(self, exc: Exception) -> None:
        if self._on_error is not None:
            self._on_error(type(exc).__name__)
