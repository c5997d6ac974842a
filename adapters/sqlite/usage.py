"""Usage totals in SQLite: one row a tenant a day, added to with an upsert."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import date

from adapters.sqlite.session import Session
from domain.errors import TenantNotFound
from domain.usage import DailyUsage, UsageDelta
from ports.repositories import UsageRepository

_COUNTS = ("audio_ms", "llm_tokens_in", "llm_tokens_out", "crm_api_calls", "stored_bytes")
_ADD = (
    f"INSERT INTO usage_daily (tenant_id, day, {', '.join(_COUNTS)})"  # noqa: S608 - constants
    " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant_id, day) DO UPDATE SET "
    + ", ".join(f"{c} = {c} + excluded.{c}" for c in _COUNTS)
)


def _counts(delta: UsageDelta) -> tuple[int, ...]:
    return (
        round(delta.audio_seconds * 1000),
        delta.llm_tokens_in,
        delta.llm_tokens_out,
        delta.crm_api_calls,
        delta.stored_bytes,
    )


def _daily_from_row(row: sqlite3.Row) -> DailyUsage:
    audio_ms, tokens_in, tokens_out, crm_calls, stored = row[1:]
    return DailyUsage(
        date.fromisoformat(row[0]),
        UsageDelta(audio_ms / 1000, tokens_in, tokens_out, crm_calls, stored),
    )


class SqliteUsageRepository(UsageRepository):
    def __init__(self, session: Session):
        self._s = session

    async def add(self, tenant_id: str, day: date, delta: UsageDelta) -> None:
        def upsert(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(_ADD, (tenant_id, day.isoformat(), *_counts(delta)))
            except sqlite3.IntegrityError:
                raise TenantNotFound(f"no tenant {tenant_id}") from None

        await self._s.defer(upsert)

    async def for_tenant(self, tenant_id: str, since_day: date) -> Sequence[DailyUsage]:
        def select(conn: sqlite3.Connection) -> list[DailyUsage]:
            rows = conn.execute(
                f"SELECT day, {', '.join(_COUNTS)} FROM usage_daily"  # noqa: S608 - constants
                " WHERE tenant_id = ? AND day >= ? ORDER BY day",
                (tenant_id, since_day.isoformat()),
            )
            return [_daily_from_row(r) for r in rows.fetchall()]

        return await self._s.read(select)
