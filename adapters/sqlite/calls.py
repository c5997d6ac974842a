"""Calls in SQLite: one row a call, each stage's result a JSON column. An update is a
compare-and-set on the version read. A row that can no longer be decoded is failed in place
instead of breaking every listing and worker that meets it."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from adapters.sqlite.session import Session
from domain import codec
from domain.call import Call, CallMetadata, Failure, RawPayload
from domain.errors import CallNotFound, ConcurrentUpdate, TenantNotFound
from domain.paging import decode_cursor, encode_cursor
from domain.stages import Stage, stages_matching
from domain.stats import CallOutcome
from ports.repositories import CallPage, CallRepository

t = codec.iso_microseconds  # every time a row holds, in UTC, to the microsecond
log = logging.getLogger("ingestion_pipeline.sqlite")
UNREADABLE = "the stored call could not be read back; it was not processed"
_COLUMNS = codec.CALL_COLUMNS[2:]  # the key (tenant_id, call_id) goes apart
_INSERT = (
    f"INSERT INTO calls (tenant_id, call_id, {', '.join(_COLUMNS)})"  # noqa: S608 - constants
    f" VALUES (?, ?, {', '.join('?' * len(_COLUMNS))}) ON CONFLICT (tenant_id, call_id) DO NOTHING"
)
_UPDATE = (
    f"UPDATE calls SET {', '.join(f'{c} = ?' for c in _COLUMNS)}"  # noqa: S608 - constants
    " WHERE tenant_id = ? AND call_id = ? AND version = ?"
)
_OUTCOMES = (
    "SELECT call_id, stage, received_at, completed_at, json_extract(failure, '$.stage'),"
    " json_extract(lead_score, '$.tier'), json_extract(crm_sync, '$.type'),"
    " json_extract(crm_sync, '$.status'), json_extract(analysis, '$.answers')"
    " FROM calls WHERE tenant_id = ? AND received_at >= ?"
)

# domain/retention.py's expiry_of, in SQL: a recording, or content (transcript, analysis, raw
# body, a score reason's words) held past its cutoff by a finished call.
_EXPIRABLE = (
    "SELECT call_id FROM calls WHERE tenant_id = ? AND call_id > ?"
    " AND stage IN ('COMPLETED', 'FAILED') AND ("
    "  (? IS NOT NULL AND received_at < ? AND (recording IS NOT NULL OR recording_url IS NOT NULL))"
    "  OR (? IS NOT NULL AND received_at < ? AND (transcript IS NOT NULL OR analysis IS NOT NULL"
    "   OR raw_payload != '{}' OR EXISTS (SELECT 1 FROM json_each(lead_score, '$.reasons') r"
    "    WHERE json_extract(r.value, '$.detail') != ''"
    "     OR json_extract(r.value, '$.quote') IS NOT NULL))))"
    " ORDER BY call_id LIMIT ?"
)


def json_text(value: Any) -> str | None:
    """Compact JSON; the standard library for what orjson refuses (a 65-bit integer). A
    webhook's body is kept as CallRail sent it."""
    if value is None:
        return None
    if isinstance(value, RawPayload):
        return value.text
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, separators=(",", ":"))


def _values(call: Call, version: int) -> list[Any]:
    row = codec.call_row(call, time=t, json=json_text)
    row["version"] = version
    return [row[column] for column in _COLUMNS]


def _call_from_row(row: sqlite3.Row) -> Call:
    try:
        return codec.call_from_row(row, time=datetime.fromisoformat, json=json.loads)
    except (ValueError, TypeError, KeyError, RecursionError) as exc:
        # A body nested past json's limit, stored before intake refused such bodies, say.
        log.error("call %s cannot be read back (%s)", row["call_id"], type(exc).__name__)
        return Call(
            tenant_id=row["tenant_id"],
            call_id=row["call_id"],
            received_at=datetime(1970, 1, 1, tzinfo=UTC),
            metadata=CallMetadata(),
            stage=Stage.FAILED,
            failure=Failure(Stage.RECEIVED, UNREADABLE),
            version=row["version"],
        )


def _outcome_from_row(row: sqlite3.Row) -> CallOutcome:
    return codec.outcome_from_row(row, time=datetime.fromisoformat, json=json.loads)


