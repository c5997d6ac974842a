"""Persistence ports. Every method takes the tenant id: no query spans tenants except the
operator ones named as such."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from types import TracebackType
from typing import Protocol, Self

import attrs

from domain.apikeys import ApiKey
from domain.call import Call
from domain.jobs import Job
from domain.retention import DeletionRecord
from domain.stats import CallOutcome
from domain.tenant import Tenant
from domain.usage import DailyUsage, UsageDelta


@attrs.frozen
class CallPage:
    calls: Sequence[Call]
    next_cursor: str | None


class TenantRepository(Protocol):
    async def add(self, tenant: Tenant) -> None:
        """Raises TenantAlreadyExists when the id or the CallRail company is taken."""
        ...

    async def get(self, tenant_id: str) -> Tenant | None: ...

    async def get_by_company(self, company_ids: Sequence[str]) -> Tenant | None:
        """The tenant whose callrail_company_id is any of these."""
        ...

    async def list(self) -> Sequence[Tenant]: ...

    async def update(self, tenant: Tenant) -> None:
        """Raises TenantNotFound, or TenantAlreadyExists when the company id is taken."""
        ...

    async def delete(self, tenant_id: str) -> dict[str, int]:
        """Removes the tenant and every row held for it: its calls and their jobs, API keys,
        usage. What went, by kind ("tenants", "calls", "jobs", "api_keys", "usage_days");
        all zero when there was no such tenant. Meant for a tenant whose calls were deleted
        first, page by page: one unit of work here holds what is left."""
        ...


class CallRepository(Protocol):
    async def add(self, call: Call) -> bool:
        """Stores a new call; False (and nothing changed) when (tenant, call id) exists. A store
        that finds the call (or the missing tenant) only at commit raises ConcurrentUpdate
        (or TenantNotFound) there instead, and nothing of the unit is written."""
        ...

    async def get(self, tenant_id: str, call_id: str) -> Call | None: ...

    async def update(self, call: Call) -> None:
        """Saves the call if its version is still the one read (then bumps it); raises
        ConcurrentUpdate otherwise, and CallNotFound when there is no such call."""
        ...

    async def list(
        self,
        tenant_id: str,
        *,
        statuses: Sequence[str] = (),
        since: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> CallPage:
        """Newest first. `cursor` is the opaque next_cursor of the previous page."""
        ...

    async def outcomes(self, tenant_id: str, since: datetime) -> Sequence[CallOutcome]:
        """Every call received at or after `since`, projected to what stats need (no
        transcripts, no payloads); in no particular order."""
        ...

    async def extend_lease(self, tenant_id: str, call_id: str, owner: str, until: datetime) -> bool:
        """Heartbeat: pushes the lease's expiry if `owner` still holds it, without changing the
        call's version (so the owner's own next update does not conflict). False if lost."""
        ...

    async def delete(self, tenant_id: str, call_id: str) -> dict[str, int]:
        """Removes the call's row and its jobs: what went, by kind ("calls", "jobs"), zero
        when there was no such call."""
        ...

    async def expirable(
        self,
        tenant_id: str,
        *,
        recordings_before: datetime | None,
        content_before: datetime | None,
        after: str | None = None,
        limit: int = 100,
    ) -> Sequence[str]:
        """Ids (in id order, after `after`) of the tenant's finished calls received before
        `recordings_before` that still hold a recording, or before `content_before` that still
        hold a transcript, an analysis or a raw body. A None cutoff selects nothing.
        May include calls with nothing left to erase; never leaves one out."""
        ...

    async def stalled(self, updated_before: datetime, limit: int) -> Sequence[tuple[str, str]]:
        """Operator query over all tenants: (tenant_id, call_id) of calls in a non-terminal
        stage whose row has not changed since `updated_before` and that have no pending job."""
        ...


class ApiKeyRepository(Protocol):
    async def add(self, key: ApiKey) -> None: ...

    async def find(self, key_hash: str) -> ApiKey | None: ...


class JobRepository(Protocol):
    """The durable side of the queue: a job written in the same transaction as its call."""

    async def add(self, job: Job, due_at: datetime) -> None: ...

    async def pending_count(self) -> int:
        """Operator query: jobs not yet done, over all tenants."""
        ...

    async def pending_for(self, tenant_id: str, call_id: str) -> Sequence[Job]: ...

    async def claim_due(
        self, now: datetime, worker_id: str, claim_s: float, limit: int
    ) -> Sequence[Job]:
        """Operator query: up to `limit` jobs due by `now` and not claimed (or whose claim has
        lapsed), claimed for `claim_s` seconds by this worker, oldest due first."""
        ...

    async def extend_claims(self, job_ids: Sequence[str], worker_id: str, until: datetime) -> None:
        """Heartbeat for jobs in progress: their claims by this worker now last until `until`."""
        ...

    async def complete(self, job_id: str) -> None:
        """The job is done (or dead): it leaves the queue."""
        ...

    async def reschedule(self, job_id: str, due_at: datetime, error: str | None) -> None:
        """Back in the queue, unclaimed, due at `due_at`; its delivery count goes up."""
        ...

    async def oldest_due(self) -> datetime | None:
        """Operator query: when the oldest pending job fell due (queue age)."""
        ...


class UsageRepository(Protocol):
    """Metered usage per tenant per UTC day, for chargeback."""

    async def add(self, tenant_id: str, day: date, delta: UsageDelta) -> None:
        """Adds `delta` to the tenant's totals for `day`; raises TenantNotFound (maybe only at
        commit) when there is no such tenant."""
        ...

    async def for_tenant(self, tenant_id: str, since_day: date) -> Sequence[DailyUsage]:
        """The tenant's totals for each day from `since_day` on that has any, oldest first."""
        ...


class DeletionRepository(Protocol):
    """The record of every deletion: who, what, when. Never personal data; never deleted
    with the tenant, so an erasure can be shown to have happened."""

    async def add(self, record: DeletionRecord) -> None: ...

    async def list(
        self, tenant_id: str | None = None, limit: int = 100
    ) -> Sequence[DeletionRecord]:
        """Newest first; one tenant's, or every tenant's (an operator query)."""
        ...


class UnitOfWork(Protocol):
    """One transaction. Leaving the block without commit() rolls back."""

    tenants: TenantRepository
    calls: CallRepository
    api_keys: ApiKeyRepository
    jobs: JobRepository
    usage: UsageRepository
    deletions: DeletionRepository

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, read_only: bool = False) -> UnitOfWork: ...
