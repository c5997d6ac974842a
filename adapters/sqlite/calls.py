"""Calls in SQLite. A writing unit of work checks what it can at once (the call exists, its
version is the one read) and keeps the write for commit, where the version compare-and-set is
checked again. An update re-writes only the results that changed since the version it updates:
KnownCalls remembers, across units of work, which objects each recently read or committed
version holds (a wrong memory can only cost a re-write, never skip one: a call read afresh
never shares objects with it, and the compare-and-set still guards the version)."""

from __future__ import annotations

import functools
import json
import sqlite3
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs
import orjson

from adapters.sqlite.outcomes import select_outcomes
from adapters.sqlite.session import Session
from domain import codec
from domain.call import Call, RawPayload
from domain.errors import CallNotFound, ConcurrentUpdate, TenantNotFound
from domain.paging import decode_cursor, encode_cursor
from domain.stages import Stage, stages_matching
from domain.stats import CallOutcome
from ports.repositories import CallPage, CallRepository

t = codec.iso_microseconds  # every time a row holds, in UTC, to the microsecond


def json_text(value: Any) -> str | None:
    """Compact JSON text; orjson (a call's row is written at every stage, and encoding it was
    a tenth of a webhook's CPU), the standard library for what orjson refuses (an integer
    beyond 64 bits in a webhook's body, say). Read back with json.loads, which keeps such
    integers exact where orjson.loads would turn them into floats."""
    if value is None:
        return None
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, separators=(",", ":"))


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _payload(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A dict (a RawPayload is one, with its text), as json_text takes."""
    return raw if isinstance(raw, dict) else dict(raw)


# Columns named after the Call attribute they hold, whose values the domain replaces and never
# changes in place: the same object as when the call was read means the stored text is right.
_KEPT: dict[str, Callable[[Call], Any]] = {
    "metadata": lambda c: codec.metadata_to_dict(c.metadata),
    "recording_url": lambda c: c.recording_url,
    "raw_payload": lambda c: _payload(c.raw_payload),
    "recording": lambda c: codec.recording_to_dict(c.recording),
    "transcript": lambda c: codec.transcript_to_dict(c.transcript),
    "analysis": lambda c: codec.analysis_to_dict(c.analysis),
    "lead_score": lambda c: codec.score_to_dict(c.lead_score),
    "crm_sync": lambda c: codec.crm_to_dict(c.crm_sync),
    "failure": lambda c: codec.failure_to_dict(c.failure),
}
_SCALARS = (
    "stage",
    "received_at",
    "completed_at",
    "attempts",
    "timeline",
    "lease_owner",
    "lease_expires_at",
    "version",
    "updated_at",
)
_ALL = ("tenant_id", "call_id", *_SCALARS, *_KEPT)


def _kept_value(column: str, call: Call) -> Any:
    if getattr(call, column) is None:  # no result yet (most columns of a new call)
        return None
    value = _KEPT[column](call)
    if column == "recording_url":
        return value
    if type(value) is RawPayload:  # a webhook's body: stored as it came
        return value.text
    return json_text(value)


def _scalar_values(call: Call, version: int) -> tuple[Any, ...]:
    # updated_at is the call's last recorded activity, in the domain's time, so the sweep's
    # deadline (also the domain's time) compares like with like.
    last_activity = call.timeline[-1].at if call.timeline else call.received_at
    received = t(call.received_at)
    return (
        call.stage.value,
        received,
        t(call.completed_at) if call.completed_at else None,
        call.attempts,
        json_text(codec.timeline_to_list(call.timeline)),
        call.lease_owner,
        t(call.lease_expires_at) if call.lease_expires_at else None,
        version,
        received if last_activity == call.received_at else t(last_activity),
    )


def _kept_objects(call: Call) -> tuple[object, ...]:
    return tuple([getattr(call, column) for column in _KEPT])


def _call_from_row(row: sqlite3.Row) -> Call:
    return Call(
        tenant_id=row["tenant_id"],
        call_id=row["call_id"],
        received_at=datetime.fromisoformat(row["received_at"]),
        metadata=codec.metadata_from_dict(json.loads(row["metadata"])),
        recording_url=row["recording_url"],
        raw_payload=json.loads(row["raw_payload"]),
        stage=Stage(row["stage"]),
        attempts=row["attempts"],
        completed_at=codec.parse_time(row["completed_at"]),
        recording=codec.recording_from_dict(_load(row["recording"])),
        transcript=codec.transcript_from_dict(_load(row["transcript"])),
        analysis=codec.analysis_from_dict(_load(row["analysis"])),
        lead_score=codec.score_from_dict(_load(row["lead_score"])),
        crm_sync=codec.crm_from_dict(_load(row["crm_sync"])),
        failure=codec.failure_from_dict(_load(row["failure"])),
        timeline=codec.timeline_from_list(json.loads(row["timeline"])),
        lease_owner=row["lease_owner"],
        lease_expires_at=codec.parse_time(row["lease_expires_at"]),
        version=row["version"],
    )


@attrs.define
class _Known:
    """A stored version of a call and the result objects whose text that version holds."""

    version: int
    kept: tuple[object, ...]


# In place of the result objects when their text is not known: none is ever one of them, so
# the next update writes every column.
_TEXT_UNKNOWN: tuple[object, ...] = (object(),) * len(_KEPT)


class KnownCalls:
    """The versions this process last read or committed, for the most recent calls."""

    def __init__(self, size: int = 4096):
        self._size = size
        self._known: OrderedDict[tuple[str, str], _Known] = OrderedDict()

    def get(self, key: tuple[str, str]) -> _Known | None:
        return self._known.get(key)

    def remember(self, key: tuple[str, str], known: _Known) -> None:
        self._known[key] = known
        self._known.move_to_end(key)
        if len(self._known) > self._size:
            self._known.popitem(last=False)


# A None bound to a statement costs the sqlite3 module a failed adapter lookup (~0.4 us each;
# a new call has nine, ten without a recording): NULL is written in the statement's text
# instead, one text per pattern of NULLs, made once.


@functools.lru_cache(maxsize=128)
def _insert_sql(nulls: tuple[bool, ...]) -> str:
    values = ", ".join("NULL" if null else "?" for null in nulls)
    return (
        f"INSERT INTO calls ({', '.join(_ALL)}) VALUES ({values})"  # noqa: S608
        " ON CONFLICT (tenant_id, call_id) DO NOTHING"
    )


@functools.lru_cache(maxsize=512)
def _update_sql(columns: tuple[str, ...], nulls: tuple[bool, ...]) -> str:
    sets = ", ".join(
        f"{c} = NULL" if null else f"{c} = ?" for c, null in zip(columns, nulls, strict=True)
    )
    return (
        f"UPDATE calls SET {sets}"  # noqa: S608
        " WHERE tenant_id = ? AND call_id = ? AND version = ?"
    )


def _not_none(values: tuple[Any, ...]) -> tuple[tuple[bool, ...], tuple[Any, ...]]:
    """Which values are None, and the others (the ones to bind)."""
    # Lists first: a comprehension runs faster than a generator's resumptions in tuple().
    return tuple([v is None for v in values]), tuple([v for v in values if v is not None])


def _insert(call: Call) -> Callable[[sqlite3.Connection], None]:
    nulls, values = _not_none(
        (
            call.tenant_id,
            call.call_id,
            *_scalar_values(call, 1),
            *[_kept_value(column, call) for column in _KEPT],
        )
    )
    sql = _insert_sql(nulls)

    def insert(conn: sqlite3.Connection) -> None:
        try:
            cursor = conn.execute(sql, values)
        except sqlite3.IntegrityError:
            raise TenantNotFound(f"no tenant {call.tenant_id}") from None
        if cursor.rowcount != 1:
            raise ConcurrentUpdate(f"call {call.call_id} was stored meanwhile")

    return insert


def _update(call: Call, changed: Sequence[str]) -> Callable[[sqlite3.Connection], None]:
    columns = (*_SCALARS, *changed)
    nulls, values = _not_none(
        (
            *_scalar_values(call, call.version + 1),
            *[_kept_value(column, call) for column in changed],
        )
    )
    sql = _update_sql(columns, nulls)
    key = (call.tenant_id, call.call_id, call.version)

    def save(conn: sqlite3.Connection) -> None:
        if conn.execute(sql, (*values, *key)).rowcount == 1:
            return
        exists = conn.execute(
            "SELECT 1 FROM calls WHERE tenant_id = ? AND call_id = ?", key[:2]
        ).fetchone()
        if exists is None:
            raise CallNotFound(f"no call {call.call_id}")
        raise ConcurrentUpdate(f"call {call.call_id} changed since it was read")

    return save


class SqliteCallRepository(CallRepository):
    def __init__(self, session: Session, known: KnownCalls):
        self._s = session
        self._known = known
        self._written: dict[tuple[str, str], _Known] = {}  # by this unit, not yet committed

    async def add(self, call: Call) -> bool:
        """No read first: the INSERT goes with the commit, where a call stored meanwhile (or
        before) makes it raise ConcurrentUpdate, and a missing tenant TenantNotFound. A webhook
        is answered after one trip to SQLite instead of two; the rare repeat pays at commit.
        A call this process has seen stored is refused at once."""
        key = (call.tenant_id, call.call_id)
        if key in self._written or self._known.get(key) is not None:
            return False
        await self._s.defer(_insert(call))
        call.version = 1
        # Known afterwards by its key and version only. A call is updated after a read that
        # remembers its objects (a worker's first step), never straight after intake, and
        # keeping each new call's objects for that made every webhook leave ~8 objects behind
        # for the garbage collector to trace (young collections of 6-17 ms under load).
        self._remember_at_commit(call, keep_objects=False)
        return True

    async def get(self, tenant_id: str, call_id: str) -> Call | None:
        def select(conn: sqlite3.Connection) -> Call | None:
            row = conn.execute(
                "SELECT * FROM calls WHERE tenant_id = ? AND call_id = ?", (tenant_id, call_id)
            ).fetchone()
            return _call_from_row(row) if row else None

        call = await self._s.read(select)
        if call is not None and not self._s.read_only:
            self._known.remember((tenant_id, call_id), _Known(call.version, _kept_objects(call)))
        return call

    async def update(self, call: Call) -> None:
        key = (call.tenant_id, call.call_id)
        known = self._written.get(key)
        if known is None:
            known = self._known.get(key)
            if known is None or known.version != call.version:
                # Not known at this version: what is stored decides (no such call, or changed).
                known = await self._stored_version(call)
        if known.version != call.version:
            raise ConcurrentUpdate(f"call {call.call_id} changed since it was read")
        changed = [
            column
            for column, now, then in zip(_KEPT, _kept_objects(call), known.kept, strict=True)
            if now is not then
        ]
        await self._s.defer(_update(call, changed))
        call.version += 1
        # A call that has ended (completed or failed) is not updated again without a read
        # first (reprocessing reads it): its objects (transcript, analysis) need not be kept.
        self._remember_at_commit(call, keep_objects=not call.stage.terminal)

    def _remember_at_commit(self, call: Call, *, keep_objects: bool = True) -> None:
        key, known = (call.tenant_id, call.call_id), _Known(call.version, _kept_objects(call))
        self._written[key] = known  # for this unit: an update before its commit compares
        after = known if keep_objects else _Known(call.version, _TEXT_UNKNOWN)
        self._s.after_commit(lambda: self._known.remember(key, after))

    async def _stored_version(self, call: Call) -> _Known:
        """The call's stored version, nothing known of its text; CallNotFound if none."""

        def select(conn: sqlite3.Connection) -> int | None:
            row = conn.execute(
                "SELECT version FROM calls WHERE tenant_id = ? AND call_id = ?",
                (call.tenant_id, call.call_id),
            ).fetchone()
            return None if row is None else int(row[0])

        version = await self._s.read(select)
        if version is None:
            raise CallNotFound(f"no call {call.call_id}")
        return _Known(version, _TEXT_UNKNOWN)

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

        def select(conn: sqlite3.Connection) -> list[Call]:
            return [_call_from_row(r) for r in conn.execute(sql, (*params, limit + 1))]

        rows = await self._s.read(select)
        page = rows[:limit]
        more = len(rows) > limit
        next_cursor = encode_cursor(page[-1].received_at, page[-1].call_id) if more else None
        return CallPage(page, next_cursor)

    async def outcomes(self, tenant_id: str, since: datetime) -> Sequence[CallOutcome]:
        return await self._s.read(lambda conn: select_outcomes(conn, tenant_id, t(since)))

    async def extend_lease(self, tenant_id: str, call_id: str, owner: str, until: datetime) -> bool:
        def extend(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "UPDATE calls SET lease_expires_at = ?"
                " WHERE tenant_id = ? AND call_id = ? AND lease_owner = ?",
                (t(until), tenant_id, call_id, owner),
            )
            return cursor.rowcount == 1

        return await self._s.run(extend)

    async def stalled(self, updated_before: datetime, limit: int) -> Sequence[tuple[str, str]]:
        def select(conn: sqlite3.Connection) -> list[tuple[str, str]]:
            rows = conn.execute(
                "SELECT c.tenant_id, c.call_id FROM calls c"
                " WHERE c.stage NOT IN ('COMPLETED', 'FAILED') AND c.updated_at < ?"
                " AND NOT EXISTS (SELECT 1 FROM jobs j"
                "                 WHERE j.tenant_id = c.tenant_id AND j.call_id = c.call_id)"
                " ORDER BY c.updated_at LIMIT ?",
                (t(updated_before), limit),
            )
            return [(r[0], r[1]) for r in rows]

        return await self._s.read(select)