class SqliteCallRepository(CallRepository):
    def __init__(self, session: Session):
        self._s = session
        self._versions: dict[tuple[str, str], int] = {}  # written by this unit, not committed

    async def add(self, call: Call) -> bool:
        """No read first: a call stored meanwhile (or before) makes commit raise
        ConcurrentUpdate, and a missing tenant TenantNotFound."""
        key = (call.tenant_id, call.call_id)
        if key in self._versions:
            return False
        values = (*key, *_values(call, 1))

        def insert(conn: sqlite3.Connection) -> None:
            try:
                cursor = conn.execute(_INSERT, values)
            except sqlite3.IntegrityError:
                raise TenantNotFound(f"no tenant {key[0]}") from None
            if cursor.rowcount != 1:
                raise ConcurrentUpdate(f"call {key[1]} was stored meanwhile")

        await self._s.defer(insert)
        call.version = self._versions[key] = 1
        return True

    async def get(self, tenant_id: str, call_id: str) -> Call | None:
        sql = "SELECT * FROM calls WHERE tenant_id = ? AND call_id = ?"
        call = await self._s.one(sql, (tenant_id, call_id), _call_from_row)
        await self._fail_unreadable([call] if call else [])
        return call

    async def update(self, call: Call) -> None:
        key = (call.tenant_id, call.call_id)
        stored = self._versions.get(key)
        if stored is None:
            sql = "SELECT version FROM calls WHERE tenant_id = ? AND call_id = ?"
            stored = await self._s.one(sql, key, lambda row: int(row[0]))
        if stored is None:
            raise CallNotFound(f"no call {call.call_id}")
        if stored != call.version:
            raise ConcurrentUpdate(f"call {call.call_id} changed since it was read")
        values = (*_values(call, call.version + 1), *key, call.version)

        def save(conn: sqlite3.Connection) -> None:
            if conn.execute(_UPDATE, values).rowcount != 1:
                raise ConcurrentUpdate(f"call {key[1]} changed since it was read")

        await self._s.defer(save)
        call.version = self._versions[key] = call.version + 1

    async def list(
        self,
        tenant_id: str,
        *,
        statuses: Sequence[str] = (),
        since: datetime | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> CallPage:
        where, params = ["tenant_id = ?"], [tenant_id]
        if statuses:
            stages = sorted(stages_matching(list(statuses)))
            where.append(f"stage IN ({', '.join('?' * len(stages))})")
            params.extend(stages)
        if since is not None:
            where.append("received_at >= ?")
            params.append(t(since))
        if cursor is not None:
            at, call_id = decode_cursor(cursor)
            where.append("(received_at < ? OR (received_at = ? AND call_id < ?))")
            params.extend([t(at), t(at), call_id])
        sql = (
            f"SELECT * FROM calls WHERE {' AND '.join(where)}"  # noqa: S608
            " ORDER BY received_at DESC, call_id DESC LIMIT ?"
        )
        rows = await self._s.all(sql, (*params, limit + 1), _call_from_row)
        page = rows[:limit]
        await self._fail_unreadable(page)
        more = len(rows) > limit
        next_cursor = encode_cursor(page[-1].received_at, page[-1].call_id) if more else None
        return CallPage(page, next_cursor)

    async def _fail_unreadable(self, calls: Sequence[Call]) -> None:
        """Fails unreadable rows in place at once, whatever this unit does, so that the sweep
        and the workers leave them alone."""
        keys = [
            (c.tenant_id, c.call_id) for c in calls if c.failure and c.failure.reason == UNREADABLE
        ]
        if keys:
            failure = json_text(codec.failure_to_dict(Failure(Stage.RECEIVED, UNREADABLE)))
            await self._s.db.write(
                lambda conn: conn.executemany(
                    "UPDATE calls SET stage = 'FAILED', failure = ?, version = version + 1"
                    " WHERE tenant_id = ? AND call_id = ? AND stage != 'FAILED'",
                    [(failure, *key) for key in keys],
                )
            )

    async def outcomes(self, tenant_id: str, since: datetime) -> Sequence[CallOutcome]:
        return await self._s.all(_OUTCOMES, (tenant_id, t(since)), _outcome_from_row)

    async def extend_lease(self, tenant_id: str, call_id: str, owner: str, until: datetime) -> bool:
        sql = (
            "UPDATE calls SET lease_expires_at = ?"
            " WHERE tenant_id = ? AND call_id = ? AND lease_owner = ?"
        )
        params = (t(until), tenant_id, call_id, owner)
        return await self._s.check(lambda conn: conn.execute(sql, params).rowcount == 1)

    async def delete(self, tenant_id: str, call_id: str) -> dict[str, int]:
        key = (tenant_id, call_id)
        self._versions.pop(key, None)

        def delete(conn: sqlite3.Connection) -> dict[str, int]:
            jobs = conn.execute("DELETE FROM jobs WHERE tenant_id = ? AND call_id = ?", key)
            calls = conn.execute("DELETE FROM calls WHERE tenant_id = ? AND call_id = ?", key)
            return {"calls": calls.rowcount, "jobs": jobs.rowcount}

        return await self._s.check(delete)

    async def expirable(
        self,
        tenant_id: str,
        *,
        recordings_before: datetime | None,
        content_before: datetime | None,
        after: str | None = None,
        limit: int = 100,
    ) -> Sequence[str]:
        audio, content = (
            None if at is None else t(at) for at in (recordings_before, content_before)
        )
        return await self._s.all(
            _EXPIRABLE,
            (tenant_id, after or "", audio, audio, content, content, limit),
            lambda r: r[0],
        )

    async def stalled(self, updated_before: datetime, limit: int) -> Sequence[tuple[str, str]]:
        return await self._s.all(
            "SELECT c.tenant_id, c.call_id FROM calls c"
            " WHERE c.stage NOT IN ('COMPLETED', 'FAILED') AND c.updated_at < ?"
            " AND NOT EXISTS (SELECT 1 FROM jobs j"
            "                 WHERE j.tenant_id = c.tenant_id AND j.call_id = c.call_id)"
            " ORDER BY c.updated_at LIMIT ?",
            (t(updated_before), limit),
            lambda row: (row[0], row[1]),
        )
