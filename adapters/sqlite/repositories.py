"""SQLite tenants, API keys and usage, and the unit of work over every repository (session.py
says how a unit reaches the file). Rows map to domain objects in one function per table."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import date, datetime
from types import TracebackType
from typing import Self

from adapters.sqlite.calls import SqliteCallRepository
from adapters.sqlite.calls import t as _t
from adapters.sqlite.database import SqliteDatabase
from adapters.sqlite.deletions import SqliteDeletionRepository, delete_tenant_rows
from adapters.sqlite.queue import SqliteJobRepository
from adapters.sqlite.session import Session
from domain.apikeys import ApiKey
from domain.errors import TenantAlreadyExists, TenantNotFound
from domain.tenant import Tenant, load_tenant, tenant_document
from domain.usage import DailyUsage, UsageDelta
from ports.repositories import (
    ApiKeyRepository,
    TenantRepository,
    UnitOfWork,
    UnitOfWorkFactory,
    UsageRepository,
)


def _tenant_from_row(row: sqlite3.Row) -> Tenant:
    updated, created = (datetime.fromisoformat(row[c]) for c in ("updated_at", "created_at"))
    return load_tenant(json.loads(row["document"]), now=updated, created_at=created)


def _refused(conn: sqlite3.Connection, tenant: Tenant) -> TenantAlreadyExists:
    company = tenant.config.callrail_company_id
    owner = conn.execute("SELECT tenant_id FROM tenants WHERE callrail_company_id = ?", (company,))
    other = owner.fetchone()
    if other is not None and other[0] != tenant.tenant_id:
        return TenantAlreadyExists(f"tenant {other[0]} already has CallRail company {company}")
    return TenantAlreadyExists(f"tenant {tenant.tenant_id} exists")


class SqliteTenantRepository(TenantRepository):
    def __init__(self, session: Session):
        self._s = session
        self.erased = False  # a tenant's rows deleted in this unit: see SqliteUnitOfWork.commit

    async def add(self, tenant: Tenant) -> None:
        await self._save(tenant, insert=True)

    async def update(self, tenant: Tenant) -> None:
        await self._save(tenant, insert=False)

    async def _save(self, tenant: Tenant, *, insert: bool) -> None:
        document = json.dumps(tenant_document(tenant, reveal_secrets=True))
        config = tenant.config
        values = (tenant.name, tenant.status, config.callrail_company_id, document)
        updated, key = _t(tenant.updated_at), tenant.tenant_id

        def save(conn: sqlite3.Connection) -> None:
            try:
                cursor = conn.execute(
                    "INSERT INTO tenants (name, status, callrail_company_id, document, updated_at,"
                    " tenant_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                    if insert
                    else "UPDATE tenants SET name = ?, status = ?, callrail_company_id = ?,"
                    " document = ?, updated_at = ? WHERE tenant_id = ?",
                    (*values, updated, key, *([_t(tenant.created_at)] if insert else [])),
                )
            except sqlite3.IntegrityError:
                raise _refused(conn, tenant) from None
            if cursor.rowcount == 0:
                raise TenantNotFound(f"no tenant {key}")

        await self._s.check(save)

    async def delete(self, tenant_id: str) -> dict[str, int]:
        counts = await self._s.check(lambda conn: delete_tenant_rows(conn, tenant_id))
        self.erased = self.erased or any(counts.values())
        return counts

    async def get(self, tenant_id: str) -> Tenant | None:
        sql = "SELECT * FROM tenants WHERE tenant_id = ?"
        return await self._s.one(sql, (tenant_id,), _tenant_from_row)

    async def get_by_company(self, company_ids: Sequence[str]) -> Tenant | None:
        for company in company_ids:
            sql = "SELECT * FROM tenants WHERE callrail_company_id = ?"
            if found := await self._s.one(sql, (company,), _tenant_from_row):
                return found
        return None

    async def list(self) -> Sequence[Tenant]:
        return await self._s.all("SELECT * FROM tenants ORDER BY tenant_id", (), _tenant_from_row)


class SqliteApiKeyRepository(ApiKeyRepository):
    def __init__(self, session: Session):
        self._s = session

    async def add(self, key: ApiKey) -> None:
        values = (key.key_hash, key.tenant_id, key.hint, _t(key.created_at))

        def insert(conn: sqlite3.Connection) -> None:
            try:
                conn.execute("INSERT INTO api_keys VALUES (?, ?, ?, ?)", values)
            except sqlite3.IntegrityError:
                raise TenantNotFound(f"no tenant {key.tenant_id}") from None

        await self._s.check(insert)

    async def find(self, key_hash: str) -> ApiKey | None:
        return await self._s.one(
            "SELECT key_hash, tenant_id, created_at, hint FROM api_keys WHERE key_hash = ?",
            (key_hash,),
            lambda r: ApiKey(r[0], r[1], datetime.fromisoformat(r[2]), r[3]),
        )


_COUNTS = ("audio_ms", "llm_tokens_in", "llm_tokens_out", "crm_api_calls", "stored_bytes")


class SqliteUsageRepository(UsageRepository):
    """One row a tenant a UTC day, added to with an upsert."""

    def __init__(self, session: Session):
        self._s = session

    async def add(self, tenant_id: str, day: date, delta: UsageDelta) -> None:
        counts = (
            round(delta.audio_seconds * 1000),
            delta.llm_tokens_in,
            delta.llm_tokens_out,
            delta.crm_api_calls,
            delta.stored_bytes,
        )

        def upsert(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    f"INSERT INTO usage_daily (tenant_id, day, {', '.join(_COUNTS)})"  # noqa: S608
                    " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, day) DO UPDATE SET "
                    + ", ".join(f"{c} = {c} + excluded.{c}" for c in _COUNTS),
                    (tenant_id, day.isoformat(), *counts),
                )
            except sqlite3.IntegrityError:
                raise TenantNotFound(f"no tenant {tenant_id}") from None

        await self._s.defer(upsert)

    async def for_tenant(self, tenant_id: str, since_day: date) -> Sequence[DailyUsage]:
        return await self._s.all(
            f"SELECT day, {', '.join(_COUNTS)} FROM usage_daily"  # noqa: S608 - constants
            " WHERE tenant_id = ? AND day >= ? ORDER BY day",
            (tenant_id, since_day.isoformat()),
            lambda r: DailyUsage(
                date.fromisoformat(r[0]), UsageDelta(r[1] / 1000, r[2], r[3], r[4], r[5])
            ),
        )


class SqliteUnitOfWork(UnitOfWork):
    def __init__(self, db: SqliteDatabase, read_only: bool):
        self._session = Session(db, read_only)
        self.tenants = SqliteTenantRepository(self._session)
        self.calls = SqliteCallRepository(self._session)
        self.api_keys = SqliteApiKeyRepository(self._session)
        self.jobs = SqliteJobRepository(self._session)
        self.usage = SqliteUsageRepository(self._session)
        self.deletions = SqliteDeletionRepository(self._session)
        self._db = db

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
        if self.tenants.erased:
            # Secure delete zeroed the rows in the file's pages; the write-ahead log still
            # holds earlier copies of them until it is checkpointed and truncated.
            self.tenants.erased = False
            await self._db.checkpoint()


class SqliteUnitOfWorkFactory(UnitOfWorkFactory):
    def __init__(self, db: SqliteDatabase):
        self._db = db

    def __call__(self, *, read_only: bool = False) -> UnitOfWork:
        return SqliteUnitOfWork(self._db, read_only)
