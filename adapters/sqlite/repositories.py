"""SQLite repositories and their unit of work. Each method sends one function to the database
thread; rows are mapped to domain objects in one private function per table."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self, TypeVar

from adapters.sqlite.database import SqliteDatabase
from adapters.sqlite.outcomes import select_outcomes
from adapters.sqlite.usage import SqliteUsageRepository
from domain import codec
from domain.apikeys import ApiKey
from domain.call import Call
from domain.errors import CallNotFound, ConcurrentUpdate, TenantAlreadyExists, TenantNotFound
from domain.jobs import Job
from domain.paging import decode_cursor, encode_cursor
from domain.stages import Stage, stages_matching
from domain.stats import CallOutcome
from domain.tenant import Tenant, parse_tenant, tenant_document
from ports.repositories import (
    ApiKeyRepository,
    CallPage,
    CallRepository,
    JobRepository,
    TenantRepository,
    UnitOfWork,
    UnitOfWorkFactory,
)

T = TypeVar("T")


def _t(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"))


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)


class _Session:
    def __init__(self, db: SqliteDatabase, read_only: bool):
        self._db = db
        self._read_only = read_only

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._read_only:
            return await self._db.read(fn)

        def in_transaction(conn: sqlite3.Connection) -> T:
            # The transaction starts with the first statement, in the same trip to the thread.
            if not conn.in_transaction:
                conn.execute("BEGIN IMMEDIATE")
            return fn(conn)

        return await self._db.write(in_transaction)


def _tenant_from_row(row: sqlite3.Row) -> Tenant:
    return parse_tenant(
        json.loads(row["document"]),
        now=datetime.fromisoformat(row["updated_at"]),
        created_at=datetime.fromisoformat(row["created_at"]),
    )


class SqliteTenantRepository(TenantRepository):
    def __init__(self, session: _Session):
        self._s = session

    async def add(self, tenant: Tenant) -> None:
        def insert(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    "INSERT INTO tenants (tenant_id, name, status, callrail_company_id, document,"
                    " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (*self._columns(tenant), _t(tenant.created_at), _t(tenant.updated_at)),
                )
            except sqlite3.IntegrityError:
                raise TenantAlreadyExists(self._conflict(conn, tenant)) from None

        await self._s.run(insert)

    @staticmethod
    def _columns(tenant: Tenant) -> tuple[str, str, str, str, str]:
        document = json.dumps(tenant_document(tenant, reveal_secrets=True))
        return (
            tenant.tenant_id,
            tenant.name,
            tenant.status,
            tenant.config.callrail_company_id,
            document,
        )

    @staticmethod
    def _conflict(conn: sqlite3.Connection, tenant: Tenant) -> str:
        owner = conn.execute(
            "SELECT tenant_id FROM tenants WHERE callrail_company_id = ?",
            (tenant.config.callrail_company_id,),
        ).fetchone()
        if owner is not None and owner[0] != tenant.tenant_id:
            company = tenant.config.callrail_company_id
            return f"tenant {owner[0]} already has CallRail company {company}"
        return f"tenant {tenant.tenant_id} exists"

    async def get(self, tenant_id: str) -> Tenant | None:
        def select(conn: sqlite3.Connection) -> Tenant | None:
            row = conn.execute("SELECT * FROM tenants WHERE tenant_id = ?", (tenant_id,)).fetchone()
            return _tenant_from_row(row) if row else None

        return await self._s.run(select)

    async def get_by_company(self, company_ids: Sequence[str]) -> Tenant | None:
        def select(conn: sqlite3.Connection) -> Tenant | None:
            for company in company_ids:
                row = conn.execute(
                    "SELECT * FROM tenants WHERE callrail_company_id = ?", (company,)
                ).fetchone()
                if row:
                    return _tenant_from_row(row)
            return None

        return await self._s.run(select)

    async def list(self) -> Sequence[Tenant]:
        def select(conn: sqlite3.Connection) -> list[Tenant]:
            return [
                _tenant_from_row(r)
                for r in conn.execute("SELECT * FROM tenants ORDER BY tenant_id")
            ]

        return await self._s.run(select)

    async def update(self, tenant: Tenant) -> None:
        def save(conn: sqlite3.Connection) -> None:
            tenant_id, name, status, company, document = self._columns(tenant)
            try:
                cursor = conn.execute(
                    "UPDATE tenants SET name = ?, status = ?, callrail_company_id = ?,"
                    " document = ?, updated_at = ? WHERE tenant_id = ?",
                    (name, status, company, document, _t(tenant.updated_at), tenant_id),
                )
            except sqlite3.IntegrityError:
                raise TenantAlreadyExists(self._conflict(conn, tenant)) from None
            if cursor.rowcount == 0:
                raise TenantNotFound(f"no tenant {tenant_id}")

        await self._s.run(save)


_CALL_COLUMNS = (
    "tenant_id, call_id, stage, received_at, completed_at, attempts, metadata, recording_url,"
    " raw_payload, recording, transcript, analysis, lead_score, crm_sync, failure, timeline,"
    " lease_owner, lease_expires_at, version, updated_at"
)


def _call_values(call: Call, version: int) -> tuple[Any, ...]:
    # updated_at is the call's last recorded activity, in the domain's time, so the sweep's
    # deadline (also the domain's time) compares like with like.
    last_activity = call.timeline[-1].at if call.timeline else call.received_at
    return (
        call.tenant_id,
        call.call_id,
        call.stage.value,
        _t(call.received_at),
        _t(call.completed_at) if call.completed_at else None,
        call.attempts,
        _json(codec.metadata_to_dict(call.metadata)),
        call.recording_url,
        _json(dict(call.raw_payload)),
        _json(codec.recording_to_dict(call.recording)),
        _json(codec.transcript_to_dict(call.transcript)),
        _json(codec.analysis_to_dict(call.analysis)),
        _json(codec.score_to_dict(call.lead_score)),
        _json(codec.crm_to_dict(call.crm_sync)),
        _json(codec.failure_to_dict(call.failure)),
        _json(codec.timeline_to_list(call.timeline)),
        call.lease_owner,
        _t(call.lease_expires_at) if call.lease_expires_at else None,
        version,
        _t(last_activity),
    )


def _call_from_row(row: sqlite3.Row) -> Call:
    return Call(
        tenant_id=row["tenant_id"],
        call_id=row["call_id"],
        received_at=datetime.fromisoformat(row["received_at"]),
        metadata=codec.metadata_from_dict(json.loads(row["metadata"])),
        recording_url=row["recording_url"],
        raw_payload=json.loads(row["raw_payload"]),
        stage=Stage(row["stage"]),
        attempts=row["attempts"],
        completed_at=codec.parse_time(row["completed_at"]),
        recording=codec.recording_from_dict(_load(row["recording"])),
        transcript=codec.transcript_from_dict(_load(row["transcript"])),
        analysis=codec.analysis_from_dict(_load(row["analysis"])),
        lead_score=codec.score_from_dict(_load(row["lead_score"])),
        crm_sync=codec.crm_from_dict(_load(row["crm_sync"])),
        failure=codec.failure_from_dict(_load(row["failure"])),
        timeline=codec.timeline_from_list(json.loads(row["timeline"])),
        lease_owner=row["lease_owner"],
        lease_expires_at=codec.parse_time(row["lease_expires_at"]),
        version=row["version"],
    )


class SqliteCallRepository(CallRepository):
    def __init__(self, session: _Session):
        self._s = session

    async def add(self, call: Call) -> bool:
        values = _call_values(call, 1)
        placeholders = ", ".join("?" * len(values))

        def insert(conn: sqlite3.Connection) -> bool:
            try:
                cursor = conn.execute(
                    f"INSERT INTO calls ({_CALL_COLUMNS}) VALUES ({placeholders})"  # noqa: S608
                    " ON CONFLICT (tenant_id, call_id) DO NOTHING",
                    values,
                )
            except sqlite3.IntegrityError:
                raise TenantNotFound(f"no tenant {call.tenant_id}") from None
            return cursor.rowcount == 1

        created = await self._s.run(insert)
        if created:
            call.version = 1
        return created

    async def get(self, tenant_id: str, call_id: str) -> Call | None:
        def select(conn: sqlite3.Connection) -> Call | None:
            row = conn.execute(
                "SELECT * FROM calls WHERE tenant_id = ? AND call_id = ?", (tenant_id, call_id)
            ).fetchone()
            return _call_from_row(row) if row else None

        return await self._s.run(select)

    async def update(self, call: Call) -> None:
        values = _call_values(call, call.version + 1)
        assignments = ", ".join(f"{c.strip()} = ?" for c in _CALL_COLUMNS.split(",")[2:])

        def save(conn: sqlite3.Connection) -> None:
            cursor = conn.execute(
                f"UPDATE calls SET {assignments}"  # noqa: S608
                " WHERE tenant_id = ? AND call_id = ? AND version = ?",
                (*values[2:], call.tenant_id, call.call_id, call.version),
            )
            if cursor.rowcount == 1:
                return
            exists = conn.execute(
                "SELECT 1 FROM calls WHERE tenant_id = ? AND call_id = ?",
                (call.tenant_id, call.call_id),
            ).fetchone()
            if exists is None:
                raise CallNotFound(f"no call {call.call_id}")
            raise ConcurrentUpdate(f"call {call.call_id} changed since it was read")

        await self._s.run(save)
        call.version += 1

    async def list(
        self,
        tenant_id: str,
        *,
        statuses: Sequence[str] = (),
        since: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> CallPage:
        where, params = ["tenant_id = ?"], [tenant_id]
        if statuses:
            stages = sorted(stages_matching(list(statuses)))
            where.append(f"stage IN ({', '.join('?' * len(stages))})")
            params.extend(stages)
        if since is not None:
            where.append("received_at >= ?")
            params.append(_t(since))
        if cursor is not None:
            at, call_id = decode_cursor(cursor)
            where.append("(received_at < ? OR (received_at = ? AND call_id < ?))")
            params.extend([_t(at), _t(at), call_id])
        sql = (
            f"SELECT * FROM calls WHERE {' AND '.join(where)}"  # noqa: S608
            " ORDER BY received_at DESC, call_id DESC LIMIT ?"
        )

        def select(conn: sqlite3.Connection) -> list[Call]:
            return [_call_from_row(r) for r in conn.execute(sql, (*params, limit + 1))]

        rows = await self._s.run(select)
        page = rows[:limit]
        more = len(rows) > limit
        next_cursor = encode_cursor(page[-1].received_at, page[-1].call_id) if more else None
        return CallPage(page, next_cursor)

    async def outcomes(self, tenant_id: str, since: datetime) -> Sequence[CallOutcome]:
        return await self._s.run(lambda conn: select_outcomes(conn, tenant_id, _t(since)))

    async def extend_lease(self, tenant_id: str, call_id: str, owner: str, until: datetime) -> bool:
        def extend(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "UPDATE calls SET lease_expires_at = ?"
                " WHERE tenant_id = ? AND call_id = ? AND lease_owner = ?",
                (_t(until), tenant_id, call_id, owner),
            )
            return cursor.rowcount == 1

        return await self._s.run(extend)

    async def stalled(self, updated_before: datetime, limit: int) -> Sequence[tuple[str, str]]:
        def select(conn: sqlite3.Connection) -> list[tuple[str, str]]:
            rows = conn.execute(
                "SELECT c.tenant_id, c.call_id FROM calls c"
                " WHERE c.stage NOT IN ('COMPLETED', 'FAILED') AND c.updated_at < ?"
                " AND NOT EXISTS (SELECT 1 FROM jobs j"
                "                 WHERE j.tenant_id = c.tenant_id AND j.call_id = c.call_id)"
                " ORDER BY c.updated_at LIMIT ?",
                (_t(updated_before), limit),
            )
            return [(r[0], r[1]) for r in rows]

        return await self._s.run(select)


class SqliteApiKeyRepository(ApiKeyRepository):
    def __init__(self, session: _Session):
        self._s = session

    async def add(self, key: ApiKey) -> None:
        def insert(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    "INSERT INTO api_keys (key_hash, tenant_id, hint, created_at)"
                    " VALUES (?, ?, ?, ?)",
                    (key.key_hash, key.tenant_id, key.hint, _t(key.created_at)),
                )
            except sqlite3.IntegrityError:
                raise TenantNotFound(f"no tenant {key.tenant_id}") from None

        await self._s.run(insert)

    async def find(self, key_hash: str) -> ApiKey | None:
        def select(conn: sqlite3.Connection) -> ApiKey | None:
            row = conn.execute("SELECT * FROM api_keys WHERE key_hash = ?", (key_hash,)).fetchone()
            if row is None:
                return None
            return ApiKey(
                row["key_hash"],
                row["tenant_id"],
                datetime.fromisoformat(row["created_at"]),
                row["hint"],
            )

        return await self._s.run(select)


def _job_from_row(row: sqlite3.Row) -> Job:
    return Job(
        job_id=row["job_id"],
        tenant_id=row["tenant_id"],
        call_id=row["call_id"],
        enqueued_at=datetime.fromisoformat(row["enqueued_at"]),
        trace_context=json.loads(row["trace_context"]),
    )


class SqliteJobRepository(JobRepository):
    def __init__(self, session: _Session):
        self._s = session

    async def add(self, job: Job, due_at: datetime) -> None:
        def insert(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO jobs (job_id, tenant_id, call_id, enqueued_at, due_at, trace_context)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    job.job_id,
                    job.tenant_id,
                    job.call_id,
                    _t(job.enqueued_at),
                    _t(due_at),
                    json.dumps(dict(job.trace_context)),
                ),
            )

        await self._s.run(insert)

    async def pending_count(self) -> int:
        def count(conn: sqlite3.Connection) -> int:
            return int(conn.execute("SELECT count(*) FROM jobs").fetchone()[0])

        return await self._s.run(count)

    async def pending_for(self, tenant_id: str, call_id: str) -> Sequence[Job]:
        def select(conn: sqlite3.Connection) -> list[Job]:
            rows = conn.execute(
                "SELECT * FROM jobs WHERE tenant_id = ? AND call_id = ? ORDER BY enqueued_at",
                (tenant_id, call_id),
            )
            return [_job_from_row(r) for r in rows]

        return await self._s.run(select)

    async def claim_due(
        self, now: datetime, worker_id: str, claim_s: float, limit: int
    ) -> Sequence[Job]:
        until = _t(now + timedelta(seconds=claim_s))

        def claim(conn: sqlite3.Connection) -> list[Job]:
            rows = conn.execute(
                "SELECT * FROM jobs WHERE due_at <= ?"
                " AND (claimed_until IS NULL OR claimed_until < ?) ORDER BY due_at LIMIT ?",
                (_t(now), _t(now), limit),
            ).fetchall()
            conn.executemany(
                "UPDATE jobs SET claimed_by = ?, claimed_until = ? WHERE job_id = ?",
                [(worker_id, until, r["job_id"]) for r in rows],
            )
            return [_job_from_row(r) for r in rows]

        return await self._s.run(claim)

    async def extend_claims(self, job_ids: Sequence[str], worker_id: str, until: datetime) -> None:
        await self._s.run(
            lambda conn: conn.executemany(
                "UPDATE jobs SET claimed_until = ? WHERE job_id = ? AND claimed_by = ?",
                [(_t(until), job_id, worker_id) for job_id in job_ids],
            )
        )

    async def complete(self, job_id: str) -> None:
        await self._s.run(lambda conn: conn.execute("DELETE FROM jobs WHERE job_id = ?", (job_id,)))

    async def reschedule(self, job_id: str, due_at: datetime, error: str | None) -> None:
        await self._s.run(
            lambda conn: conn.execute(
                "UPDATE jobs SET due_at = ?, claimed_by = NULL, claimed_until = NULL,"
                " attempts = attempts + 1, last_error = ? WHERE job_id = ?",
                (_t(due_at), error, job_id),
            )
        )

    async def oldest_due(self) -> datetime | None:
        def select(conn: sqlite3.Connection) -> datetime | None:
            row = conn.execute("SELECT min(due_at) FROM jobs").fetchone()
            return codec.parse_time(row[0])

        return await self._s.run(select)


class SqliteUnitOfWork(UnitOfWork):
    def __init__(self, db: SqliteDatabase, read_only: bool):
        self._db = db
        self._read_only = read_only
        session = _Session(db, read_only)
        self.tenants = SqliteTenantRepository(session)
        self.calls = SqliteCallRepository(session)
        self.api_keys = SqliteApiKeyRepository(session)
        self.jobs = SqliteJobRepository(session)
        self.usage = SqliteUsageRepository(session)

    async def __aenter__(self) -> Self:
        if not self._read_only:
            await self._db.write_lock.acquire()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._read_only:
            return
        try:
            if self._db.writer_in_transaction:
                await self._db.write(_rollback)
        finally:
            self._db.write_lock.release()

    async def commit(self) -> None:
        if self._read_only:
            raise RuntimeError("a read-only unit of work cannot commit")
        await self._db.write(_commit)


def _commit(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        conn.execute("COMMIT")


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        conn.execute("ROLLBACK")


class SqliteUnitOfWorkFactory(UnitOfWorkFactory):
    def __init__(self, db: SqliteDatabase):
        self._db = db

    def __call__(self, *, read_only: bool = False) -> UnitOfWork:
        return SqliteUnitOfWork(self._db, read_only)
