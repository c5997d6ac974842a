"""Applies sql/sqlite/NNN_name.sql in order, once each, recorded in schema_migrations, in one
transaction on the writer thread; a second process waits for SQLite's write lock and then
finds the work done."""

from __future__ import annotations

import functools
import re
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import resources

from adapters.sqlite.database import SqliteDatabase

_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


# Read once: the files ship with the package, and the readiness check asks on every probe
# (from the event loop). Callers only read the list.
@functools.cache
def available_migrations() -> list[tuple[int, str, str]]:
    return sorted(
        (int(match.group(1)), item.name, item.read_text(encoding="utf-8"))
        for item in resources.files("sql").joinpath("sqlite").iterdir()
        if (match := _NAME.match(item.name))
    )


def _statements(script: str) -> list[str]:
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                statements.append(current.strip())
            current = ""
    if current.strip():
        raise ValueError(f"incomplete SQL statement at the end of a migration: {current[:60]!r}")
    return statements


def _apply(
    conn: sqlite3.Connection,
    migrations: list[tuple[int, str, str]],
    applying: Callable[[str], None] = lambda _: None,
) -> list[str]:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    applied_now = []
    for version, name, script in migrations:
        done = conn.execute("SELECT 1 FROM schema_migrations WHERE version = ?", (version,))
        if done.fetchone() is None:
            applying(name)
            for statement in _statements(script):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (version, name, datetime.now(UTC).isoformat()),
            )
            applied_now.append(name)
    return applied_now


async def migrate(
    db: SqliteDatabase,
    through: int | None = None,
    applying: Callable[[str], None] = lambda _: None,
) -> list[str]:
    """Returns the names of the migrations applied by this call: every one not yet applied, or
    those up to and including version `through` (an older schema, for upgrade tests).
    `applying` is told each name as its statements start (on the writer thread)."""
    migrations = [m for m in available_migrations() if through is None or m[0] <= through]
    # One transaction for all: a big table rebuilt may take longer than a webhook's write.
    return await db.write(lambda conn: _apply(conn, migrations, applying), wait=False)


async def pending_migrations(db: SqliteDatabase) -> list[str]:
    def check(conn: sqlite3.Connection) -> set[int]:
        exists = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_migrations'"
        ).fetchone()
        if exists is None:
            return set()
        return {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}

    applied = await db.read(check)
    return [name for version, name, _ in available_migrations() if version not in applied]
