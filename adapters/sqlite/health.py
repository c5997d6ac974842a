from __future__ import annotations

from adapters.sqlite.database import SqliteDatabase
from adapters.sqlite.migrations import pending_migrations
from domain.errors import StorageUnavailable
from ports.health import ComponentHealth, HealthProbe


class SqliteHealthProbe(HealthProbe):
    """Ready when the file reads, the schema is current and writes commit. After a failed
    write (disk full, file not writable) it tries a real write itself, so readiness comes
    back by itself once the fault is gone."""

    def __init__(self, db: SqliteDatabase):
        self._db = db

    async def check(self) -> ComponentHealth:
        try:
            pending = await pending_migrations(self._db)
            if not pending and self._db.write_failure is not None:
                await self._db.write(
                    lambda conn: conn.execute(
                        "INSERT INTO write_probe (id, n) VALUES (1, 1)"
                        " ON CONFLICT (id) DO UPDATE SET n = n + 1"
                    )
                )
        except StorageUnavailable as exc:
            return ComponentHealth("unhealthy", str(exc))
        if pending:
            return ComponentHealth("unhealthy", f"migrations not applied: {', '.join(pending)}")
        return ComponentHealth("healthy", "sqlite")
