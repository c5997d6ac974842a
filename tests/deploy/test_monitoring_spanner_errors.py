"""pipeline.database.errors, the Database Connectivity alert's metric, counts what Spanner
refused where the adapter turns it into StorageUnavailable (on the Spanner emulator)."""

from __future__ import annotations

import pytest

from adapters.otel.metrics import ErrorTally, OtelMetrics
from adapters.spanner.database import SpannerDatabase
from domain.errors import StorageUnavailable
from tests.emulators.spanner import (  # noqa: F401 - fixtures
    INSTANCE,
    PROJECT,
    SpannerEmulator,
    spanner_emulator_fixture,
)


async def test_a_refused_spanner_call_is_counted_by_its_code(
    spanner_emulator: SpannerEmulator,
) -> None:
    errors = ErrorTally("spanner")
    db = SpannerDatabase(PROJECT, INSTANCE, "no-such-database", on_error=errors)
    await db.open()
    try:
        with pytest.raises(StorageUnavailable):
            await db.query("SELECT 1")
    finally:
        await db.close()
    assert errors.counts == {"NotFound": 1}
    text = OtelMetrics(database_errors=errors).render().decode()
    assert 'pipeline_database_errors_total{backend="spanner",code="NotFound"} 1.0' in text


async def test_a_query_that_works_counts_nothing(spanner_emulator: SpannerEmulator) -> None:
    errors = ErrorTally("spanner")
    async with spanner_emulator.database(on_error=errors) as db:
        await db.query("SELECT 1")
    assert errors.counts == {}
