"""How deletions are shown, on the command line and over HTTP."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.retention import DeletionRecord


def counts_line(counts: Mapping[str, int]) -> str:
    """`1 call(s), 2 job(s), 3 object(s)`: what went, the kinds with none left out."""
    shown = [
        f"{n} {kind.rstrip('s').replace('_', ' ')}(s)" for kind, n in sorted(counts.items()) if n
    ]
    return ", ".join(shown) or "nothing was left"


def deletion_view(record: DeletionRecord) -> dict[str, Any]:
    return {
        "record_id": record.record_id,
        "at": record.at.isoformat(),
        "actor": record.actor,
        "action": record.action,
        "tenant_id": record.tenant_id,
        "subject": record.subject,
        "counts": dict(record.counts),
    }
