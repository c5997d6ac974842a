"""Adapters under contract. A port's suite asks only for the port, so every adapter of it
(in-memory, SQLite, and Spanner on its emulator) runs the same tests."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.memory.repositories import InMemoryUnitOfWorkFactory
from adapters.sqlite.database import SqliteDatabase
from adapters.sqlite.migrations import migrate
from adapters.sqlite.repositories import SqliteUnitOfWorkFactory
from ports.audio_redaction import AudioRedactor
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


# The AudioRedactor port's adapters, by name: the suite's processes build them from this too.
AUDIO_REDACTORS = {"pyav": "adapters.pyav.audio_redactor:PyAvAudioRedactor"}


@pytest.fixture(params=sorted(AUDIO_REDACTORS))
def audio_redactor_spec(request: pytest.FixtureRequest) -> str:
    return AUDIO_REDACTORS[request.param]


@pytest.fixture
def audio_redactor(audio_redactor_spec: str) -> AudioRedactor:
    module, _, name = audio_redactor_spec.partition(":")
    redactor: AudioRedactor = getattr(importlib.import_module(module), name)()
    return redactor
