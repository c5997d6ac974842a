"""In-memory repositories and unit of work. Writers are serialised and work on a staged copy
that replaces the shared state only on commit, so rollback and isolation behave as in SQL."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import Self

import attrs

from adapters.memory.deletions import InMemoryDeletionRepository
from adapters.memory.usage import InMemoryUsageRepository, UsageTotals
from domain.apikeys import ApiKey
from domain.call import Call
from domain.errors import CallNotFound, ConcurrentUpdate, TenantAlreadyExists, TenantNotFound
from domain.jobs import Job
from domain.paging import decode_cursor, encode_cursor
from domain.retention import DeletionRecord, expiry_before
from domain.stages import stages_matching
from domain.stats import CallOutcome
from domain.tenant import Tenant
from ports.repositories import (
    ApiKeyRepository,
    CallPage,
    CallRepository,
    JobRepository,
    TenantRepository,
    UnitOfWork,
    UnitOfWorkFactory,
)


@attrs.frozen
class _JobRow:
    job: Job
    due_at: datetime
    claimed_by: str | None = None
    claimed_until: datetime | None = None
    deliveries: int = 0
    last_error: str | None = None


@attrs.define
class _State:
    tenants: dict[str, Tenant] = attrs.field(factory=dict)
    calls: dict[tuple[str, str], Call] = attrs.field(factory=dict)
    api_keys: dict[str, ApiKey] = attrs.field(factory=dict)
    jobs: dict[str, _JobRow] = attrs.field(factory=dict)
    usage: UsageTotals = attrs.field(factory=dict)
    deletions: list[DeletionRecord] = attrs.field(factory=list)

    def staged(self) -> _State:
        return _State(
            dict(self.tenants),
            dict(self.calls),
            dict(self.api_keys),
            dict(self.jobs),
            dict(self.usage),
            list(self.deletions),
        )

    def drop_jobs(self, tenant_id: str, call_id: str | None = None) -> int:
        gone = [
            job_id
            for job_id, row in self.jobs.items()
            if row.job.tenant_id == tenant_id and call_id in (None, row.job.call_id)
        ]
        for job_id in gone:
            del self.jobs[job_id]
        return len(gone)


class InMemoryDatabase:
    def __init__(self) -> None:
        self.state = _State()
        self.write_lock = asyncio.Lock()


class InMemoryTenantRepository(TenantRepository):
    def __init__(self, state: _State):
        self._s = state

    async def add(self, tenant: Tenant) -> None:
        if tenant.tenant_id in self._s.tenants:
            raise TenantAlreadyExists(f"tenant {tenant.tenant_id} exists")
        self._check_company(tenant)
        self._s.tenants[tenant.tenant_id] = tenant

    def _check_company(self, tenant: Tenant) -> None:
        for other in self._s.tenants.values():
            same = other.config.callrail_company_id == tenant.config.callrail_company_id
            if same and other.tenant_id != tenant.tenant_id:
                company = tenant.config.callrail_company_id
                owner = other.tenant_id
                raise TenantAlreadyExists(f"tenant {owner} already has CallRail company {company}")

    async def get(self, tenant_id: str) -> Tenant | None:
        return self._s.tenants.get(tenant_id)

    async def get_by_company(self, company_ids: Sequence[str]) -> Tenant | None:
        for company in company_ids:
            for tenant in self._s.tenants.values():
                if tenant.config.callrail_company_id == company:
                    return tenant
        return None

    async def list(self) -> Sequence[Tenant]:
        return sorted(self._s.tenants.values(), key=lambda t: t.tenant_id)

    async def update(self, tenant: Tenant) -> None:
        if tenant.tenant_id not in self._s.tenants:
            raise TenantNotFound(f"no tenant {tenant.tenant_id}")
        self._check_company(tenant)
        self._s.tenants[tenant.tenant_id] = tenant

    async def delete(self, tenant_id: str) -> dict[str, int]:
        s = self._s
        calls = [key for key in s.calls if key[0] == tenant_id]
        keys = [h for h, key in s.api_keys.items() if key.tenant_id == tenant_id]
        days = [key for key in s.usage if key[0] == tenant_id]
        for call_key in calls:  # in place: the unit's other repositories share these dicts
            del s.calls[call_key]
        for key_hash in keys:
            del s.api_keys[key_hash]
        for day in days:
            del s.usage[day]
        return {
            "tenants": int(s.tenants.pop(tenant_id, None) is not None),
            "calls": len(calls),
            "jobs": s.drop_jobs(tenant_id),
            "api_keys": len(keys),
            "usage_days": len(days),
        }


class InMemoryCallRepository(CallRepository):
    def __init__(self, state: _State):
        self._s = state

    async def add(self, call: Call) -> bool:
        key = (call.tenant_id, call.call_id)
        if key in self._s.calls:
            return False
        if call.tenant_id not in self._s.tenants:
            raise TenantNotFound(f"no tenant {call.tenant_id}")
        call.version = 1
        self._s.calls[key] = call.copy()
        return True

    async def get(self, tenant_id: str, call_id: str) -> Call | None:
        found = self._s.calls.get((tenant_id, call_id))
        return found.copy() if found is not None else None

    async def update(self, call: Call) -> None:
        stored = self._s.calls.get((call.tenant_id, call.call_id))
        if stored is None:
            raise CallNotFound(f"no call {call.call_id}")
        if stored.version != call.version:
            raise ConcurrentUpdate(f"call {call.call_id} changed since it was read")
        call.version += 1
        self._s.calls[(call.tenant_id, call.call_id)] = call.copy()

    async def list(
        self,
        tenant_id: str,
        *,
        statuses: Sequence[str] = (),
        since: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> CallPage:
        stages = stages_matching(list(statuses)) if statuses else None
        rows = [
            c
            for (t, _), c in self._s.calls.items()
            if t == tenant_id
            and (stages is None or c.stage in stages)
            and (since is None or c.received_at >= since)
        ]
        rows.sort(key=lambda c: (c.received_at, c.call_id), reverse=True)
        if cursor is not None:
            after = decode_cursor(cursor)
            rows = [c for c in rows if (c.received_at, c.call_id) < after]
        page = rows[:limit]
        more = len(rows) > limit
        next_cursor = encode_cursor(page[-1].received_at, page[-1].call_id) if more else None
        return CallPage([c.copy() for c in page], next_cursor)

    async def outcomes(self, tenant_id: str, since: datetime) -> Sequence[CallOutcome]:
        return [
            CallOutcome.of(c)
            for (t, _), c in self._s.calls.items()
            if t == tenant_id and c.received_at >= since
        ]

    async def extend_lease(self, tenant_id: str, call_id: str, owner: str, until: datetime) -> bool:
        stored = self._s.calls.get((tenant_id, call_id))
        if stored is None or stored.lease_owner != owner:
            return False
        extended = stored.copy()  # the committed state shares this object until commit
        extended.lease_expires_at = until
        self._s.calls[(tenant_id, call_id)] = extended
        return True

    async def delete(self, tenant_id: str, call_id: str) -> dict[str, int]:
        found = self._s.calls.pop((tenant_id, call_id), None)
        return {"calls": int(found is not None), "jobs": self._s.drop_jobs(tenant_id, call_id)}

    async def expirable(
        self,
        tenant_id: str,
        *,
        recordings_before: datetime | None,
        content_before: datetime | None,
        after: str | None = None,
        limit: int = 100,
    ) -> Sequence[str]:
        ids = sorted(
            call_id
            for (t, call_id), c in self._s.calls.items()
            if t == tenant_id
            and (after is None or call_id > after)
            and expiry_before(c, recordings_before, content_before)
        )
        return ids[:limit]

    async def stalled(self, updated_before: datetime, limit: int) -> Sequence[tuple[str, str]]:
        queued = {(r.job.tenant_id, r.job.call_id) for r in self._s.jobs.values()}
        found = [
            (c.timeline[-1].at if c.timeline else c.received_at, key)
            for key, c in self._s.calls.items()
            if not c.stage.terminal and key not in queued
        ]
        return [key for at, key in sorted(found) if at < updated_before][:limit]


class InMemoryApiKeyRepository(ApiKeyRepository):
    def __init__(self, state: _State):
        self._s = state

    async def add(self, key: ApiKey) -> None:
        if key.tenant_id not in self._s.tenants:
            raise TenantNotFound(f"no tenant {key.tenant_id}")
        self._s.api_keys[key.key_hash] = key

    async def find(self, key_hash: str) -> ApiKey | None:
        return self._s.api_keys.get(key_hash)


class InMemoryJobRepository(JobRepository):
    def __init__(self, state: _State):
        self._s = state

    async def add(self, job: Job, due_at: datetime) -> None:
        self._s.jobs[job.job_id] = _JobRow(job, due_at)

    async def pending_count(self) -> int:
        return len(self._s.jobs)

    async def pending_for(self, tenant_id: str, call_id: str) -> Sequence[Job]:
        rows = [
            r
            for r in self._s.jobs.values()
            if (r.job.tenant_id, r.job.call_id) == (tenant_id, call_id)
        ]
        return [r.job for r in sorted(rows, key=lambda r: r.job.enqueued_at)]

    async def claim_due(
        self, now: datetime, worker_id: str, claim_s: float, limit: int
    ) -> Sequence[Job]:
        due = sorted(
            (
                r
                for r in self._s.jobs.values()
                if r.due_at <= now and (r.claimed_until is None or r.claimed_until < now)
            ),
            key=lambda r: r.due_at,
        )[:limit]
        until = now + timedelta(seconds=claim_s)
        for row in due:
            self._s.jobs[row.job.job_id] = attrs.evolve(
                row, claimed_by=worker_id, claimed_until=until
            )
        return [r.job for r in due]

    async def extend_claims(self, job_ids: Sequence[str], worker_id: str, until: datetime) -> None:
        for job_id in job_ids:
            row = self._s.jobs.get(job_id)
            if row is not None and row.claimed_by == worker_id:
                self._s.jobs[job_id] = attrs.evolve(row, claimed_until=until)

    async def complete(self, job_id: str) -> None:
        self._s.jobs.pop(job_id, None)

    async def reschedule(self, job_id: str, due_at: datetime, error: str | None) -> None:
        row = self._s.jobs.get(job_id)
        if row is not None:
            self._s.jobs[job_id] = _JobRow(row.job, due_at, None, None, row.deliveries + 1, error)

    async def oldest_due(self) -> datetime | None:
        return min((r.due_at for r in self._s.jobs.values()), default=None)


class InMemoryUnitOfWork(UnitOfWork):
    def __init__(self, db: InMemoryDatabase, read_only: bool):
        self._db = db
        self._read_only = read_only
        self._staged: _State | None = None

    def _bind(self, state: _State) -> None:
        self.tenants = InMemoryTenantRepository(state)
        self.calls = InMemoryCallRepository(state)
        self.api_keys = InMemoryApiKeyRepository(state)
        self.jobs = InMemoryJobRepository(state)
        self.usage = InMemoryUsageRepository(state.usage, state.tenants)
        self.deletions = InMemoryDeletionRepository(state.deletions)

    async def __aenter__(self) -> Self:
        if self._read_only:
            self._bind(self._db.state)
        else:
            await self._db.write_lock.acquire()
            self._staged = self._db.state.staged()
            self._bind(self._staged)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._read_only:
            self._staged = None
            self._db.write_lock.release()

    async def commit(self) -> None:
        if self._read_only:
            raise RuntimeError("a read-only unit of work cannot commit")
        assert self._staged is not None
        self._db.state = self._staged
        self._staged = self._db.state.staged()
        self._bind(self._staged)


class InMemoryUnitOfWorkFactory(UnitOfWorkFactory):
    def __init__(self, db: InMemoryDatabase | None = None):
        self.db = db or InMemoryDatabase()

    def __call__(self, *, read_only: bool = False) -> UnitOfWork:
        return InMemoryUnitOfWork(self.db, read_only)
