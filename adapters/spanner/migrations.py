"""Applies sql/spanner/NNN_name.sql in order, once each, recorded in SchemaMigrations.

Spanner cannot change the schema and write a row in one transaction, so each file's DDL is
submitted under an operation id named after it: a second runner, or a run after a crash between
the DDL and its tracking row, finds that operation (Spanner refuses a second one with that id),
waits for it, and records the file as applied instead of applying it twice."""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable
from importlib import resources

from google.api_core import exceptions as api_exceptions
from google.cloud import spanner
from google.cloud.spanner_v1.database import Database

from adapters.spanner.database import SpannerDatabase

_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")
_TRACKING = (
    "CREATE TABLE SchemaMigrations ("
    " version INT64 NOT NULL,"
    " name STRING(MAX) NOT NULL,"
    " applied_at TIMESTAMP NOT NULL OPTIONS (allow_commit_timestamp = true)"
    ") PRIMARY KEY (version)"
)
DDL_TIMEOUT_S = 300.0


# Read once: the files ship with the package, and the readiness check asks on every probe
# (from the event loop). Callers only read the list.
@functools.cache
def available_migrations() -> list[tuple[int, str, list[str]]]:
    folder = resources.files("sql").joinpath("spanner")
    found = []
    for item in folder.iterdir():
        match = _NAME.match(item.name)
        if match:
            found.append((int(match.group(1)), item.name, statements(item.read_text("utf-8"))))
    found.sort()
    return found


def statements(script: str) -> list[str]:
    """The script's statements without comments, split on the ';' outside quotes."""
    out, current, quote, i = [], [], "", 0
    while i < len(script):
        char = script[i]
        if quote:
            current.append(char)
            if char == quote:
                quote = ""
        elif char in "'\"`":
            quote = char
            current.append(char)
        elif script.startswith("--", i) or char == "#":
            end = script.find("\n", i)
            i = len(script) if end < 0 else end
            continue
        elif char == ";":
            out.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    out.append("".join(current))
    return [" ".join(s.split()) for s in out if s.strip()]


def _operation_id(name: str) -> str:
    return "migration_" + re.sub(r"[^a-z0-9_]", "_", name.removesuffix(".sql").lower())


def _submit(database: Database, ddl: list[str], operation_id: str) -> None:
    try:
        operation = database.update_ddl(ddl, operation_id=operation_id)  # type: ignore[no-untyped-call]
        operation.result(DDL_TIMEOUT_S)
    except api_exceptions.AlreadyExists:
        _wait_for(database, operation_id)


def _wait_for(database: Database, operation_id: str) -> None:
    """Another runner submitted this DDL: wait until it is done, and fail as it failed."""
    project = database.name.split("/")[1]
    admin = spanner.Client(project=project).database_admin_api
    name = f"{database.name}/operations/{operation_id}"
    deadline = time.monotonic() + DDL_TIMEOUT_S
    while True:
        operation = admin.get_operation({"name": name})
        if operation.done:
            if operation.error.code:
                raise RuntimeError(f"schema change {operation_id} failed: {operation.error}")
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"schema change {operation_id} is still running")
        time.sleep(0.5)


def _tables(database: Database) -> set[str]:
    with database.snapshot() as snapshot:  # type: ignore[no-untyped-call]
        found = snapshot.execute_sql(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ''"
        )
        return {row[0] for row in found}


def _applied(database: Database) -> set[int]:
    if "SchemaMigrations" not in _tables(database):
        return set()
    with database.snapshot() as snapshot:  # type: ignore[no-untyped-call]
        return {row[0] for row in snapshot.execute_sql("SELECT version FROM SchemaMigrations")}


def _apply(
    database: Database,
    migrations: list[tuple[int, str, list[str]]],
    applying: Callable[[str], None] = lambda _: None,
) -> list[str]:
    if "SchemaMigrations" not in _tables(database):
        _submit(database, [_TRACKING], "schema_migrations_table")
    applied, applied_now = _applied(database), []
    for version, name, ddl in migrations:
        if version in applied:
            continue
        applying(name)
        _submit(database, ddl, _operation_id(name))

        def record(txn: object, version: int = version, name: str = name) -> None:
            txn.insert_or_update(  # type: ignore[attr-defined]
                "SchemaMigrations",
                ["version", "name", "applied_at"],
                [[version, name, "spanner.commit_timestamp()"]],
            )

        database.run_in_transaction(record)  # type: ignore[no-untyped-call]
        applied_now.append(name)
    return applied_now


async def migrate(
    db: SpannerDatabase, applying: Callable[[str], None] = lambda _: None
) -> list[str]:
    """Returns the names of the migrations applied by this call; `applying` is told each name
    as its schema change is submitted (from the thread that submits it)."""
    migrations = available_migrations()
    return await db.run(lambda database: _apply(database, migrations, applying))


async def pending_migrations(db: SpannerDatabase) -> list[str]:
    applied = await db.run(_applied)
    return [name for version, name, _ in available_migrations() if version not in applied]
