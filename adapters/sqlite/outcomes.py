"""The stats projection of calls: a few columns and JSON fields per call, never the transcript
or the payload, read through the calls_by_time index."""

from __future__ import annotations

import sqlite3

from domain import codec
from domain.results import SyncStatus, Tier
from domain.stages import Stage
from domain.stats import CallOutcome

_SELECT = (
    "SELECT call_id, stage, received_at, completed_at, json_extract(failure, '$.stage'),"
    " json_extract(lead_score, '$.tier'), json_extract(crm_sync, '$.type'),"
    " json_extract(crm_sync, '$.status')"
    " FROM calls WHERE tenant_id = ? AND received_at >= ?"
)


def _outcome_from_row(row: sqlite3.Row) -> CallOutcome:
    received_at = codec.parse_time(row[2])
    assert received_at is not None
    return CallOutcome(
        call_id=row[0],
        stage=Stage(row[1]),
        received_at=received_at,
        completed_at=codec.parse_time(row[3]),
        failed_stage=Stage(row[4]) if row[4] else None,
        tier=Tier(row[5]) if row[5] else None,
        crm_type=row[6],
        crm_status=SyncStatus(row[7]) if row[7] else None,
    )


def select_outcomes(conn: sqlite3.Connection, tenant_id: str, since: str) -> list[CallOutcome]:
    """`since` in the table's time format."""
    return [_outcome_from_row(r) for r in conn.execute(_SELECT, (tenant_id, since))]
