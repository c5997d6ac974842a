"""A tenant's money over the stats window: each UTC day's metered usage priced, and the months
those days fall in (api.md's stats, `cost`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

import attrs

from domain.cost import NO_COST, Cost, PriceTable, cost_of
from domain.cost_usage import Deployment, day_usage
from domain.usage import DailyUsage, usage_day


@attrs.frozen
class DayCost:
    day: date
    cost: Cost


@attrs.frozen
class TenantCost:
    """The window's money, per UTC day (the days usage was metered), and per month of them."""

    by_day: tuple[DayCost, ...] = ()

    @property
    def total(self) -> Cost:
        result = NO_COST
        for day in self.by_day:
            result += day.cost
        return result

    @property
    def by_month(self) -> dict[str, Decimal]:
        months: dict[str, Decimal] = {}
        for day in self.by_day:
            month = day.day.strftime("%Y-%m")
            months[month] = months.get(month, Decimal(0)) + day.cost.total
        return months


def tenant_cost(
    usage_by_day: Sequence[DailyUsage],
    received: Sequence[datetime],
    prices: PriceTable,
    deployment: Deployment,
    model: str | None,
) -> TenantCost:
    """Each day's metered usage priced (`model`: the tenant's analysis model), with the calls
    received that day counted for what is paid per call (storage writes, Pub/Sub, Spanner)."""
    calls = Counter(usage_day(at) for at in received)
    return TenantCost(
        tuple(
            DayCost(d.day, cost_of(day_usage(d.totals, calls[d.day], deployment, model), prices))
            for d in usage_by_day
        )
    )
