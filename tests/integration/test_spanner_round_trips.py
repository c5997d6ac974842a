"""What one call costs in Spanner round trips, from the webhook to COMPLETED and its job settled
(the Pub/Sub push path): the real use cases on the real emulator, the other ports in memory.
Round trips are counted on the wire (every request the client library sends). The numbers are
pinned, so a change that adds a round trip to the hot path has to say so; 10 is the ceiling."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adapters.memory.fakes import (
    FixedClock,
    InMemoryAudioStore,
    InMemoryCrmGateway,
    InMemoryCrmGatewayFactory,
    InMemoryJobQueue,
    InMemoryRecordingSource,
    InMemorySecretStore,
    ScriptedCallAnalyzer,
    ScriptedTranscriber,
    SequentialIds,
)
from adapters.spanner.database import RoundTrips, SpannerDatabase
from adapters.spanner.repositories import SpannerUnitOfWorkFactory
from domain.stages import Stage
from domain.tenant import parse_tenant
from domain.usecases.intake import AcceptWebhook, ReceiveWebhook
from domain.usecases.jobs import DeliverJob
from domain.usecases.processing import Outcome, ProcessCall
from domain.webhook import sign
from tests.emulators.spanner import (  # noqa: F401 - fixtures
    spanner_database_fixture,
    spanner_emulator_fixture,
)
from tests.support import VECTOR_KEY, callrail_body, tenant_document


@pytest.mark.parametrize(
    ("crm", "expected"),
    [
        # Intake 2: the tenant found by its company; the call and its job inserted in one
        # Commit. The lease 2: the call with its tenant and its jobs' ids in one query; the
        # lease taken in one Commit that asserts the version read. Then one Commit a save:
        # RECORDING_STORED, TRANSCRIBED, ANALYZED with SCORED, SYNCED with COMPLETED; and the
        # job settled, deleted by the key the lease's query brought (one Commit).
        ("none", RoundTrips(snapshot_reads=2, commits=7)),
        # A CRM adds one save: the sync record is committed before the CRM is called.
        ("hubspot", RoundTrips(snapshot_reads=2, commits=8)),
    ],
)
async def test_round_trips_from_webhook_to_completed(
    spanner_database: SpannerDatabase, crm: str, expected: RoundTrips
) -> None:
    clock = FixedClock(datetime(2026, 3, 4, 15, 30, tzinfo=UTC))
    uow_factory = SpannerUnitOfWorkFactory(spanner_database)
    document = tenant_document()
    document["config"]["crm_config"] = {"type": crm}
    async with uow_factory() as uow:
        await uow.tenants.add(parse_tenant(document, clock.now()))
        await uow.commit()
    queue = InMemoryJobQueue()
    accept = AcceptWebhook(uow_factory, InMemorySecretStore(), queue, clock, SequentialIds())
    process = ProcessCall(
        uow_factory,
        InMemoryRecordingSource({"CALc1": b"ID3 mp3"}),
        InMemoryAudioStore(),
        ScriptedTranscriber(),
        ScriptedCallAnalyzer(),
        InMemoryCrmGatewayFactory(InMemoryCrmGateway("hubspot")),
        clock,
    )
    body = callrail_body("c1")
    before = spanner_database.round_trips()

    accepted = await accept(ReceiveWebhook(body, sign(VECTOR_KEY, body)))
    job = queue.enqueued[0]
    assert job.call_id == accepted.call.call_id
    result = await DeliverJob(process, uow_factory, clock)(job, "worker-1")

    spent = spanner_database.round_trips() - before
    assert result.outcome is Outcome.DONE
    assert result.stage is Stage.COMPLETED
    print(f"Spanner round trips per call, webhook to COMPLETED (CRM {crm}): {spent.total} {spent}")
    assert spent == expected
    assert spent.total <= 10
    assert await spanner_database.query("SELECT COUNT(*) FROM jobs") == [[0]]
