"""Usage in Spanner, seen through the unit of work's buffer.

A unit of work adds its deltas up in the buffer; its commit inserts them as one entry per
(tenant, day) under an id of its own, without reading anything (the insert is re-applied as is
if Spanner re-runs the transaction). A day's totals are the sum of its entries."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from adapters.spanner.database import Mutations, Row
from adapters.spanner.rows import COMMIT_TIMESTAMP
from domain.usage import DailyUsage, UsageDelta
from ports.repositories import UsageRepository

if TYPE_CHECKING:  # staging imports write_usage from here
    from adapters.spanner.staging import Session

UsageKey = tuple[str, date]
COUNTS = ("audio_ms", "llm_tokens_in", "llm_tokens_out", "crm_api_calls", "stored_bytes")
COLUMNS = ("tenant_id", "day", "entry_id", *COUNTS, "committed_at")


def new_entry_id() -> str:
    return uuid.uuid4().hex


def _counts(delta: UsageDelta) -> list[int]:
    return [
        round(delta.audio_seconds * 1000),
        delta.llm_tokens_in,
        delta.llm_tokens_out,
        delta.crm_api_calls,
        delta.stored_bytes,
    ]


def _delta_from_counts(counts: Sequence[Any]) -> UsageDelta:
    audio_ms, tokens_in, tokens_out, crm_calls, stored = (int(c) for c in counts)
    return UsageDelta(audio_ms / 1000, tokens_in, tokens_out, crm_calls, stored)


def write_usage(tx: Mutations, usage: Mapping[UsageKey, UsageDelta], entry_id: str) -> None:
    """The buffered deltas as new entries. Mutations only: no round trip of its own."""
    entries = [
        [tenant_id, day, entry_id, *_counts(delta), COMMIT_TIMESTAMP]
        for (tenant_id, day), delta in usage.items()
        if delta
    ]
    if entries:
        tx.insert("usage_entries", COLUMNS, entries)


def _daily_from_row(row: Row) -> DailyUsage:
    return DailyUsage(row[0], _delta_from_counts(row[1:]))


class SpannerUsageRepository(UsageRepository):
    def __init__(self, session: Session):
        self._s = session

    async def add(self, tenant_id: str, day: date, delta: UsageDelta) -> None:
        staged = self._s.writable()
        key = (tenant_id, day)
        staged.usage[key] = staged.usage.get(key, UsageDelta()) + delta

    async def for_tenant(self, tenant_id: str, since_day: date) -> Sequence[DailyUsage]:
        sums = ", ".join(f"SUM({c})" for c in COUNTS)
        found = await self._s.query(
            f"SELECT day, {sums} FROM usage_entries"  # noqa: S608 - constants only
            " WHERE tenant_id = @tenant AND day >= @since GROUP BY day",
            stale_ok=True,
            tenant=tenant_id,
            since=since_day,
        )
        by_day = {d.day: d.totals for d in map(_daily_from_row, found)}
        for (tenant, day), delta in self._s.staged.usage.items():
            if tenant == tenant_id and day >= since_day and delta:
                by_day[day] = by_day.get(day, UsageDelta()) + delta
        return [DailyUsage(day, by_day[day]) for day in sorted(by_day)]
