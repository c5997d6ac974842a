"""The in-memory record of deletions."""

from __future__ import annotations

from collections.abc import Sequence

from domain.retention import DeletionRecord
from ports.repositories import DeletionRepository


class InMemoryDeletionRepository(DeletionRepository):
    def __init__(self, records: list[DeletionRecord]):
        self._records = records

    async def add(self, record: DeletionRecord) -> None:
        self._records.append(record)

    async def list(
        self, tenant_id: str | None = None, limit: int = 100
    ) -> Sequence[DeletionRecord]:
        found = [r for r in self._records if tenant_id in (None, r.tenant_id)]
        return sorted(found, key=lambda r: r.at, reverse=True)[:limit]
