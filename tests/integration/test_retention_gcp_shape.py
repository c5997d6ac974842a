"""Retention and erasure on the Google Cloud shape: Spanner on its emulator, recordings in Cloud
Storage on fake-gcs-server. After a tenant is deleted, a scan of every Spanner table and every
object of the store finds none of its call ids, phone numbers or audio; the sweep's expiry
erases an old call's transcript and audio and keeps its score and metadata."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from adapters.gcs.audio_store import GcsAudioStore
from adapters.spanner.database import SpannerDatabase
from adapters.spanner.repositories import SpannerUnitOfWorkFactory
from adapters.system.clock import SystemClock, UuidIdGenerator
from domain.results import CallAnalysis, Intent, LeadScore, ScoreReason, Tier, Transcript
from domain.stages import PIPELINE
from domain.tenant import parse_tenant
from domain.usecases.erasure import DeleteTenant, DeleteTenantCommand
from domain.usecases.retention import ExpireCalls, ExpireCommand
from ports.repositories import UnitOfWorkFactory
from tests.emulators import gcs
from tests.emulators.spanner import SpannerEmulator, spanner_emulator_fixture  # noqa: F401
from tests.integration.retention_seed import (
    COMPANIES,
    PHONES,
    audio_bytes,
    received_call,
    store_audio,
)
from tests.support import tenant_document

fake_gcs = gcs.fake_gcs
NOW = datetime.now(UTC)


@pytest.fixture
async def spanner_db(spanner_emulator: SpannerEmulator) -> AsyncIterator[SpannerDatabase]:
    async with spanner_emulator.database() as db:
        yield db


@pytest.fixture
def store(fake_gcs: gcs.FakeGcs) -> Iterator[GcsAudioStore]:
    audio = GcsAudioStore(fake_gcs.client, fake_gcs.bucket, fake_gcs.unique_prefix())
    yield audio
    audio.close()


async def seed(
    uow_factory: UnitOfWorkFactory,
    audio: GcsAudioStore,
    tenant_id: str,
    calls: int,
    *,
    days_ago: int = 400,
    retention: dict[str, int] | None = None,
) -> list[str]:
    document = tenant_document(tenant_id, company_id=COMPANIES[tenant_id])
    if retention:
        document["config"]["retention"] = retention
    at = NOW - timedelta(days=days_ago)
    ids = []
    async with uow_factory() as uow:
        await uow.tenants.add(parse_tenant(document, at))
        await uow.commit()
    async with uow_factory() as uow:
        for n in range(calls):
            call = received_call(tenant_id, n, at)
            ids.append(call.call_id)
            call.recording = await store_audio(audio, tenant_id, call.call_id)
            call.transcript = Transcript(
                "google-chirp_3", "en-US", f"my number is {PHONES[tenant_id]}"
            )
            call.analysis = CallAnalysis("vertex", "Quote for a furnace", Intent.QUOTE_REQUEST)
            call.lead_score = LeadScore(
                81, Tier.WARM, True, 70, "1", (ScoreReason("quote", 20, "asked for a quote"),)
            )
            for stage in PIPELINE[1:]:
                call.advance(stage, at + timedelta(minutes=2))
            await uow.calls.add(call)
        await uow.commit()
    return ids


async def scan_spanner(db: SpannerDatabase) -> str:
    """Every row of every table, as text."""
    tables = await db.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = ''", {}, {}
    )
    text: list[str] = []
    for (table,) in tables:
        text.extend(str(row) for row in await db.query(f"SELECT * FROM {table}", {}, {}))  # noqa: S608
    return "\n".join(text)


def scan_bucket(fake: gcs.FakeGcs, audio: GcsAudioStore) -> list[tuple[str, bytes]]:
    prefix = audio.uri_for("x")[len(f"gs://{fake.bucket}/") : -1]
    return [
        (b.name, b.download_as_bytes()) for b in fake.client.list_blobs(fake.bucket, prefix=prefix)
    ]


async def test_deleting_a_tenant_leaves_nothing_of_it_in_spanner_or_cloud_storage(
    spanner_db: SpannerDatabase, store: GcsAudioStore, fake_gcs: gcs.FakeGcs
) -> None:
    uow_factory = SpannerUnitOfWorkFactory(spanner_db)
    acme = await seed(uow_factory, store, "acme", 3)
    beta = await seed(uow_factory, store, "beta", 1)
    acme_audio = audio_bytes("acme", acme[0], "recording")
    before_rows, before_objects = await scan_spanner(spanner_db), scan_bucket(fake_gcs, store)
    assert all(i in before_rows for i in acme + beta)
    assert PHONES["acme"] in before_rows
    assert any(data == acme_audio for _, data in before_objects)

    lines: list[str] = []
    deletion = await DeleteTenant(
        uow_factory, store, SystemClock(), UuidIdGenerator(), page_size=2
    )(DeleteTenantCommand("acme", "acme", "test:operator"), lines.append)

    assert deletion.counts == {
        "calls": 3,
        "jobs": 0,
        "objects": 9,
        "tenants": 1,
        "api_keys": 0,
        "usage_days": 0,
    }
    assert lines == [
        "tenant acme: 2 call(s) and 6 object(s) deleted",
        "tenant acme: 3 call(s) and 9 object(s) deleted",
        "tenant acme: deleted",
    ]
    rows, objects = await scan_spanner(spanner_db), scan_bucket(fake_gcs, store)
    for needle in (*acme, PHONES["acme"]):
        assert needle not in rows
        assert not [name for name, _ in objects if needle in name]
        assert not [name for name, data in objects if needle.encode() in data]
    assert not [name for name, data in objects if data == acme_audio]
    # The other tenant keeps its rows and objects; the record names no call.
    assert all(i in rows for i in beta)
    assert PHONES["beta"] in rows
    assert len(objects) == 3
    assert "tenant.deleted" in rows
    assert "test:operator" in rows


async def test_expiry_erases_transcript_and_audio_and_keeps_score_and_metadata(
    spanner_db: SpannerDatabase, store: GcsAudioStore, fake_gcs: gcs.FakeGcs
) -> None:
    uow_factory = SpannerUnitOfWorkFactory(spanner_db)
    retention = {"recordings_days": 30, "transcripts_days": 90}
    (old,) = await seed(uow_factory, store, "acme", 1, days_ago=120, retention=retention)
    (recent,) = await seed(uow_factory, store, "beta", 1, days_ago=5, retention=retention)
    expire = ExpireCalls(uow_factory, store, SystemClock(), UuidIdGenerator())

    dry = await expire(ExpireCommand(dry_run=True))
    assert [(c.tenant_id, c.call_id, c.recording, c.content) for c in dry.calls] == [
        ("acme", old, True, True)
    ]
    assert len(scan_bucket(fake_gcs, store)) == 6  # a dry run deletes nothing

    report = await expire(ExpireCommand())

    assert [(c.call_id, c.objects) for c in report.calls] == [(old, 3)]
    async with uow_factory(read_only=True) as uow:
        erased = await uow.calls.get("acme", old)
        kept = await uow.calls.get("beta", recent)
        records = await uow.deletions.list("acme")
    assert erased is not None
    assert kept is not None
    assert (erased.recording, erased.transcript, erased.analysis) == (None, None, None)
    assert erased.lead_score is not None
    assert (erased.lead_score.score, erased.lead_score.tier) == (81, Tier.WARM)
    assert erased.metadata.caller == PHONES["acme"]
    assert kept.transcript is not None
    assert [name for name, _ in scan_bucket(fake_gcs, store) if old in name] == []
    assert sorted(r.action for r in records) == ["call.content_expired", "call.recording_expired"]
    assert all(old not in (r.subject or "") for r in records)
    assert (await expire(ExpireCommand())).calls == ()  # nothing left to expire
