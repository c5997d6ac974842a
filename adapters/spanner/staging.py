"""A write unit of work's buffer, and the commit that sends it.

Spanner lets a read-write transaction hold locks only while it is short (and the emulator runs
one at a time), so a unit of work does not keep one open across the caller's awaits. Its reads
are strong snapshot reads seen through the buffer of its own writes; its writes wait in the
buffer, and commit() sends them at once.

The pipeline's writes (a new call and its job, a call's next version, a job settled) go as one
Commit without reading (one round trip): a new call's row and a job's must not exist yet, and a
call's update asserts its version by updating the row of its call_versions that names the
version it was read at, which Spanner refuses once another writer has moved it on. Anything
else, and any write Spanner refuses, runs as one read-write transaction that re-checks what the
unit of work relied on (a call's version, a lease's owner, a job's claim, that a new call is
still new) and then writes; it gives the precise refusal. That transaction may run again after
ABORTED, so it only reads and mutates.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta
from enum import Enum
from typing import Any

import attrs
from google.api_core import exceptions as api_exceptions

from adapters.spanner import rows
from adapters.spanner.database import (
    Mutations,
    Params,
    Row,
    SpannerDatabase,
    TransactionContext,
)
from adapters.spanner.usage import UsageKey, new_entry_id, write_usage
from domain.apikeys import ApiKey
from domain.call import Call
from domain.errors import (
    CallNotFound,
    ConcurrentUpdate,
    DomainError,
    TenantAlreadyExists,
    TenantNotFound,
)
from domain.tenant import Tenant
from domain.usage import UsageDelta

CallKey = tuple[str, str]
JobKey = tuple[str, str, str]
VERSION_COLUMNS = ("tenant_id", "call_id", "version", "written_at")


class CallChange(Enum):
    INSERT = "insert"  # a new call: it must still be new at commit
    UPDATE = "update"  # the whole row, if the version is still `base_version`
    LEASE = "lease"  # only the lease's expiry, if `lease_owner` still holds it


@attrs.define
class StagedCall:
    call: Call  # the buffer's own copy: what the row will be
    change: CallChange
    base_version: int = 0
    lease_owner: str | None = None


@attrs.define
class StagedJob:
    row: rows.JobRow | None  # None: completed, to be deleted
    inserted: bool = False
    claimed_from: rows.JobRow | None = None  # the row as this unit of work claimed it
    reschedules: int = 0  # deliveries to add to the stored count
    # Only a longer claim, applied if this worker still holds it then; `stored` as read.
    holder: str | None = None
    stored: rows.JobRow | None = None
    key: JobKey | None = None  # of a job completed by its id, when this process knows it

    @property
    def blind(self) -> bool:
        """Whether it can be written without reading the stored row first."""
        if self.inserted:
            return True
        unclaimed = self.claimed_from is None and self.holder is None
        return self.row is None and self.key is not None and unclaimed


@attrs.define
class Staged:
    tenants: dict[str, tuple[Tenant, bool]] = attrs.field(factory=dict)  # (tenant, inserted)
    api_keys: dict[str, ApiKey] = attrs.field(factory=dict)
    calls: dict[CallKey, StagedCall] = attrs.field(factory=dict)
    jobs: dict[str, StagedJob] = attrs.field(factory=dict)
    # Versions this unit of work read from the store: an update of one of them needs no read.
    seen_versions: dict[CallKey, int] = attrs.field(factory=dict)
    usage: dict[UsageKey, UsageDelta] = attrs.field(factory=dict)
    usage_entry: str = attrs.field(factory=new_entry_id)

    @property
    def empty(self) -> bool:
        return not (self.tenants or self.api_keys or self.calls or self.jobs or self.usage)

    def live_jobs(self) -> list[rows.JobRow]:
        return [s.row for s in self.jobs.values() if s.row is not None]

    @property
    def blind(self) -> bool:
        """Whether one Commit without reads can write it all (see the module's docstring)."""
        return (
            not (self.tenants or self.api_keys)
            and all(s.change is not CallChange.LEASE for s in self.calls.values())
            and all(s.blind for s in self.jobs.values())
        )


class Known:
    """What this process has learned of rows it read or wrote, for the writes that follow:
    the version each call was at (so an update needs no read first: its commit checks it),
    and the call each job belongs to (a job's key never changes). Bounded; a wrong version
    costs only the checked transaction."""

    def __init__(self, size: int = 4096):
        self._size = size
        self._versions: dict[CallKey, int] = {}
        self._jobs: dict[str, JobKey] = {}

    def version(self, key: CallKey) -> int | None:
        return self._versions.get(key)

    def job_key(self, job_id: str) -> JobKey | None:
        return self._jobs.get(job_id)

    def saw(self, key: CallKey, version: int, job_ids: Sequence[str] = ()) -> None:
        self._put(self._versions, key, version)
        for job_id in job_ids:
            self._put(self._jobs, job_id, (*key, job_id))

    def forget(self, keys: Sequence[CallKey]) -> None:
        for key in keys:
            self._versions.pop(key, None)

    def committed(self, staged: Staged) -> None:
        for key, s in staged.calls.items():
            self.saw(key, s.call.version)
        for job_id, job in staged.jobs.items():
            if job.row is None:
                self._jobs.pop(job_id, None)
            elif job.inserted:
                self._put(self._jobs, job_id, job.row.key)

    def _put(self, table: dict[Any, Any], key: Any, value: Any) -> None:
        table.pop(key, None)
        if len(table) >= self._size:
            table.pop(next(iter(table)))  # the oldest: dicts keep insertion order
        table[key] = value


class Session:
    """What a unit of work's repositories share: the database, its mode, its buffer, and the
    tenants its reads of calls brought along."""

    def __init__(
        self, db: SpannerDatabase, read_only: bool, staleness: timedelta | None, known: Known
    ):
        self.db = db
        self.read_only = read_only
        self.known = known
        self._staleness = staleness
        self.staged = Staged()
        self.tenants_read: dict[str, Tenant] = {}

    async def query(self, sql: str, *, stale_ok: bool = False, **params: Any) -> list[Row]:
        """A strong read; `stale_ok` reads of a read-only unit of work may be bounded-stale."""
        values, types = rows.bind(**params)
        staleness = self._staleness if stale_ok and self.read_only else None
        return await self.db.query(sql, values, types, staleness=staleness)

    def writable(self) -> Staged:
        if self.read_only:
            raise RuntimeError("a read-only unit of work cannot write")
        return self.staged

    async def commit(self) -> None:
        if self.read_only:
            raise RuntimeError("a read-only unit of work cannot commit")
        staged = self.staged
        if not staged.empty:
            try:
                if not (staged.blind and await self.db.write(lambda m: write(m, staged))):
                    await self.db.transact(
                        lambda tx: apply(tx, staged), lambda exc: refusal(exc, staged)
                    )
            except DomainError:
                self.known.forget(list(staged.calls))
                raise
            self.known.committed(staged)
        self.staged = Staged()

    def discard(self) -> None:
        self.staged = Staged()


def exclude(column: str, values: Sequence[str], name: str, params: Params) -> str:
    """` AND column NOT IN UNNEST(@name)` for the rows the buffer overrides, or nothing."""
    if not values:
        return ""
    params[name] = list(values)
    return f" AND {column} NOT IN UNNEST(@{name})"


def any_call(keys: Sequence[CallKey], params: Params, prefix: str = "") -> str:
    """`((tenant_id = @k0t AND call_id = @k0c) OR ...)` for a few (tenant, call) keys."""
    terms = []
    for i, (tenant_id, call_id) in enumerate(keys):
        params[f"k{i}t"], params[f"k{i}c"] = tenant_id, call_id
        terms.append(f"({prefix}tenant_id = @k{i}t AND {prefix}call_id = @k{i}c)")
    return "(" + " OR ".join(terms) + ")"


# --- the commit ----------------------------------------------------------------------------


def write(m: Mutations, staged: Staged) -> None:
    """The one Commit without reads: Spanner refuses all of it if a call to insert exists or a
    call's version row has moved on (or is missing: a call stored before call_versions)."""
    for (tenant_id, call_id), s in staged.calls.items():
        if s.change is CallChange.INSERT:
            m.insert("calls", rows.CALL_COLUMNS, [rows.call_values(s.call)])
        else:
            m.update("calls", rows.CALL_COLUMNS, [rows.call_values(s.call)])
            base = [tenant_id, call_id, s.base_version]
            m.update("call_versions", VERSION_COLUMNS, [[*base, rows.COMMIT_TIMESTAMP]])
            m.delete("call_versions", [base])
        version = [tenant_id, call_id, s.call.version, rows.COMMIT_TIMESTAMP]
        m.insert("call_versions", VERSION_COLUMNS, [version])
    inserts = [rows.job_values(s.row) for s in staged.jobs.values() if s.inserted and s.row]
    if inserts:
        m.insert("jobs", rows.JOB_COLUMNS, inserts)
    completed = [list(s.key) for s in staged.jobs.values() if s.key and not s.inserted]
    if completed:
        m.delete("jobs", completed)  # a job already settled is no row: nothing happens
    write_usage(m, staged.usage, staged.usage_entry)


def apply(tx: TransactionContext, staged: Staged) -> None:
    """Checks what the unit of work relied on, then writes. Reads and mutations only."""
    _check_calls(tx, staged)
    stored_jobs = _stored_jobs(tx, staged)
    for tenant, inserted in staged.tenants.values():
        if inserted:
            tx.insert("tenants", rows.TENANT_COLUMNS, [rows.tenant_values(tenant)])
        else:
            tx.update("tenants", rows.TENANT_UPDATE_COLUMNS, [rows.tenant_update_values(tenant)])
    if staged.api_keys:
        values = [rows.api_key_values(k) for k in staged.api_keys.values()]
        tx.insert("api_keys", rows.API_KEY_COLUMNS, values)
    for (tenant_id, call_id), s in staged.calls.items():
        if s.change is CallChange.LEASE:
            lease = [tenant_id, call_id, s.call.lease_expires_at]
            tx.update("calls", rows.LEASE_COLUMNS, [[*lease, rows.COMMIT_TIMESTAMP]])
            continue
        if s.change is CallChange.INSERT:
            tx.insert("calls", rows.CALL_COLUMNS, [rows.call_values(s.call)])
        else:
            tx.update("calls", rows.CALL_COLUMNS, [rows.call_values(s.call)])
            tx.delete_under("call_versions", [tenant_id, call_id])
        version = [tenant_id, call_id, s.call.version, rows.COMMIT_TIMESTAMP]
        tx.insert("call_versions", VERSION_COLUMNS, [version])
    _write_jobs(tx, staged, stored_jobs)
    write_usage(tx, staged.usage, staged.usage_entry)


def _check_calls(tx: TransactionContext, staged: Staged) -> None:
    if not staged.calls:
        return
    found = {
        (r[0], r[1]): (r[2], r[3])
        for r in tx.read(
            "calls", ("tenant_id", "call_id", "version", "lease_owner"), list(staged.calls)
        )
    }
    for key, s in staged.calls.items():
        stored = found.get(key)
        if s.change is CallChange.INSERT:
            if stored is not None:
                raise ConcurrentUpdate(f"call {key[1]} was added by another writer meanwhile")
        elif stored is None:
            raise CallNotFound(f"no call {key[1]}")
        elif s.change is CallChange.UPDATE and stored[0] != s.base_version:
            raise ConcurrentUpdate(f"call {key[1]} changed since it was read")
        elif s.change is CallChange.LEASE and stored[1] != s.lease_owner:
            raise ConcurrentUpdate(f"call {key[1]}'s lease changed hands since it was read")


def _stored_jobs(tx: TransactionContext, staged: Staged) -> dict[str, rows.JobRow]:
    ids = [job_id for job_id, s in staged.jobs.items() if not s.inserted]
    if not ids:
        return {}
    found = tx.query(
        f"SELECT {rows.JOB_SELECT} FROM jobs@{{FORCE_INDEX=jobs_by_id}}"  # noqa: S608
        " WHERE job_id IN UNNEST(@ids)",
        *rows.bind(ids=ids),
    )
    return {r.job.job_id: r for r in map(rows.job_from_row, found)}


def _claim_state(row: rows.JobRow) -> tuple[Any, ...]:
    return (row.due_at, row.attempts, row.claimed_by, row.claimed_until)


def _write_jobs(tx: TransactionContext, staged: Staged, stored: dict[str, rows.JobRow]) -> None:
    inserts, updates, extends, deletes = [], [], [], []
    for job_id, s in staged.jobs.items():
        if s.inserted:
            if s.row is not None:
                inserts.append(rows.job_values(s.row))
            continue
        current = stored.get(job_id)
        if s.holder is not None and s.row is not None:
            if current is not None and current.claimed_by == s.holder:
                extends.append([*current.key, s.row.claimed_until, rows.COMMIT_TIMESTAMP])
            continue
        if s.claimed_from is not None and (
            current is None or _claim_state(current) != _claim_state(s.claimed_from)
        ):
            raise ConcurrentUpdate(f"job {job_id} was claimed or settled by another worker")
        if current is None:
            continue  # settled meanwhile: rescheduling or completing it changes nothing
        if s.row is None:
            deletes.append(current.key)
        else:
            row = attrs.evolve(s.row, attempts=current.attempts + s.reschedules)
            updates.append(rows.job_values(row))
    if inserts:
        tx.insert("jobs", rows.JOB_COLUMNS, inserts)
    if updates:
        tx.update("jobs", rows.JOB_COLUMNS, updates)
    if extends:
        tx.update("jobs", rows.CLAIM_COLUMNS, extends)
    if deletes:
        tx.delete("jobs", deletes)


def refusal(exc: api_exceptions.GoogleAPICallError, staged: Staged) -> DomainError | None:
    """The domain's reading of a commit Spanner refused. Tenants are checked by the schema
    (the primary key, the company's unique index), the parents of new rows by interleaving."""
    message = str(exc.message)
    if isinstance(exc, api_exceptions.AlreadyExists):
        if "tenants" in message or (staged.tenants and not staged.calls and not staged.jobs):
            return TenantAlreadyExists(_tenant_conflict(message, staged))
        return ConcurrentUpdate(f"a row was added by another writer meanwhile: {message}")
    if isinstance(exc, api_exceptions.NotFound):
        # "Parent Table: calls  Child Table: jobs" (emulator), "Parent row ... in table jobs".
        if "parent" in message.lower() and re.search(r"\bjobs\b", message):
            return CallNotFound("a job's call does not exist")
        ids = ", ".join(sorted({k[0] for k in staged.calls} | set(staged.tenants)))
        return TenantNotFound(f"no tenant {ids}".strip())
    return None


def _tenant_conflict(message: str, staged: Staged) -> str:
    if "tenants_by_company" in message:
        companies = ", ".join(t.config.callrail_company_id for t, _ in staged.tenants.values())
        return f"another tenant already has CallRail company {companies}"
    return f"tenant {', '.join(staged.tenants)} exists"
