"""In-memory usage totals, kept in the unit of work's state like every other table."""

from __future__ import annotations

from collections.abc import Container, Sequence
from datetime import date

from domain.errors import TenantNotFound
from domain.usage import DailyUsage, UsageDelta
from ports.repositories import UsageRepository

UsageTotals = dict[tuple[str, date], UsageDelta]


class InMemoryUsageRepository(UsageRepository):
    def __init__(self, totals: UsageTotals, tenants: Container[str]):
        self._totals = totals
        self._tenants = tenants

    async def add(self, tenant_id: str, day: date, delta: UsageDelta) -> None:
        if tenant_id not in self._tenants:
            raise TenantNotFound(f"no tenant {tenant_id}")
        key = (tenant_id, day)
        self._totals[key] = self._totals.get(key, UsageDelta()) + delta

    async def for_tenant(self, tenant_id: str, since_day: date) -> Sequence[DailyUsage]:
        return [
            DailyUsage(day, totals)
            for (tenant, day), totals in sorted(self._totals.items())
            if tenant == tenant_id and day >= since_day
        ]
