"""A tenant's figures since a moment (api.md: GET /v1/tenants/{id}/stats, `stats` command).

One read-only unit of work: the calls received in the window, projected by the store to a few
fields each (CallRepository.outcomes), and the usage totals of the days the window touches.
The cost grows with the number of calls in the window (one small row each), not their size."""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs

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


class TenantStats:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock):
        self._uow = uow
        self._clock = clock

    async def __call__(self, query: StatsQuery) -> TenantStatistics:
        until = self._clock.now()
        since = query.since if query.since is not None else until - DEFAULT_WINDOW
        if since.tzinfo is None:
            raise ValidationFailed([FieldError("since", "a time with a UTC offset")], "query")
        if since > until:
            raise ValidationFailed([FieldError("since", "a time in the past")], "query")
        async with self._uow(read_only=True) as uow:
            if await uow.tenants.get(query.tenant_id) is None:
                raise TenantNotFound(f"no tenant {query.tenant_id}")
            outcomes = await uow.calls.outcomes(query.tenant_id, since)
            # Usage is kept per UTC day: the window's first day counts whole.
            usage = await uow.usage.for_tenant(query.tenant_id, usage_day(since))
        return summarize(query.tenant_id, since, until, outcomes, usage)
