"""The embedded store against a real file: migrations, pragmas, failure mapping, threads."""

from __future__ import annotations

import asyncio
import gc
import json
import sqlite3
import time
import weakref
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from adapters.sqlite.calls import json_text
from adapters.sqlite.database import SqliteDatabase
from adapters.sqlite.health import SqliteHealthProbe
from adapters.sqlite.migrations import available_migrations, migrate, pending_migrations
from adapters.sqlite.repositories import SqliteUnitOfWorkFactory
from domain import codec
from domain.call import Call
from domain.errors import ConcurrentUpdate, StorageUnavailable
from domain.jobs import Job
from domain.stages import Stage
from domain.tenant import parse_tenant
from domain.webhook import parse_incoming_call
from tests.support import callrail_body, tenant_document

FIRST = "001_initial.sql"


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[SqliteDatabase]:
    database = SqliteDatabase(str(tmp_path / "pipeline.db"))
    await database.open()
    try:
        yield database
    finally:
        await database.close()


async def test_migrate_applies_each_migration_once(db: SqliteDatabase) -> None:
    assert await migrate(db) == [name for _, name, _ in available_migrations()]
    assert await migrate(db) == []


async def test_schema_migrations_records_what_was_applied(db: SqliteDatabase) -> None:
    await migrate(db)

    rows = await db.read(
        lambda conn: conn.execute(
            "SELECT version, name, applied_at FROM schema_migrations ORDER BY version"
        ).fetchall()
    )

    assert [(r["version"], r["name"]) for r in rows] == [
        (version, name) for version, name, _ in available_migrations()
    ]
    assert (rows[0]["version"], rows[0]["name"]) == (1, FIRST)
    assert all(r["applied_at"] for r in rows)


async def test_pending_migrations_lists_what_migrate_will_apply(db: SqliteDatabase) -> None:
    assert await pending_migrations(db) == [name for _, name, _ in available_migrations()]
    assert FIRST in await pending_migrations(db)

    await migrate(db)

    assert await pending_migrations(db) == []


async def test_two_processes_migrating_at_once_apply_each_migration_once(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "shared.db")
    first, second = SqliteDatabase(path), SqliteDatabase(path)
    await first.open()
    await second.open()
    try:
        applied = await asyncio.gather(migrate(first), migrate(second))
        count = await first.read(
            lambda conn: conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0]
        )
    finally:
        await first.close()
        await second.close()

    assert sorted(applied[0] + applied[1]) == [name for _, name, _ in available_migrations()]
    assert count == len(available_migrations())


async def test_the_writer_runs_in_wal_mode_with_foreign_keys(db: SqliteDatabase) -> None:
    journal_mode = await db.write(lambda conn: conn.execute("PRAGMA journal_mode").fetchone()[0])
    foreign_keys = await db.write(lambda conn: conn.execute("PRAGMA foreign_keys").fetchone()[0])

    assert journal_mode == "wal"
    assert foreign_keys == 1


async def test_foreign_keys_are_enforced(db: SqliteDatabase) -> None:
    await migrate(db)

    def orphan_key(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT INTO api_keys (key_hash, tenant_id, hint, created_at)"
            " VALUES ('h', 'no-such-tenant', 'ipk_', '2026-01-01T00:00:00.000000+00:00')"
        )

    with pytest.raises(sqlite3.IntegrityError):
        await db.write(orphan_key)


def _under_a_regular_file(tmp_path: Path) -> Path:
    blocker = tmp_path / "file.txt"
    blocker.write_text("a regular file where a directory should be", encoding="utf-8")
    return blocker / "db.sqlite"


def _a_directory(tmp_path: Path) -> Path:
    folder = tmp_path / "a-directory.db"
    folder.mkdir()
    return folder


@pytest.mark.parametrize("where", [_under_a_regular_file, _a_directory])
async def test_an_unopenable_path_raises_storage_unavailable(
    tmp_path: Path, where: Callable[[Path], Path]
) -> None:
    db = SqliteDatabase(str(where(tmp_path)))

    async def open_and_use() -> None:
        await db.open()
        await migrate(db)

    try:
        # On open or, at the latest, on first use: never a raw OSError or sqlite3 error.
        with pytest.raises(StorageUnavailable):
            await open_and_use()
    finally:
        await db.close()
    assert not db.is_open


async def test_an_unopened_database_raises_storage_unavailable(tmp_path: Path) -> None:
    db = SqliteDatabase(str(tmp_path / "never-opened.db"))

    with pytest.raises(StorageUnavailable):
        await db.write(lambda conn: conn.execute("SELECT 1").fetchone())
    with pytest.raises(StorageUnavailable):
        await db.read(lambda conn: conn.execute("SELECT 1").fetchone())


