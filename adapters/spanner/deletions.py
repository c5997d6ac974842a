"""Spanner's record of deletions, and the deletes of a call or a tenant: counted when they are
asked for, written at commit. A call's row takes its jobs and version rows with it, a tenant's
everything interleaved under it (API keys, calls, usage entries): each is one mutation, plus
the secondary index entries of the rows it removes, so a tenant's calls go first, a page at a
time (domain/usecases/erasure.py), and its own row last."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from adapters.spanner import rows
from adapters.spanner.database import Mutations, Row
from domain.retention import DeletionRecord
from ports.repositories import DeletionRepository

if TYPE_CHECKING:  # staging imports write_deletes from here (through commit)
    from adapters.spanner.staging import Session

COLUMNS = (
    "record_id",
    "deleted_at",
    "actor",
    "action",
    "tenant_id",
    "subject",
    "counts",
    "committed_at",
)
_SELECT = ", ".join(COLUMNS[:-1])
CALL_COUNTS = (
    "SELECT (SELECT COUNT(*) FROM calls WHERE tenant_id = @tenant AND call_id = @call),"
    " (SELECT COUNT(*) FROM jobs WHERE tenant_id = @tenant AND call_id = @call)"
)
TENANT_COUNTS = (
    "SELECT (SELECT COUNT(*) FROM tenants WHERE tenant_id = @tenant),"
    " (SELECT COUNT(*) FROM calls WHERE tenant_id = @tenant),"
    " (SELECT COUNT(*) FROM jobs WHERE tenant_id = @tenant),"
    " (SELECT COUNT(*) FROM api_keys WHERE tenant_id = @tenant),"
    " (SELECT COUNT(DISTINCT day) FROM usage_entries WHERE tenant_id = @tenant)"
)
TENANT_KINDS = ("tenants", "calls", "jobs", "api_keys", "usage_days")
_FINISHED = "tenant_id = @tenant AND call_id > @after AND stage IN ('COMPLETED', 'FAILED')"
_HOLDS_AUDIO = "(recording IS NOT NULL OR recording_url IS NOT NULL)"
_HOLDS_CONTENT = (
    "(transcript IS NOT NULL OR analysis IS NOT NULL OR TO_JSON_STRING(raw_payload) != '{}'"
    " OR EXISTS (SELECT 1 FROM UNNEST(JSON_QUERY_ARRAY(lead_score, '$.reasons')) AS r"
    "  WHERE JSON_VALUE(r, '$.detail') != '' OR JSON_VALUE(r, '$.quote') IS NOT NULL))"
)


def expirable_query(
    recordings_before: datetime | None, content_before: datetime | None
) -> tuple[str | None, dict[str, Any]]:
    """domain/retention.py's expiry_of in GoogleSQL, with only the cutoffs given (a NULL
    parameter would need a type of its own); None when there is none."""
    terms: list[str] = []
    params: dict[str, Any] = {}
    if recordings_before is not None:
        terms.append(f"(received_at < @audio AND {_HOLDS_AUDIO})")
        params["audio"] = recordings_before
    if content_before is not None:
        terms.append(f"(received_at < @content AND {_HOLDS_CONTENT})")
        params["content"] = content_before
    if not terms:
        return None, params
    sql = (
        f"SELECT call_id FROM calls WHERE {_FINISHED} AND ({' OR '.join(terms)})"  # noqa: S608
        " ORDER BY call_id LIMIT @limit"
    )
    return sql, params


def write_deletes(
    m: Mutations,
    calls: Sequence[tuple[str, str]],
    tenants: Sequence[str],
    records: Sequence[DeletionRecord],
) -> None:
    """Mutations only. Deleting a row that is not there is no error."""
    if calls:
        m.delete("calls", [list(key) for key in calls])
    if tenants:
        m.delete("tenants", [[tenant_id] for tenant_id in tenants])
    if records:
        m.insert("deletions", COLUMNS, [_values(r) for r in records])


def _values(record: DeletionRecord) -> list[Any]:
    return [
        record.record_id,
        record.at,
        record.actor,
        record.action,
        record.tenant_id,
        record.subject,
        rows.to_json(dict(record.counts)),
        rows.COMMIT_TIMESTAMP,
    ]


def _record_from_row(row: Row) -> DeletionRecord:
    counts = rows.from_json(row[6]) or {}
    return DeletionRecord(
        record_id=row[0],
        at=rows.utc(row[1]),
        actor=row[2],
        action=row[3],
        tenant_id=row[4],
        subject=row[5],
        counts={kind: int(n) for kind, n in counts.items()},
    )


class SpannerDeletionRepository(DeletionRepository):
    def __init__(self, session: Session):
        self._s = session

    async def add(self, record: DeletionRecord) -> None:
        self._s.writable().deletions.append(record)

    async def list(
        self, tenant_id: str | None = None, limit: int = 100
    ) -> Sequence[DeletionRecord]:
        if tenant_id is None:
            found = await self._s.query(
                f"SELECT {_SELECT} FROM deletions@{{FORCE_INDEX=deletions_by_time}}"  # noqa: S608
                " ORDER BY deleted_at DESC, record_id LIMIT @limit",
                limit=limit,
            )
        else:
            found = await self._s.query(
                f"SELECT {_SELECT} FROM deletions@{{FORCE_INDEX=deletions_by_tenant}}"  # noqa: S608
                " WHERE tenant_id = @tenant ORDER BY deleted_at DESC, record_id LIMIT @limit",
                tenant=tenant_id,
                limit=limit,
            )
        records = [*map(_record_from_row, found)]
        records += [r for r in self._s.staged.deletions if tenant_id in (None, r.tenant_id)]
        records.sort(key=lambda r: r.record_id)
        return sorted(records, key=lambda r: r.at, reverse=True)[:limit]  # as the query orders
