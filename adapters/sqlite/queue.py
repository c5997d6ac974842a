"""The local durable queue: job rows in the SQLite file, beside the calls.

A job is written by the unit of work that stores its call (SqliteJobRepository), so a call is
never committed without its job. The local worker claims due jobs, keeps its claims alive and
waits for new ones through SqliteJobQueue; enqueue() only wakes it, so a crash between commit
and wake-up loses nothing: the row is found when the worker next looks."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta

from adapters.sqlite.calls import json_text
from adapters.sqlite.calls import t as _t
from adapters.sqlite.database import SqliteDatabase
from adapters.sqlite.session import Session
from domain import codec
from domain.jobs import Job
from ports.queue import LocalJobQueue
from ports.repositories import JobRepository
from ports.system import Clock


def _job_from_row(row: sqlite3.Row) -> Job:
    return Job(
        job_id=row["job_id"],
        tenant_id=row["tenant_id"],
        call_id=row["call_id"],
        enqueued_at=datetime.fromisoformat(row["enqueued_at"]),
        trace_context=json.loads(row["trace_context"]),
    )


class SqliteJobRepository(JobRepository):
    def __init__(self, session: Session):
        self._s = session

    async def add(self, job: Job, due_at: datetime) -> None:
        values = (
            job.job_id,
            job.tenant_id,
            job.call_id,
            _t(job.enqueued_at),
            _t(due_at),
            json_text(dict(job.trace_context)),
        )
        await self._s.defer(
            lambda conn: conn.execute(
                "INSERT INTO jobs (job_id, tenant_id, call_id, enqueued_at, due_at, trace_context)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                values,
            )
        )

    async def pending_count(self) -> int:
        return await self._s.one("SELECT count(*) FROM jobs", (), lambda row: int(row[0])) or 0

    async def pending_for(self, tenant_id: str, call_id: str) -> Sequence[Job]:
        sql = "SELECT * FROM jobs WHERE tenant_id = ? AND call_id = ? ORDER BY enqueued_at"
        return await self._s.all(sql, (tenant_id, call_id), _job_from_row)

    async def claim_due(
        self, now: datetime, worker_id: str, claim_s: float, limit: int
    ) -> Sequence[Job]:
        until = _t(now + timedelta(seconds=claim_s))

        def claim(conn: sqlite3.Connection) -> list[Job]:
            rows = conn.execute(
                "SELECT * FROM jobs WHERE due_at <= ?"
                " AND (claimed_until IS NULL OR claimed_until < ?) ORDER BY due_at LIMIT ?",
                (_t(now), _t(now), limit),
            ).fetchall()
            conn.executemany(
                "UPDATE jobs SET claimed_by = ?, claimed_until = ? WHERE job_id = ?",
                [(worker_id, until, row["job_id"]) for row in rows],
            )
            return [_job_from_row(row) for row in rows]

        return await self._s.now(claim)

    async def extend_claims(self, job_ids: Sequence[str], worker_id: str, until: datetime) -> None:
        await self._s.defer(
            lambda conn: conn.executemany(
                "UPDATE jobs SET claimed_until = ? WHERE job_id = ? AND claimed_by = ?",
                [(_t(until), job_id, worker_id) for job_id in job_ids],
            )
        )

    async def complete(self, job_id: str) -> None:
        await self._s.defer(
            lambda conn: conn.execute("DELETE FROM jobs WHERE job_id = ?", (job_id,))
        )

    async def reschedule(self, job_id: str, due_at: datetime, error: str | None) -> None:
        await self._s.defer(
            lambda conn: conn.execute(
                "UPDATE jobs SET due_at = ?, claimed_by = NULL, claimed_until = NULL,"
                " attempts = attempts + 1, last_error = ? WHERE job_id = ?",
                (_t(due_at), error, job_id),
            )
        )

    async def oldest_due(self) -> datetime | None:
        sql = "SELECT min(due_at) FROM jobs"
        return await self._s.one(sql, (), lambda row: codec.parse_time(row[0]))


class SqliteJobQueue(LocalJobQueue):
    """The worker's side: claim due jobs, keep the claims of jobs in progress, wait for more."""

    dispatch_grace_s = 0.0

    def __init__(self, db: SqliteDatabase, clock: Clock, claim_s: float = 60.0):
        self._db = db
        self._clock = clock
        self.claim_s = claim_s
        self._wakeup = asyncio.Event()

    async def enqueue(self, job: Job) -> None:
        self._wakeup.set()

    async def claim(self, worker_id: str, limit: int) -> Sequence[Job]:
        jobs = SqliteJobRepository(Session(self._db, read_only=False))
        return await jobs.claim_due(self._clock.now(), worker_id, self.claim_s, limit)

    async def keep(self, job_ids: Sequence[str], worker_id: str) -> None:
        session = Session(self._db, read_only=False)
        until = self._clock.now() + timedelta(seconds=self.claim_s)
        await SqliteJobRepository(session).extend_claims(job_ids, worker_id, until)
        await session.commit()

    async def wait(self, timeout_s: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), timeout_s)
        self._wakeup.clear()
