"""What a unit of work's repositories share: the database, the mode, the buffer of writes.

Spanner lets a read-write transaction hold locks only while it is short (and the emulator runs
one at a time), so a unit of work does not keep one open across the caller's awaits. Its reads
are strong snapshot reads seen through the buffer of its own writes; its writes wait in the
buffer, and commit() sends them at once (commit.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from adapters.spanner import rows
from adapters.spanner.buffer import CallKey, Known, Staged
from adapters.spanner.commit import apply, refusal, write
from adapters.spanner.database import Params, Row, SpannerDatabase
from domain.errors import DomainError
from domain.tenant import Tenant


class Session:
    """What a unit of work's repositories share: the database, its mode, its buffer, and the
    tenants its reads of calls brought along."""

    def __init__(
        self, db: SpannerDatabase, read_only: bool, staleness: timedelta | None, known: Known
    ):
        self.db = db
        self.read_only = read_only
        self.known = known
        self._staleness = staleness
        self.staged = Staged()
        self.tenants_read: dict[str, Tenant] = {}

    async def query(self, sql: str, *, stale_ok: bool = False, **params: Any) -> list[Row]:
        """A strong read; `stale_ok` reads of a read-only unit of work may be bounded-stale."""
        values, types = rows.bind(**params)
        staleness = self._staleness if stale_ok and self.read_only else None
        return await self.db.query(sql, values, types, staleness=staleness)

    def writable(self) -> Staged:
        if self.read_only:
            raise RuntimeError("a read-only unit of work cannot write")
        return self.staged

    async def commit(self) -> None:
        if self.read_only:
            raise RuntimeError("a read-only unit of work cannot commit")
        staged = self.staged
        if not staged.empty:
            try:
                if not (staged.blind and await self.db.write(lambda m: write(m, staged))):
                    await self.db.transact(
                        lambda tx: apply(tx, staged), lambda exc: refusal(exc, staged)
                    )
            except DomainError:
                self.known.forget(list(staged.calls))
                raise
            self.known.committed(staged)
        self.staged = Staged()

    def discard(self) -> None:
        self.staged = Staged()


def exclude(column: str, values: Sequence[str], name: str, params: Params) -> str:
    """` AND column NOT IN UNNEST(@name)` for the rows the buffer overrides, or nothing."""
    if not values:
        return ""
    params[name] = list(values)
    return f" AND {column} NOT IN UNNEST(@{name})"


def any_call(keys: Sequence[CallKey], params: Params, prefix: str = "") -> str:
    """`((tenant_id = @k0t AND call_id = @k0c) OR ...)` for a few (tenant, call) keys."""
    terms = []
    for i, (tenant_id, call_id) in enumerate(keys):
        params[f"k{i}t"], params[f"k{i}c"] = tenant_id, call_id
        terms.append(f"({prefix}tenant_id = @k{i}t AND {prefix}call_id = @k{i}c)")
    return "(" + " OR ".join(terms) + ")"
