"""Adapters under contract. A port's suite asks only for the port, so every adapter of it
(in-memory, SQLite, and Spanner on its emulator) runs the same tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.memory.repositories import InMemoryUnitOfWorkFactory
from adapters.sqlite.database import SqliteDatabase
from adapters.sqlite.migrations import migrate
from adapters.sqlite.repositories import SqliteUnitOfWorkFactory
from ports.repositories import UnitOfWorkFactory
from tests.emulators.spanner import SpannerEmulator, spanner_emulator_fixture  # noqa: F401


@pytest.fixture(params=["memory", "sqlite", "spanner"])
async def uow_factory(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[UnitOfWorkFactory]:
    if request.param == "memory":
        yield InMemoryUnitOfWorkFactory()
        return
    if request.param == "spanner":
        # Skips loudly (fails under CI=true) where the emulator is missing.
        emulator: SpannerEmulator = request.getfixturevalue("spanner_emulator")
        from adapters.spanner.repositories import SpannerUnitOfWorkFactory

        async with emulator.database() as spanner_db:
            yield SpannerUnitOfWorkFactory(spanner_db)
        return
    db = SqliteDatabase(str(tmp_path / "contract.db"))
    await db.open()
    try:
        await migrate(db)
        yield SqliteUnitOfWorkFactory(db)
    finally:
        await db.close()