async def test_open_creates_missing_parent_directories(tmp_path: Path) -> None:
    path = tmp_path / "data" / "nested" / "pipeline.db"
    db = SqliteDatabase(str(path))
    await db.open()
    try:
        await migrate(db)
    finally:
        await db.close()

    assert path.is_file()


async def test_health_probe_is_unhealthy_until_migrated(db: SqliteDatabase) -> None:
    probe = SqliteHealthProbe(db)

    before = await probe.check()
    await migrate(db)
    after = await probe.check()

    assert before.status == "unhealthy"
    assert before.detail is not None
    assert FIRST in before.detail
    assert after.status == "healthy"


async def test_health_probe_is_unhealthy_when_closed(db: SqliteDatabase) -> None:
    await migrate(db)
    await db.close()

    assert (await SqliteHealthProbe(db).check()).status == "unhealthy"


async def test_committed_data_survives_a_restart(tmp_path: Path) -> None:
    path = str(tmp_path / "durable.db")
    tenant = parse_tenant(tenant_document("acme"), now=datetime(2026, 1, 1, tzinfo=UTC))
    first = SqliteDatabase(path)
    await first.open()
    try:
        await migrate(first)
        async with SqliteUnitOfWorkFactory(first)() as uow:
            await uow.tenants.add(tenant)
            await uow.commit()
    finally:
        await first.close()

    second = SqliteDatabase(path)
    await second.open()
    try:
        assert await migrate(second) == []
        async with SqliteUnitOfWorkFactory(second)(read_only=True) as uow:
            found = await uow.tenants.get("acme")
    finally:
        await second.close()

    assert found == tenant


async def test_a_slow_write_does_not_block_the_event_loop(db: SqliteDatabase) -> None:
    def slow(conn: sqlite3.Connection) -> int:
        time.sleep(0.3)  # stands in for a slow disk; runs on the writer thread
        return int(conn.execute("SELECT 1").fetchone()[0])

    ticks = 0
    write = asyncio.ensure_future(db.write(slow))
    while not write.done():
        await asyncio.sleep(0.01)
        ticks += 1

    assert await write == 1
    # 0.3 s of 10 ms sleeps is ~30 ticks; a blocked loop would manage one or two.
    assert ticks >= 10


async def test_a_unit_of_work_keeps_no_call_in_memory_once_it_ends(db: SqliteDatabase) -> None:
    """Intake stores calls all day: nothing of a stored or updated call may stay referenced
    once its unit of work has ended (a leak the garbage collector would trace forever)."""
    await migrate(db)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    factory = SqliteUnitOfWorkFactory(db)
    async with factory() as uow:
        await uow.tenants.add(parse_tenant(tenant_document("acme"), now=at))
        await uow.commit()
    payload = json.loads(callrail_body("CAL1", tenant_id="acme"))
    call = Call.receive("acme", parse_incoming_call(payload), at)
    call_id, metadata = call.call_id, weakref.ref(call.metadata)
    async with factory() as uow:
        assert await uow.calls.add(call)
        await uow.commit()
    del call, uow
    await db.read(lambda conn: None)  # let the writer thread go back to waiting
    gc.collect()
    assert metadata() is None, "the stored call's metadata is still referenced"

    async with factory() as uow:
        stored = await uow.calls.get("acme", call_id)
        assert stored is not None
        stored.fail(Stage.RECORDING_STORED, "the recording is gone", at)
        await uow.calls.update(stored)
        await uow.commit()
    assert stored.failure is not None
    failure = weakref.ref(stored.failure)
    del stored, uow
    gc.collect()
    assert failure() is None, "the ended call's failure is still referenced"

    async with factory(read_only=True) as uow:
        again = await uow.calls.get("acme", call_id)
    assert again is not None
    assert again.failure is not None
    assert (again.failure.reason, again.version) == ("the recording is gone", 2)


_ROWS = {
    "calls": "SELECT * FROM calls ORDER BY tenant_id, call_id",
    "jobs": "SELECT * FROM jobs ORDER BY job_id",
}


def _table_rows(conn: sqlite3.Connection, table: str) -> list[dict[str, object]]:
    return [dict(row) for row in conn.execute(_ROWS[table])]


