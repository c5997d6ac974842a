"""The local queue's jobs in Spanner, seen through the unit of work's buffer. A claim is checked
at commit: two workers that read the same due job cannot both commit its claim."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs

from adapters.spanner import rows
from adapters.spanner.buffer import StagedJob
from adapters.spanner.staging import Session, exclude
from domain.jobs import Job
from ports.repositories import JobRepository


class SpannerJobRepository(JobRepository):
    def __init__(self, session: Session):
        self._s = session

    async def add(self, job: Job, due_at: datetime) -> None:
        staged = self._s.writable()
        staged.jobs[job.job_id] = StagedJob(rows.JobRow(job, due_at), inserted=True)

    async def pending_count(self) -> int:
        params: dict[str, Any] = {}
        fresh = exclude("job_id", list(self._s.staged.jobs), "staged", params)
        where = f" WHERE TRUE{fresh}" if fresh else ""
        found = await self._s.query(
            f"SELECT COUNT(*) FROM jobs{where}",  # noqa: S608
            stale_ok=True,
            **params,
        )
        return int(found[0][0]) + len(self._s.staged.live_jobs())

    async def pending_for(self, tenant_id: str, call_id: str) -> Sequence[Job]:
        params: dict[str, Any] = {"tenant": tenant_id, "call": call_id}
        fresh = exclude("job_id", list(self._s.staged.jobs), "staged", params)
        found = await self._s.query(
            f"SELECT {rows.JOB_SELECT} FROM jobs"  # noqa: S608
            f" WHERE tenant_id = @tenant AND call_id = @call{fresh}",
            **params,
        )
        buffered = [r for r in self._s.staged.live_jobs() if r.key[:2] == (tenant_id, call_id)]
        pending = [*map(rows.job_from_row, found), *buffered]
        pending.sort(key=lambda r: (r.job.enqueued_at, r.job.job_id))
        return [r.job for r in pending]

    async def claim_due(
        self, now: datetime, worker_id: str, claim_s: float, limit: int
    ) -> Sequence[Job]:
        staged = self._s.writable()
        params: dict[str, Any] = {"now": now, "limit": limit}
        fresh = exclude("job_id", list(staged.jobs), "staged", params)
        found = await self._s.query(
            f"SELECT {rows.JOB_SELECT} FROM jobs@{{FORCE_INDEX=jobs_due}}"  # noqa: S608
            " WHERE due_at <= @now AND (claimed_until IS NULL OR claimed_until < @now)"
            f"{fresh} ORDER BY due_at, job_id LIMIT @limit",
            **params,
        )
        due = [*map(rows.job_from_row, found), *(r for r in staged.live_jobs() if r.claimable(now))]
        due.sort(key=lambda r: (r.due_at, r.job.job_id))
        until = now + timedelta(seconds=claim_s)
        for row in due[:limit]:
            claimed = attrs.evolve(row, claimed_by=worker_id, claimed_until=until)
            pending = staged.jobs.get(row.job.job_id)
            if pending is None:
                staged.jobs[row.job.job_id] = StagedJob(claimed, claimed_from=row)
            else:
                pending.row = claimed
                if pending.holder is not None:
                    pending.holder, pending.claimed_from = None, pending.stored
        return [r.job for r in due[:limit]]

    async def extend_claims(self, job_ids: Sequence[str], worker_id: str, until: datetime) -> None:
        staged = self._s.writable()
        unread = [job_id for job_id in job_ids if job_id not in staged.jobs]
        if unread:
            found = await self._s.query(
                f"SELECT {rows.JOB_SELECT} FROM jobs@{{FORCE_INDEX=jobs_by_id}}"  # noqa: S608
                " WHERE job_id IN UNNEST(@ids)",
                ids=unread,
            )
            for row in map(rows.job_from_row, found):
                staged.jobs[row.job.job_id] = StagedJob(row, holder=worker_id, stored=row)
        for job_id in job_ids:
            pending = staged.jobs.get(job_id)
            if pending is not None and pending.row is not None:
                if pending.row.claimed_by == worker_id:
                    pending.row = attrs.evolve(pending.row, claimed_until=until)
                elif pending.holder is not None and pending.row == pending.stored:
                    del staged.jobs[job_id]  # held by another worker: nothing to change

    async def complete(self, job_id: str) -> None:
        staged = self._s.writable()
        pending = staged.jobs.get(job_id)
        if pending is None:
            # Deleted by its key if this process knows it, else found by its id at commit.
            staged.jobs[job_id] = StagedJob(None, key=self._s.known.job_key(job_id))
        elif pending.inserted:
            del staged.jobs[job_id]
        else:
            pending.row, pending.holder = None, None

    async def reschedule(self, job_id: str, due_at: datetime, error: str | None) -> None:
        staged = self._s.writable()
        pending = staged.jobs.get(job_id)
        if pending is None:
            found = await self._s.query(
                f"SELECT {rows.JOB_SELECT} FROM jobs@{{FORCE_INDEX=jobs_by_id}}"  # noqa: S608
                " WHERE job_id = @id",
                id=job_id,
            )
            if not found:
                return
            pending = StagedJob(rows.job_from_row(found[0]))
            staged.jobs[job_id] = pending
        if pending.row is None:
            return
        pending.holder = None
        pending.row = attrs.evolve(
            pending.row,
            due_at=due_at,
            claimed_by=None,
            claimed_until=None,
            attempts=pending.row.attempts + 1,
            last_error=error,
        )
        if not pending.inserted:
            pending.reschedules += 1

    async def oldest_due(self) -> datetime | None:
        params: dict[str, Any] = {}
        fresh = exclude("job_id", list(self._s.staged.jobs), "staged", params)
        where = f" WHERE TRUE{fresh}" if fresh else ""
        found = await self._s.query(
            f"SELECT MIN(due_at) FROM jobs{where}",  # noqa: S608
            stale_ok=True,
            **params,
        )
        dues = [r.due_at for r in self._s.staged.live_jobs()]
        if found and found[0][0] is not None:
            dues.append(rows.utc(found[0][0]))
        return min(dues, default=None)
