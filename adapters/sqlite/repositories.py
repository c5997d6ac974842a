"""SQLite repositories and their unit of work (session.py says how a unit reaches the file);
rows are mapped to domain objects in one private function per table."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import Self

from adapters.sqlite.calls import SqliteCallRepository
from adapters.sqlite.calls import t as _t
from adapters.sqlite.database import SqliteDatabase
from adapters.sqlite.queue import SqliteJobRepository
from adapters.sqlite.session import Session
from adapters.sqlite.usage import SqliteUsageRepository
from domain.apikeys import ApiKey
from domain.errors import TenantAlreadyExists, TenantNotFound
from domain.tenant import Tenant, parse_tenant, tenant_document
from ports.repositories import ApiKeyRepository, TenantRepository, UnitOfWork, UnitOfWorkFactory


def _tenant_from_row(row: sqlite3.Row) -> Tenant:
    return parse_tenant(
        json.loads(row["document"]),
        now=datetime.fromisoformat(row["updated_at"]),
        created_at=datetime.fromisoformat(row["created_at"]),
    )


def _conflict(conn: sqlite3.Connection, tenant: Tenant) -> str:
    company = tenant.config.callrail_company_id
    owner = conn.execute(
        "SELECT tenant_id FROM tenants WHERE callrail_company_id = ?", (company,)
    ).fetchone()
    if owner is not None and owner[0] != tenant.tenant_id:
        return f"tenant {owner[0]} already has CallRail company {company}"
    return f"tenant {tenant.tenant_id} exists"


class SqliteTenantRepository(TenantRepository):
    def __init__(self, session: Session):
        self._s = session

    @staticmethod
    def _columns(tenant: Tenant) -> tuple[str, str, str, str, str]:
        document = json.dumps(tenant_document(tenant, reveal_secrets=True))
        config = tenant.config
        return tenant.tenant_id, tenant.name, tenant.status, config.callrail_company_id, document

    async def add(self, tenant: Tenant) -> None:
        values = (*self._columns(tenant), _t(tenant.created_at), _t(tenant.updated_at))

        def insert(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    "INSERT INTO tenants (tenant_id, name, status, callrail_company_id, document,"
                    " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    values,
                )
            except sqlite3.IntegrityError:
                raise TenantAlreadyExists(_conflict(conn, tenant)) from None

        await self._s.check(insert)

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
            rows = conn.execute("SELECT * FROM tenants ORDER BY tenant_id").fetchall()
            return [_tenant_from_row(r) for r in rows]

        return await self._s.read(select)

    async def update(self, tenant: Tenant) -> None:
        tenant_id, name, status, company, document = self._columns(tenant)
        values = (name, status, company, document, _t(tenant.updated_at), tenant_id)

        def save(conn: sqlite3.Connection) -> None:
            try:
                cursor = conn.execute(
                    "UPDATE tenants SET name = ?, status = ?, callrail_company_id = ?,"
                    " document = ?, updated_at = ? WHERE tenant_id = ?",
                    values,
                )
            except sqlite3.IntegrityError:
                raise TenantAlreadyExists(_conflict(conn, tenant)) from None
            if cursor.rowcount == 0:
                raise TenantNotFound(f"no tenant {tenant_id}")

        await self._s.check(save)


class SqliteApiKeyRepository(ApiKeyRepository):
    def __init__(self, session: Session):
        self._s = session

    async def add(self, key: ApiKey) -> None:
        values = (key.key_hash, key.tenant_id, key.hint, _t(key.created_at))

        def insert(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    "INSERT INTO api_keys (key_hash, tenant_id, hint, created_at)"
                    " VALUES (?, ?, ?, ?)",
                    values,
                )
            except sqlite3.IntegrityError:
                raise TenantNotFound(f"no tenant {key.tenant_id}") from None

        await self._s.check(insert)

    async def find(self, key_hash: str) -> ApiKey | None:
        def select(conn: sqlite3.Connection) -> ApiKey | None:
            row = conn.execute("SELECT * FROM api_keys WHERE key_hash = ?", (key_hash,)).fetchone()
            if row is None:
                return None
            created_at = datetime.fromisoformat(row["created_at"])
            return ApiKey(row["key_hash"], row["tenant_id"], created_at, row["hint"])

        return await self._s.read(select)


class SqliteUnitOfWork(UnitOfWork):
    def __init__(self, db: SqliteDatabase, read_only: bool):
        self._session = Session(db, read_only)
        self.tenants = SqliteTenantRepository(self._session)
        self.calls = SqliteCallRepository(self._session)
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
        self._session.close()

    async def commit(self) -> None:
        if self._session.read_only:
            raise RuntimeError("a read-only unit of work cannot commit")
        await self._session.commit()


class SqliteUnitOfWorkFactory(UnitOfWorkFactory):
    def __init__(self, db: SqliteDatabase):
        self._db = db

    def __call__(self, *, read_only: bool = False) -> UnitOfWork:
        return SqliteUnitOfWork(self._db, read_only)
