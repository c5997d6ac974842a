"""SQLite repositories and their unit of work (see session.py for how a unit reaches the
database); rows are mapped to domain objects in one private function per table."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import Self, TypeVar

from adapters.sqlite.calls import KnownCalls, SqliteCallRepository, json_text
from adapters.sqlite.calls import t as _t
from adapters.sqlite.database import SqliteDatabase
from adapters.sqlite.session import Session
from adapters.sqlite.usage import SqliteUsageRepository
from domain import codec
from domain.apikeys import ApiKey
from domain.errors import TenantAlreadyExists, TenantNotFound
from domain.jobs import Job
from domain.tenant import Tenant, parse_tenant, tenant_document
from ports.repositories import (
    ApiKeyRepository,
    JobRepository,
    TenantRepository,
    UnitOfWork,
    UnitOfWorkFactory,
)

T = TypeVar("T")


def _tenant_from_row(row: sqlite3.Row) -> Tenant:
    return parse_tenant(
        json.loads(row["document"]),
        now=datetime.fromisoformat(row["updated_at"]),
        created_at=datetime.fromisoformat(row["created_at"]),
    )


class SqliteTenantRepository(TenantRepository):
    def __init__(self, session: Session):
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

        return await self._s.read(select)

    async def get_by_company(self, company_ids: Sequence[str]) -> Tenant | None:
        def select(conn: sqlite3.Connection) -> Tenant | None:
            for company in company_ids:
                row = conn.execute(
                    "SELECT * FROM tenants WHERE callrail_company_id = ?", (company,)
                ).fetchone()
                if row:
                    return _tenant_from_row(row)
            return None

        return await self._s.read(select)

    async def list(self) -> Sequence[Tenant]:
        def select(conn: sqlite3.Connection) -> list[Tenant]:
            return [
                _tenant_from_row(r)
                for r in conn.execute("SELECT * FROM tenants ORDER BY tenant_id")
            ]

        return await self._s.read(select)

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


class SqliteApiKeyRepository(ApiKeyRepository):
    def __init__(self, session: Session):
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

        return await self._s.read(select)


def _job_from_row(row: sqlite3.Row) -> Job:
    return Job(
        job_id=row["job_id"],
        tenant_id=row["tenant_id"],
        call_id=row["call_id"],
        enqueued_at=datetime.fromisoformat(row["enqueued_at"]),
        trace_context=json.loads(row["trace_context"]),
    )


class SqliteJobRepository(JobRepository):
    def __init__(self, session: Session):
        self._s = session

    async def add(self, job: Job, due_at: datetime) -> None:
        values = (
            job.job_id,
            job.tenant_id,
            job.call_id,
            _t(job.enqueued_at),
            _t(due_at),
            json_text(dict(job.trace_context)),
        )

        def insert(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO jobs (job_id, tenant_id, call_id, enqueued_at, due_at, trace_context)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                values,
            )

        await self._s.defer(insert)

    async def pending_count(self) -> int:
        def count(conn: sqlite3.Connection) -> int:
            return int(conn.execute("SELECT count(*) FROM jobs").fetchone()[0])

        return await self._s.read(count)

    async def pending_for(self, tenant_id: str, call_id: str) -> Sequence[Job]:
        def select(conn: sqlite3.Connection) -> list[Job]:
            rows = conn.execute(
                "SELECT * FROM jobs WHERE tenant_id = ? AND call_id = ? ORDER BY enqueued_at",
                (tenant_id, call_id),
            )
            return [_job_from_row(r) for r in rows]

        return await self._s.read(select)

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
        await self._s.defer(
            lambda conn: conn.executemany(
                "UPDATE jobs SET claimed_until = ? WHERE job_id = ? AND claimed_by = ?",
                [(_t(until), job_id, worker_id) for job_id in job_ids],
            )
        )

    async def complete(self, job_id: str) -> None:
        await self._s.defer(
            lambda conn: conn.execute("DELETE FROM jobs WHERE job_id = ?", (job_id,))
        )

    async def reschedule(self, job_id: str, due_at: datetime, error: str | None) -> None:
        await self._s.defer(
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

        return await self._s.read(select)


class SqliteUnitOfWork(UnitOfWork):
    def __init__(self, db: SqliteDatabase, read_only: bool, known: KnownCalls | None = None):
        self._session = Session(db, read_only)
        self.tenants = SqliteTenantRepository(self._session)
        self.calls = SqliteCallRepository(self._session, known or KnownCalls())
        self.api_keys = SqliteApiKeyRepository(self._session)
        self.jobs = SqliteJobRepository(self._session)
        self.usage = SqliteUsageRepository(self._session)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._session.close()

    async def commit(self) -> None:
        if self._session.read_only:
            raise RuntimeError("a read-only unit of work cannot commit")
        await self._session.commit()


class SqliteUnitOfWorkFactory(UnitOfWorkFactory):
    def __init__(self, db: SqliteDatabase):
        self._db = db
        self._known = KnownCalls()

    def __call__(self, *, read_only: bool = False) -> UnitOfWork:
        return SqliteUnitOfWork(self._db, read_only, self._known)
