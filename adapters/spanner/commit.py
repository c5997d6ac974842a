"""The commit of a write unit of work's buffer, in one of two ways.

The pipeline's writes (a new call and its job, a call's next version, a job settled) go as one
Commit without reading (one round trip): a new call's row and a job's must not exist yet, and a
call's update asserts its version by updating the row of its call_versions that names the
version it was read at, which Spanner refuses once another writer has moved it on. Anything
else, and any write Spanner refuses, runs as one read-write transaction that re-checks what the
unit of work relied on (a call's version, a lease's owner, a job's claim, that a new call is
still new) and then writes; it gives the precise refusal. That transaction may run again after
ABORTED, so it only reads and mutates.

A Commit without a transaction is not idempotent: if its answer is lost and the client sends it
again, the second is refused (the first moved the version row on, or inserted the row), and the
caller hears ConcurrentUpdate for a write that landed. The pipeline reads that as busy and
resumes from what is stored; the webhook answers with the call as stored.
"""

from __future__ import annotations

import re
from typing import Any

import attrs
from google.api_core import exceptions as api_exceptions

from adapters.spanner import rows
from adapters.spanner.buffer import CallChange, Staged
from adapters.spanner.database import Mutations, TransactionContext
from adapters.spanner.deletions import write_deletes
from adapters.spanner.usage import write_usage
from domain.errors import (
    CallNotFound,
    ConcurrentUpdate,
    DomainError,
    TenantAlreadyExists,
    TenantNotFound,
)

VERSION_COLUMNS = ("tenant_id", "call_id", "version", "written_at")


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
    write_deletes(tx, staged.deleted_calls, staged.deleted_tenants, staged.deletions)


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
