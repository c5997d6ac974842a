"""Reading calls."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import attrs

from domain.call import Call
from domain.errors import CallNotFound, FieldError, TenantNotFound, ValidationFailed
from domain.stages import STATUSES, Stage
from domain.tenant import Tenant
from ports.repositories import CallPage, UnitOfWorkFactory

MAX_PAGE = 200


@attrs.frozen
class ListCallsQuery:
    tenant_id: str
    status: str | None = None
    since: datetime | None = None
    limit: int = 50
    cursor: str | None = None


def status_filter(status: str | None) -> Sequence[str]:
    """A coarse status (`completed`) or an exact stage (`SCORED`); several, comma-separated."""
    if not status:
        return ()
    wanted = [s.strip() for s in status.split(",") if s.strip()]
    stages = {s.value for s in Stage}
    bad = [s for s in wanted if s.lower() not in STATUSES and s.upper() not in stages]
    if bad:
        options = ", ".join([*STATUSES, *stages])
        raise ValidationFailed(
            [FieldError("status", f"unknown {', '.join(bad)}; use {options}")], "query"
        )
    return [s.lower() if s.lower() in STATUSES else s.upper() for s in wanted]


class ListCalls:
    def __init__(self, uow: UnitOfWorkFactory):
        self._uow = uow

    async def __call__(self, query: ListCallsQuery) -> CallPage:
        if not 1 <= query.limit <= MAX_PAGE:
            raise ValidationFailed([FieldError("limit", f"from 1 to {MAX_PAGE}")], "query")
        statuses = status_filter(query.status)
        async with self._uow(read_only=True) as uow:
            if await uow.tenants.get(query.tenant_id) is None:
                raise TenantNotFound(f"no tenant {query.tenant_id}")
            return await uow.calls.list(
                query.tenant_id,
                statuses=statuses,
                since=query.since,
                limit=query.limit,
                cursor=query.cursor,
            )


class GetCall:
    def __init__(self, uow: UnitOfWorkFactory):
        self._uow = uow

    async def __call__(self, tenant_id: str, call_id: str) -> Call:
        async with self._uow(read_only=True) as uow:
            call = await uow.calls.get(tenant_id, call_id)
        if call is None:
            raise CallNotFound(f"no call {call_id} for tenant {tenant_id}")
        return call


async def every_call(
    uow_factory: UnitOfWorkFactory, tenant_id: str, since: datetime | None, page_size: int = 100
) -> tuple[Tenant, list[Call]]:
    """The tenant and all its calls received since `since`, oldest first, read page by page in
    one read-only unit of work: for the operator tools that go through them one at a time."""
    found: list[Call] = []
    cursor: str | None = None
    async with uow_factory(read_only=True) as uow:
        tenant = await uow.tenants.get(tenant_id)
        if tenant is None:
            raise TenantNotFound(f"no tenant {tenant_id}")
        while True:
            page = await uow.calls.list(tenant_id, since=since, limit=page_size, cursor=cursor)
            found += page.calls
            cursor = page.next_cursor
            if cursor is None:
                break
    return tenant, found[::-1]
