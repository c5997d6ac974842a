"""Tenants and their API keys in Spanner, seen through the unit of work's buffer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from adapters.spanner import rows
from adapters.spanner.deletions import TENANT_COUNTS, TENANT_KINDS
from adapters.spanner.staging import Session, exclude
from domain.apikeys import ApiKey
from domain.errors import TenantAlreadyExists, TenantNotFound
from domain.tenant import Tenant
from ports.repositories import ApiKeyRepository, TenantRepository


class SpannerTenantRepository(TenantRepository):
    def __init__(self, session: Session):
        self._s = session

    async def add(self, tenant: Tenant) -> None:
        staged = self._s.writable()
        await self._check(tenant, must_exist=False)
        staged.tenants[tenant.tenant_id] = (tenant, True)

    async def update(self, tenant: Tenant) -> None:
        staged = self._s.writable()
        await self._check(tenant, must_exist=True)
        inserted = staged.tenants.get(tenant.tenant_id, (tenant, False))[1]
        staged.tenants[tenant.tenant_id] = (tenant, inserted)

    async def _check(self, tenant: Tenant, *, must_exist: bool) -> None:
        """Whether the id exists, and who holds the company: the store's rows, except those
        the buffer overrides, and the buffer's. The schema checks both again at commit."""
        company = tenant.config.callrail_company_id
        params: dict[str, Any] = {}
        fresh = exclude("tenant_id", list(self._s.staged.tenants), "staged", params)
        found = await self._s.query(
            "SELECT tenant_id, callrail_company_id FROM tenants"  # noqa: S608 - placeholders only
            f" WHERE tenant_id = @id{fresh} UNION ALL SELECT tenant_id, callrail_company_id"
            f" FROM tenants@{{FORCE_INDEX=tenants_by_company}} WHERE callrail_company_id = @company"
            f"{fresh}",
            id=tenant.tenant_id,
            company=company,
            **params,
        )
        holders = {(r[0], r[1]) for r in found}
        holders |= {(t.tenant_id, t.config.callrail_company_id) for t in self._staged()}
        owner = next((t for t, c in holders if c == company and t != tenant.tenant_id), None)
        if owner is not None:
            raise TenantAlreadyExists(f"tenant {owner} already has CallRail company {company}")
        exists = any(t == tenant.tenant_id for t, _ in holders)
        if exists and not must_exist:
            raise TenantAlreadyExists(f"tenant {tenant.tenant_id} exists")
        if must_exist and not exists:
            raise TenantNotFound(f"no tenant {tenant.tenant_id}")

    async def delete(self, tenant_id: str) -> dict[str, int]:
        staged = self._s.writable()
        found = await self._s.query(TENANT_COUNTS, tenant=tenant_id)
        counts = dict(zip(TENANT_KINDS, (int(n) for n in found[0]), strict=True))
        if staged.tenants.pop(tenant_id, None) is not None:
            counts["tenants"] = 1
        staged.deleted_tenants.append(tenant_id)
        return counts

    def _staged(self) -> list[Tenant]:
        return [t for t, _ in self._s.staged.tenants.values()]

    async def get(self, tenant_id: str) -> Tenant | None:
        if tenant_id in self._s.staged.tenants:
            return self._s.staged.tenants[tenant_id][0]
        if tenant_id in self._s.tenants_read:
            return self._s.tenants_read[tenant_id]  # read with a call, in the same query
        found = await self._s.query(
            f"SELECT {rows.TENANT_SELECT} FROM tenants WHERE tenant_id = @id",  # noqa: S608
            id=tenant_id,
        )
        return rows.tenant_from_row(found[0]) if found else None

    async def get_by_company(self, company_ids: Sequence[str]) -> Tenant | None:
        if not company_ids:
            return None
        params: dict[str, Any] = {}
        fresh = exclude("tenant_id", list(self._s.staged.tenants), "staged", params)
        found = await self._s.query(
            f"SELECT {rows.TENANT_SELECT} FROM tenants@{{FORCE_INDEX=tenants_by_company}}"  # noqa: S608
            f" WHERE callrail_company_id IN UNNEST(@companies){fresh}",
            companies=list(company_ids),
            **params,
        )
        by_company = {t.config.callrail_company_id: t for t in map(rows.tenant_from_row, found)}
        by_company |= {t.config.callrail_company_id: t for t in self._staged()}
        # The first of the ids that names a tenant wins, as the port says.
        return next((by_company[c] for c in company_ids if c in by_company), None)

    async def list(self) -> Sequence[Tenant]:
        params: dict[str, Any] = {}
        fresh = exclude("tenant_id", list(self._s.staged.tenants), "staged", params)
        where = f" WHERE TRUE{fresh}" if fresh else ""
        found = await self._s.query(
            f"SELECT {rows.TENANT_SELECT} FROM tenants{where}",  # noqa: S608
            **params,
        )
        tenants = [*map(rows.tenant_from_row, found), *self._staged()]
        return sorted(tenants, key=lambda t: t.tenant_id)


class SpannerApiKeyRepository(ApiKeyRepository):
    def __init__(self, session: Session):
        self._s = session

    async def add(self, key: ApiKey) -> None:
        staged = self._s.writable()
        if key.tenant_id not in staged.tenants:
            found = await self._s.query(
                "SELECT 1 FROM tenants WHERE tenant_id = @id", id=key.tenant_id
            )
            if not found:
                raise TenantNotFound(f"no tenant {key.tenant_id}")
        staged.api_keys[key.key_hash] = key

    async def find(self, key_hash: str) -> ApiKey | None:
        if key_hash in self._s.staged.api_keys:
            return self._s.staged.api_keys[key_hash]
        found = await self._s.query(
            "SELECT tenant_id, key_hash, hint, created_at"
            " FROM api_keys@{FORCE_INDEX=api_keys_by_hash} WHERE key_hash = @hash",
            hash=key_hash,
        )
        return rows.api_key_from_row(found[0]) if found else None
