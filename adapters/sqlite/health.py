from __future__ import annotations

import sqlite3

from adapters.sqlite.database import SqliteDatabase
from adapters.sqlite.migrations import pending_migrations
from domain.errors import StorageUnavailable
from ports.health import ComponentHealth, HealthProbe


class SqliteHealthProbe(HealthProbe):
    def __init__(self, db: SqliteDatabase):
        self._db = db

    async def check(self) -> ComponentHealth:
        try:
            await self._db.read(lambda conn: conn.execute("SELECT 1").fetchone())
            pending = await pending_migrations(self._db)
        except (StorageUnavailable, sqlite3.Error) as exc:
            return ComponentHealth("unhealthy", str(exc))
        if pending:
            return ComponentHealth("unhealthy", f"migrations not applied: {', '.join(pending)}")
        return ComponentHealth("healthy", "sqlite")