def _table_shape(conn: sqlite3.Connection, table: str) -> dict[str, object]:
    indexes = {
        row["name"]: [
            (column["name"], column["desc"])
            for column in conn.execute(f"PRAGMA index_xinfo({row['name']})")
            if column["key"]
        ]
        for row in conn.execute(f"PRAGMA index_list({table})")
    }
    return {
        "columns": [tuple(row) for row in conn.execute(f"PRAGMA table_xinfo({table})")],
        "foreign_keys": [
            tuple(row)[2:] for row in conn.execute(f"PRAGMA foreign_key_list({table})")
        ],
        # The primary key's own index is named by SQLite; its columns are what must not change.
        "indexes": sorted(
            (name if not name.startswith("sqlite_autoindex") else "primary key", columns)
            for name, columns in indexes.items()
        ),
    }


async def test_upgrading_to_rowid_calls_keeps_every_call_and_job(db: SqliteDatabase) -> None:
    """003 rebuilds calls (and jobs, which refer to it) on a database already in use: every
    call and every queued job, claimed or retried, is still there afterwards, with the same
    columns, keys, indexes and cascades."""
    await migrate(db, through=2)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    factory = SqliteUnitOfWorkFactory(db)

    companies = {"acme": "111", "beta": "222"}

    def received(call_id: str, tenant_id: str) -> Call:
        payload = json.loads(callrail_body(call_id, companies[tenant_id]))
        return Call.receive(tenant_id, parse_incoming_call(payload), at)

    first, ended, other = received("1", "acme"), received("2", "acme"), received("3", "beta")
    ended.fail(Stage.RECORDING_STORED, "the recording is gone", at)

    def stored_as_then(conn: sqlite3.Connection, call: Call) -> None:
        """The call's row in the columns the schema had then (later ones added since)."""
        row = {**codec.call_row(call, time=codec.iso_microseconds, json=json_text), "version": 1}
        columns = [c[1] for c in conn.execute("PRAGMA table_info(calls)")]
        marks = ", ".join("?" * len(columns))
        sql = f"INSERT INTO calls ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608
        conn.execute(sql, [row[c] for c in columns])

    async with factory() as uow:
        for tenant_id, company_id in companies.items():
            await uow.tenants.add(parse_tenant(tenant_document(tenant_id, company_id), now=at))
        await uow.commit()

    def store_all(conn: sqlite3.Connection) -> None:
        for call in (first, ended, other):
            stored_as_then(conn, call)

    await db.write(store_all)
    async with factory() as uow:
        for call in (first, other):
            job = Job(f"job-{call.call_id}", call.tenant_id, call.call_id, at, {"traceparent": "x"})
            await uow.jobs.add(job, due_at=at)
        await uow.commit()
    async with factory() as uow:
        claimed = await uow.jobs.claim_due(at, "worker-1", 30.0, 1)
        await uow.jobs.reschedule(claimed[0].job_id, at, "CRM answered 503")
        await uow.jobs.claim_due(at, "worker-2", 30.0, 2)
        await uow.commit()

    def snapshot(conn: sqlite3.Connection) -> dict[str, Any]:
        return {
            "calls": _table_rows(conn, "calls"),
            "jobs": _table_rows(conn, "jobs"),
            "calls shape": _table_shape(conn, "calls"),
            "jobs shape": _table_shape(conn, "jobs"),
        }

    before = await db.read(snapshot)
    assert await migrate(db, through=3) == ["003_calls_rowid.sql"]
    after = await db.read(snapshot)

    assert [len(before["calls"]), len(before["jobs"])] == [3, 2]
    assert after == before
    checks = await db.read(
        lambda conn: (
            conn.execute("PRAGMA integrity_check").fetchall()[0][0],
            conn.execute("PRAGMA foreign_key_check").fetchall(),
            conn.execute("SELECT count(*) FROM calls WHERE rowid > 0").fetchone()[0],
        )
    )
    assert checks == ("ok", [], 3), "calls is a rowid table now, consistent, nothing orphaned"
    await migrate(db)  # the columns added since, which the repository writes

    async def add_call_1_again() -> None:
        async with factory() as uow:
            if await uow.calls.add(received("1", "acme")):
                await uow.commit()

    with pytest.raises(ConcurrentUpdate):  # the primary key still refuses a second call 1
        await add_call_1_again()
    await db.write(lambda conn: conn.execute("DELETE FROM tenants WHERE tenant_id = 'acme'"))
    left = await db.read(
        lambda conn: (
            [tuple(r) for r in conn.execute("SELECT tenant_id, call_id FROM calls")],
            [r[0] for r in conn.execute("SELECT job_id FROM jobs")],
        )
    )
    assert left == ([("beta", other.call_id)], [f"job-{other.call_id}"])
