"""A tenant's figures since a moment (api.md: GET /v1/tenants/{id}/stats, `stats` command).

One read-only unit of work: the calls received in the window, projected by the store to a few
fields each (CallRepository.outcomes), and the usage totals of the days the window touches.
The cost grows with the number of calls in the window (one small row each), not their size."""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs

from domain.cost import PriceTable
from domain.cost_stats import tenant_cost
from domain.cost_usage import Deployment
from domain.errors import FieldError, TenantNotFound, ValidationFailed
from domain.stats import TenantStatistics, summarize
from domain.usage import usage_day
from ports.repositories import UnitOfWorkFactory
from ports.system import Clock

DEFAULT_WINDOW = timedelta(days=30)


@attrs.frozen
class StatsQuery:
    tenant_id: str
    since: datetime | None = None  # default: DEFAULT_WINDOW ago


@attrs.frozen
class Pricing:
    """What money the figures show: the price table, and the services this deployment pays."""

    prices: PriceTable
    deployment: Deployment


class TenantStats:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, pricing: Pricing | None = None):
        self._uow = uow
        self._clock = clock
        self._pricing = pricing

    async def __call__(self, query: StatsQuery) -> TenantStatistics:
        until = self._clock.now()
        since = query.since if query.since is not None else until - DEFAULT_WINDOW
        if since.tzinfo is None:
            raise ValidationFailed([FieldError("since", "a time with a UTC offset")], "query")
        if since > until:
            raise ValidationFailed([FieldError("since", "a time in the past")], "query")
        async with self._uow(read_only=True) as uow:
            tenant = await uow.tenants.get(query.tenant_id)
            if tenant is None:
                raise TenantNotFound(f"no tenant {query.tenant_id}")
            outcomes = await uow.calls.outcomes(query.tenant_id, since)
            # Usage is kept per UTC day: the window's first day counts whole.
            usage = await uow.usage.for_tenant(query.tenant_id, usage_day(since))
        questions = tenant.config.ai.questions
        stats = summarize(query.tenant_id, since, until, outcomes, usage, questions)
        if self._pricing is None:
            return stats
        p, model = self._pricing, tenant.config.ai.analysis_model
        received = [o.received_at for o in outcomes]
        return attrs.evolve(stats, cost=tenant_cost(usage, received, p.prices, p.deployment, model))
