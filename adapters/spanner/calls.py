"""Calls in Spanner, seen through the unit of work's buffer: the store's rows that the buffer
overrides are left out of each query, and the buffer's own rows merged in."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from adapters.spanner import rows
from adapters.spanner.buffer import CallChange, CallKey, StagedCall
from adapters.spanner.deletions import CALL_COUNTS, expirable_query
from adapters.spanner.staging import Session, any_call, exclude
from domain import codec
from domain.call import Call
from domain.errors import CallNotFound, ConcurrentUpdate
from domain.paging import decode_cursor, encode_cursor
from domain.stages import Stage, stages_matching
from domain.stats import CallOutcome
from ports.repositories import CallPage, CallRepository

_IN_FLIGHT = [s.value for s in Stage if not s.terminal]
_TENANT_WIDTH = len(rows.TENANT_COLUMNS) - 1  # without committed_at, as TENANT_SELECT
_TENANT_COLUMNS = ", ".join(f"t.{c}" for c in rows.TENANT_SELECT.split(", "))
_CALL_COLUMNS = ", ".join(f"c.{c}" for c in rows.CALL_SELECT.split(", "))
_CALL_WITH_TENANT = (
    f"SELECT {_TENANT_COLUMNS}, {_CALL_COLUMNS}, ARRAY(SELECT j.job_id FROM jobs j"  # noqa: S608
    " WHERE j.tenant_id = @tenant AND j.call_id = @call)"
    " FROM tenants t LEFT JOIN calls c ON c.tenant_id = t.tenant_id AND c.call_id = @call"
    " WHERE t.tenant_id = @tenant"
)
_Candidates = list[tuple[datetime, CallKey]]


class SpannerCallRepository(CallRepository):
    def __init__(self, session: Session):
        self._s = session

    async def add(self, call: Call) -> bool:
        staged = self._s.writable()
        key = (call.tenant_id, call.call_id)
        if key in staged.calls:
            return False
        # Nothing is read: the commit inserts the row, which Spanner refuses if the call is
        # stored already (ConcurrentUpdate) or its tenant is not (TenantNotFound).
        call.version = 1
        staged.calls[key] = StagedCall(call.copy(), CallChange.INSERT)
        return True

    async def get(self, tenant_id: str, call_id: str) -> Call | None:
        key = (tenant_id, call_id)
        if key in self._s.staged.calls:
            return self._s.staged.calls[key].call.copy()
        if not self._s.read_only:
            return await self._get_with_tenant(tenant_id, call_id)
        found = await self._s.query(
            f"SELECT {rows.CALL_SELECT} FROM calls"  # noqa: S608
            " WHERE tenant_id = @tenant AND call_id = @call",
            tenant=tenant_id,
            call=call_id,
        )
        return rows.call_from_row(found[0]) if found else None

    async def _get_with_tenant(self, tenant_id: str, call_id: str) -> Call | None:
        """A writer reads a call to work on it (a lease, a stage): its tenant and its jobs'
        ids come in the same query, for the tenant read and the job settled next."""
        found = await self._s.query(_CALL_WITH_TENANT, tenant=tenant_id, call=call_id)
        if not found:
            return None
        row = found[0]
        if tenant_id not in self._s.staged.tenants:
            self._s.tenants_read[tenant_id] = rows.tenant_from_row(row[:_TENANT_WIDTH])
        if row[_TENANT_WIDTH] is None:
            return None
        call = rows.call_from_row(row[_TENANT_WIDTH:-1])
        self._seen(call, row[-1])
        return call

    def _seen(self, call: Call, job_ids: Sequence[str] = ()) -> None:
        if not self._s.read_only:
            key = (call.tenant_id, call.call_id)
            self._s.staged.seen_versions[key] = call.version
            self._s.known.saw(key, call.version, job_ids)

    async def update(self, call: Call) -> None:
        staged = self._s.writable()
        key = (call.tenant_id, call.call_id)
        pending = staged.calls.get(key)
        if pending is not None:
            current = pending.call.version
        elif call.version in (staged.seen_versions.get(key), self._s.known.version(key)):
            current = call.version  # read or written at this version: commit checks it still is
        else:
            found = await self._s.query(
                "SELECT version FROM calls WHERE tenant_id = @tenant AND call_id = @call",
                tenant=call.tenant_id,
                call=call.call_id,
            )
            if not found:
                raise CallNotFound(f"no call {call.call_id}")
            current = found[0][0]
        if current != call.version:
            raise ConcurrentUpdate(f"call {call.call_id} changed since it was read")
        call.version += 1
        if pending is None:
            staged.calls[key] = StagedCall(call.copy(), CallChange.UPDATE, current)
        else:
            pending.call = call.copy()
            if pending.change is CallChange.LEASE:
                pending.change, pending.base_version = CallChange.UPDATE, current

    async def extend_lease(self, tenant_id: str, call_id: str, owner: str, until: datetime) -> bool:
        staged = self._s.writable()
        key = (tenant_id, call_id)
        pending = staged.calls.get(key)
        if pending is None:
            stored = await self.get(tenant_id, call_id)
            if stored is None or stored.lease_owner != owner:
                return False
            pending = StagedCall(stored, CallChange.LEASE, stored.version, owner)
            staged.calls[key] = pending
        elif pending.call.lease_owner != owner:
            return False
        pending.call.lease_expires_at = until
        return True

    async def list(
        self,
        tenant_id: str,
        *,
        statuses: Sequence[str] = (),
        since: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> CallPage:
        stages = sorted(stages_matching(list(statuses))) if statuses else None
        after = decode_cursor(cursor) if cursor is not None else None
        buffered = [
            s.call
            for k, s in self._s.staged.calls.items()
            if k[0] == tenant_id and _listed(s.call, stages, since, after)
        ]
        params: dict[str, Any] = {"tenant": tenant_id, "limit": limit + 1}
        where = ["tenant_id = @tenant"]
        if stages is not None:
            where.append("stage IN UNNEST(@stages)")
            params["stages"] = [s.value for s in stages]
        if since is not None:
            where.append("received_at >= @since")
            params["since"] = since
        if after is not None:
            where.append("(received_at < @at OR (received_at = @at AND call_id < @after))")
            params["at"], params["after"] = after
        overridden = [k[1] for k in self._s.staged.calls if k[0] == tenant_id]
        fresh = exclude("call_id", overridden, "staged", params)
        index = "calls_by_time" if stages is None else "calls_by_stage"
        found = await self._s.query(
            f"SELECT {rows.CALL_SELECT} FROM calls@{{FORCE_INDEX={index}}}"  # noqa: S608
            f" WHERE {' AND '.join(where)}{fresh}"
            " ORDER BY received_at DESC, call_id DESC LIMIT @limit",
            stale_ok=True,
            **params,
        )
        stored = [rows.call_from_row(r) for r in found]
        for call in stored:
            self._seen(call)
        merged = sorted(
            [*stored, *(c.copy() for c in buffered)],
            key=lambda c: (c.received_at, c.call_id),
            reverse=True,
        )
        page = merged[:limit]
        more = len(merged) > limit
        next_cursor = encode_cursor(page[-1].received_at, page[-1].call_id) if more else None
        return CallPage(page, next_cursor)

    async def outcomes(self, tenant_id: str, since: datetime) -> Sequence[CallOutcome]:
        params: dict[str, Any] = {"tenant": tenant_id, "since": since}
        buffered = [
            CallOutcome.of(s.call)
            for k, s in self._s.staged.calls.items()
            if k[0] == tenant_id and s.call.received_at >= since
        ]
        overridden = [k[1] for k in self._s.staged.calls if k[0] == tenant_id]
        fresh = exclude("call_id", overridden, "staged", params)
        found = await self._s.query(
            "SELECT call_id, stage, received_at, completed_at,"  # noqa: S608 - placeholders only
            " JSON_VALUE(failure, '$.stage'), JSON_VALUE(lead_score, '$.tier'),"
            " JSON_VALUE(crm_sync, '$.type'), JSON_VALUE(crm_sync, '$.status'),"
            " JSON_QUERY(analysis, '$.answers')"
            " FROM calls@{FORCE_INDEX=calls_by_time}"
            f" WHERE tenant_id = @tenant AND received_at >= @since{fresh}",
            stale_ok=True,
            **params,
        )
        return [*map(_outcome_from_row, found), *buffered]

    async def delete(self, tenant_id: str, call_id: str) -> dict[str, int]:
        staged = self._s.writable()
        key = (tenant_id, call_id)
        found = await self._s.query(CALL_COUNTS, tenant=tenant_id, call=call_id)
        calls, jobs = (int(n) for n in found[0])
        if (added := staged.calls.pop(key, None)) is not None:
            calls = max(calls, int(added.change is CallChange.INSERT))
        staged.deleted_calls.append(key)
        self._s.known.forget([key])
        return {"calls": calls, "jobs": jobs}

    async def expirable(
        self,
        tenant_id: str,
        *,
        recordings_before: datetime | None,
        content_before: datetime | None,
        after: str | None = None,
        limit: int = 100,
    ) -> Sequence[str]:
        sql, params = expirable_query(recordings_before, content_before)
        if sql is None:
            return []
        found = await self._s.query(sql, tenant=tenant_id, after=after or "", limit=limit, **params)
        return [row[0] for row in found]

    async def stalled(self, updated_before: datetime, limit: int) -> Sequence[tuple[str, str]]:
        staged = self._s.staged
        queued = {(r.job.tenant_id, r.job.call_id) for r in staged.live_jobs()}
        params: dict[str, Any] = {"before": updated_before, "stages": _IN_FLIGHT}
        # Each buffered job can hide one call the store would list: ask for that many more.
        params["limit"] = limit + len(queued)
        other_jobs = exclude("j.job_id", list(staged.jobs), "staged_jobs", params)
        overridden = (
            f" AND NOT {any_call(list(staged.calls), params, 'c.')}" if staged.calls else ""
        )
        found = await self._s.query(
            "SELECT c.tenant_id, c.call_id, c.updated_at"  # noqa: S608 - placeholders only
            " FROM calls@{FORCE_INDEX=calls_in_flight} c"
            " WHERE c.stage IN UNNEST(@stages) AND c.updated_at < @before"
            " AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.tenant_id = c.tenant_id"
            f" AND j.call_id = c.call_id{other_jobs}){overridden}"
            " ORDER BY c.updated_at LIMIT @limit",
            **params,
        )
        candidates = [(rows.utc(r[2]), (r[0], r[1])) for r in found]
        candidates += await self._stalled_in_buffer(updated_before)
        candidates.sort()
        return [key for _, key in candidates if key not in queued][:limit]

    async def _stalled_in_buffer(self, updated_before: datetime) -> _Candidates:
        staged = self._s.staged
        waiting = {
            key: codec.last_activity(s.call)
            for key, s in staged.calls.items()
            if not s.call.stage.terminal and codec.last_activity(s.call) < updated_before
        }
        if not waiting:
            return []
        params: dict[str, Any] = {}
        other_jobs = exclude("job_id", list(staged.jobs), "staged_jobs", params)
        with_jobs = await self._s.query(
            "SELECT DISTINCT tenant_id, call_id FROM jobs"  # noqa: S608
            f" WHERE {any_call(list(waiting), params)}{other_jobs}",
            **params,
        )
        queued = {(r[0], r[1]) for r in with_jobs}
        return [(at, key) for key, at in waiting.items() if key not in queued]


def _outcome_from_row(row: Sequence[Any]) -> CallOutcome:
    return codec.outcome_from_row(row, time=rows.utc, json=rows.from_json)


def _listed(
    call: Call,
    stages: Sequence[Stage] | None,
    since: datetime | None,
    after: tuple[datetime, str] | None,
) -> bool:
    return (
        (stages is None or call.stage in stages)
        and (since is None or call.received_at >= since)
        and (after is None or (call.received_at, call.call_id) < after)
    )
