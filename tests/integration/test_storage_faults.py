"""The embedded store under faults, through the running service: a row that cannot be read
back, a database that cannot be written. Each fails what it must (one call, one request)
and nothing else, and the service comes back by itself."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

from adapters.sqlite.database import SqliteDatabase
from adapters.sqlite.migrations import migrate
from tests.integration.pipeline_service import OPERATOR, PipelineService, pipeline_service

COMPANY = "300100"


async def stage_of(service: PipelineService, call_id: str) -> tuple[int, str | None]:
    async with service.http.get(
        f"{service.url}/v1/tenants/acme/calls/{call_id}", headers=OPERATOR
    ) as r:
        return r.status, (await r.json())["stage"] if r.status == 200 else None


def store_unreadable_copy(db_path: Path, of_call: str, call_id: str) -> None:
    """What intake stored before it refused deeply nested bodies: a row json.loads cannot read
    back, with a job waiting for it."""
    with sqlite3.connect(db_path) as conn:
        columns = [r[1] for r in conn.execute("PRAGMA table_info(calls)")]
        row = dict(
            zip(
                columns,
                conn.execute("SELECT * FROM calls WHERE call_id = ?", (of_call,)).fetchone(),
                strict=True,
            )
        )
        row.update(
            call_id=call_id,
            stage="RECEIVED",
            raw_payload="[" * 5000 + "]" * 5000,
            completed_at=None,
            timeline="[]",
        )
        conn.execute(
            f"INSERT INTO calls ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",  # noqa: S608
            list(row.values()),
        )
        conn.execute(
            "INSERT INTO jobs (job_id, tenant_id, call_id, enqueued_at, due_at)"
            " VALUES ('job-deep', 'acme', ?, ?, ?)",
            (call_id, row["received_at"], row["received_at"]),
        )


async def test_an_unreadable_row_fails_that_call_alone(tmp_path: Path) -> None:
    async with pipeline_service(tmp_path) as service:
        await service.create_tenant("acme", COMPANY, crm="none")
        await service.post_call("acme", COMPANY, "CALFIRST", recorded=False)
        assert await service.wait_until_done("acme", ["CALFIRST"], 30) == {"CALFIRST": "COMPLETED"}
        store_unreadable_copy(tmp_path / "pipeline.db", "CALFIRST", "CALDEEP")

        status, body = await service.get("/v1/tenants/acme/calls?limit=50", OPERATOR)
        assert status == 200, body
        assert await stage_of(service, "CALDEEP") == (200, "FAILED")
        async with service.http.get(
            f"{service.url}/v1/tenants/acme/calls/CALDEEP", headers=OPERATOR
        ) as r:
            assert "could not be read back" in (await r.json())["failure"]["reason"]

        # A call accepted afterwards is readable at once and processed within seconds.
        await service.post_call("acme", COMPANY, "CALAFTER", recorded=False)
        assert await stage_of(service, "CALAFTER") != (404, None)
        assert await service.wait_until_done("acme", ["CALAFTER"], 10) == {"CALAFTER": "COMPLETED"}
        with sqlite3.connect(tmp_path / "pipeline.db") as conn:
            left = conn.execute("SELECT stage FROM calls WHERE call_id = 'CALDEEP'").fetchone()
        assert left == ("FAILED",), "failed in place, so the sweep does not bring it back"


async def test_a_read_that_fails_midway_leaves_no_reader_on_an_old_snapshot(
    tmp_path: Path,
) -> None:
    db = SqliteDatabase(str(tmp_path / "snap.db"), readers=1)
    await db.open()
    try:
        await db.write(lambda conn: conn.execute("CREATE TABLE t (n INTEGER)"))
        await db.write(lambda conn: conn.executemany("INSERT INTO t VALUES (?)", [(1,), (2,)]))

        def fail_midway(conn: sqlite3.Connection) -> None:
            rows = conn.execute("SELECT n FROM t")
            rows.fetchone()
            raise ValueError("a row that cannot be decoded")

        failed = None
        try:
            await db.read(fail_midway)
        except ValueError as exc:
            failed = exc  # kept, as a logged traceback keeps its frames
        assert failed is not None
        await db.write(lambda conn: conn.execute("INSERT INTO t VALUES (3)"))

        seen = await db.read(lambda conn: conn.execute("SELECT count(*) FROM t").fetchone()[0])
        assert seen == 3
    finally:
        await db.close()


async def test_the_database_files_are_readable_by_their_owner_alone(tmp_path: Path) -> None:
    """They hold tenants' inline signing keys and CRM tokens: with the usual umask (022) the
    database file and its write-ahead log and shared-memory files are created 0600."""
    old_umask = os.umask(0o022)
    try:
        db = SqliteDatabase(str(tmp_path / "private.db"))
        await db.open()
        try:
            await migrate(db)
            files = [tmp_path / name for name in ("private.db", "private.db-wal", "private.db-shm")]
            modes = {f.name: stat.S_IMODE(f.stat().st_mode) for f in files}
        finally:
            await db.close()
    finally:
        os.umask(old_umask)
    assert modes == {f.name: 0o600 for f in files}
