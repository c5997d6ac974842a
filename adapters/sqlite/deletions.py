"""SQLite's record of deletions, and the tenant's erasure: every row held for it, at once."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime

from adapters.sqlite.session import Session
from domain import codec
from domain.retention import DeletionRecord
from ports.repositories import DeletionRepository

_t = codec.iso_microseconds
# Children first: each statement's count is what it removed, not what a cascade took.
_TENANT_ROWS = (
    ("jobs", "DELETE FROM jobs WHERE tenant_id = ?"),
    ("calls", "DELETE FROM calls WHERE tenant_id = ?"),
    ("api_keys", "DELETE FROM api_keys WHERE tenant_id = ?"),
    ("usage_days", "DELETE FROM usage_daily WHERE tenant_id = ?"),
    ("tenants", "DELETE FROM tenants WHERE tenant_id = ?"),
)


def delete_tenant_rows(conn: sqlite3.Connection, tenant_id: str) -> dict[str, int]:
    return {kind: conn.execute(sql, (tenant_id,)).rowcount for kind, sql in _TENANT_ROWS}


def _record_from_row(row: sqlite3.Row) -> DeletionRecord:
    return DeletionRecord(
        record_id=row["record_id"],
        at=datetime.fromisoformat(row["at"]),
        actor=row["actor"],
        action=row["action"],
        tenant_id=row["tenant_id"],
        subject=row["subject"],
        counts=json.loads(row["counts"]),
    )


class SqliteDeletionRepository(DeletionRepository):
    def __init__(self, session: Session):
        self._s = session

    async def add(self, record: DeletionRecord) -> None:
        values = (
            record.record_id,
            _t(record.at),
            record.actor,
            record.action,
            record.tenant_id,
            record.subject,
            json.dumps(dict(record.counts), sort_keys=True),
        )
        await self._s.defer(
            lambda conn: conn.execute("INSERT INTO deletions VALUES (?, ?, ?, ?, ?, ?, ?)", values)
        )

    async def list(
        self, tenant_id: str | None = None, limit: int = 100
    ) -> Sequence[DeletionRecord]:
        where = "" if tenant_id is None else " WHERE tenant_id = ?"
        params = () if tenant_id is None else (tenant_id,)
        return await self._s.all(
            f"SELECT * FROM deletions{where} ORDER BY at DESC, record_id LIMIT ?",  # noqa: S608
            (*params, limit),
            _record_from_row,
        )
