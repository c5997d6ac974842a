"""The persistence ports' contract for retention and erasure: every adapter of
UnitOfWorkFactory (memory, SQLite, Spanner on its emulator) deletes a call or a tenant with
everything held for it and nothing else, finds what retention has expired, and keeps the record
of every deletion."""

from __future__ import annotations

from datetime import date, timedelta

import attrs

from domain.apikeys import hash_api_key, new_api_key
from domain.call import Call
from domain.jobs import Job
from domain.results import (
    CallAnalysis,
    Intent,
    LeadScore,
    ScoreReason,
    StoredRecording,
    Tier,
    Transcript,
)
from domain.retention import (
    CALL_DELETED,
    TENANT_DELETED,
    DeletionRecord,
    call_reference,
    erase_content,
    erase_recording,
)
from domain.stages import Stage
from domain.usage import UsageDelta
from ports.repositories import UnitOfWorkFactory
from tests.contract.test_repository_contract import (
    ACME_COMPANY,
    BETA_COMPANY,
    T0,
    T1,
    add_calls,
    add_tenants,
    advance_to,
    make_call,
    make_tenant,
    read_call,
    read_tenant,
)

DAY = timedelta(days=1)
RECORDING = StoredRecording("memory://acme/calls/CAL1/recording.mp3", 10, "a" * 64)


def completed_call(
    tenant_id: str, call_id: str, received_days_ago: int, company: str = ACME_COMPANY
) -> Call:
    """A finished call received `received_days_ago` before T1, with everything a call holds."""
    call = make_call(tenant_id, call_id.removeprefix("CAL"), T1 - received_days_ago * DAY, company)
    call.recording = RECORDING
    call.transcript = Transcript("whisper", "en-US", "my card is 4111", redacted=True)
    call.analysis = CallAnalysis("rules", "Furnace repair", Intent.NEW_SERVICE_REQUEST)
    call.lead_score = LeadScore(
        80, Tier.WARM, True, 70, "1", (ScoreReason("booking", 25, "said 'book me in'"),)
    )
    return advance_to(call, Stage.COMPLETED, T1 - received_days_ago * DAY + timedelta(minutes=3))


async def acme_and_beta_with_calls(uow_factory: UnitOfWorkFactory) -> None:
    """Tenant acme with calls CAL1 and CAL2, tenant beta with a CAL1 of its own."""
    await add_tenants(
        uow_factory, make_tenant("acme", ACME_COMPANY), make_tenant("beta", BETA_COMPANY)
    )
    await add_calls(
        uow_factory,
        make_call("acme", "1"),
        make_call("acme", "2"),
        make_call("beta", "1", company_id=BETA_COMPANY),
    )


async def expirable(
    uow_factory: UnitOfWorkFactory,
    tenant_id: str = "acme",
    recordings_days: int | None = None,
    content_days: int | None = None,
    **page: object,
) -> list[str]:
    async with uow_factory(read_only=True) as uow:
        return list(
            await uow.calls.expirable(
                tenant_id,
                recordings_before=None if recordings_days is None else T1 - recordings_days * DAY,
                content_before=None if content_days is None else T1 - content_days * DAY,
                **page,  # type: ignore[arg-type]
            )
        )


# --- deleting a call ---------------------------------------------------------------------------


async def test_deleting_a_call_removes_its_row_and_jobs_and_nothing_else(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await acme_and_beta_with_calls(uow_factory)
    async with uow_factory() as uow:
        for job_id, tenant_id, call_id in [
            ("job-1", "acme", "CAL1"),
            ("job-2", "acme", "CAL1"),
            ("job-3", "acme", "CAL2"),
            ("job-4", "beta", "CAL1"),
        ]:
            await uow.jobs.add(Job(job_id, tenant_id, call_id, T0), due_at=T0)
        await uow.commit()

    async with uow_factory() as uow:
        assert await uow.calls.delete("acme", "CAL1") == {"calls": 1, "jobs": 2}
        await uow.commit()

    assert await read_call(uow_factory, "acme", "CAL1") is None
    assert await read_call(uow_factory, "acme", "CAL2") is not None
    assert await read_call(uow_factory, "beta", "CAL1") is not None
    async with uow_factory(read_only=True) as uow:
        assert await uow.jobs.pending_for("acme", "CAL1") == []
        assert [j.job_id for j in await uow.jobs.pending_for("acme", "CAL2")] == ["job-3"]
        assert [j.job_id for j in await uow.jobs.pending_for("beta", "CAL1")] == ["job-4"]
        assert await uow.jobs.pending_count() == 2
    # Again: nothing left to delete, and no error.
    async with uow_factory() as uow:
        assert await uow.calls.delete("acme", "CAL1") == {"calls": 0, "jobs": 0}
        await uow.commit()


async def test_a_call_delete_rolled_back_leaves_the_call(uow_factory: UnitOfWorkFactory) -> None:
    await add_tenants(uow_factory, make_tenant())
    await add_calls(uow_factory, make_call("acme", "1"))
    async with uow_factory() as uow:
        await uow.calls.delete("acme", "CAL1")
    assert await read_call(uow_factory, "acme", "CAL1") is not None


# --- deleting a tenant -------------------------------------------------------------------------


async def test_deleting_a_tenant_removes_every_row_held_for_it_and_only_those(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await acme_and_beta_with_calls(uow_factory)
    acme_key, acme_api_key = new_api_key("acme", "a" * 43, T0)
    beta_key, beta_api_key = new_api_key("beta", "b" * 43, T0)
    async with uow_factory() as uow:
        await uow.jobs.add(Job("job-1", "acme", "CAL1", T0), due_at=T0)
        await uow.jobs.add(Job("job-2", "beta", "CAL1", T0), due_at=T0)
        await uow.api_keys.add(acme_api_key)
        await uow.api_keys.add(beta_api_key)
        for tenant_id in ("acme", "beta"):
            await uow.usage.add(tenant_id, date(2026, 3, 4), UsageDelta(audio_seconds=60))
            await uow.usage.add(tenant_id, date(2026, 3, 5), UsageDelta(crm_api_calls=2))
        await uow.commit()

    async with uow_factory() as uow:
        counts = await uow.tenants.delete("acme")
        await uow.commit()
    assert counts == {"tenants": 1, "calls": 2, "jobs": 1, "api_keys": 1, "usage_days": 2}

    assert await read_tenant(uow_factory, "acme") is None
    async with uow_factory(read_only=True) as uow:
        assert (await uow.calls.list("acme")).calls == []
        assert await uow.api_keys.find(hash_api_key(acme_key)) is None
        assert await uow.usage.for_tenant("acme", date(2026, 1, 1)) == []
        assert await uow.jobs.pending_for("acme", "CAL1") == []
        assert await uow.tenants.get_by_company([ACME_COMPANY]) is None
        # The other tenant keeps everything.
        assert await uow.tenants.get("beta") is not None
        assert [c.call_id for c in (await uow.calls.list("beta")).calls] == ["CAL1"]
        assert await uow.api_keys.find(hash_api_key(beta_key)) is not None
        assert len(await uow.usage.for_tenant("beta", date(2026, 1, 1))) == 2
        assert [j.job_id for j in await uow.jobs.pending_for("beta", "CAL1")] == ["job-2"]

    async with uow_factory() as uow:
        assert not any((await uow.tenants.delete("acme")).values())
        await uow.commit()
    # Its company id is free again, and its id too.
    await add_tenants(uow_factory, make_tenant("acme", ACME_COMPANY))


# --- what retention has expired ----------------------------------------------------------------


async def test_expirable_finds_finished_calls_past_each_cutoff(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await add_tenants(
        uow_factory, make_tenant("acme", ACME_COMPANY), make_tenant("beta", BETA_COMPANY)
    )
    old = completed_call("acme", "CAL-old", 400)
    middle = completed_call("acme", "CAL-middle", 100)
    recent = completed_call("acme", "CAL-recent", 10)
    in_flight = advance_to(make_call("acme", "-in-flight", T1 - 400 * DAY), Stage.TRANSCRIBED)
    failed = make_call("acme", "-failed", T1 - 400 * DAY)
    failed.fail(Stage.RECEIVED, "no recording", T1 - 400 * DAY)
    other_tenant = completed_call("beta", "CAL-beta", 400, BETA_COMPANY)
    await add_calls(uow_factory, old, middle, recent, in_flight, failed, other_tenant)

    # Recordings kept 90 days: the two older finished calls with a recording (or its URL).
    assert await expirable(uow_factory, recordings_days=90) == [
        "CAL-failed",
        "CAL-middle",
        "CAL-old",
    ]
    # Transcripts kept 365 days: the old call, and the failed one (its raw body).
    assert await expirable(uow_factory, content_days=365) == ["CAL-failed", "CAL-old"]
    assert await expirable(uow_factory, recordings_days=5, content_days=365) == [
        "CAL-failed",
        "CAL-middle",
        "CAL-old",
        "CAL-recent",
    ]
    assert await expirable(uow_factory) == []
    # Paged in id order.
    assert await expirable(uow_factory, recordings_days=5, limit=2) == ["CAL-failed", "CAL-middle"]
    assert await expirable(uow_factory, recordings_days=5, after="CAL-middle", limit=2) == [
        "CAL-old",
        "CAL-recent",
    ]


async def test_an_erased_call_is_expirable_no_more_and_keeps_its_score_and_metadata(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await add_tenants(uow_factory, make_tenant())
    await add_calls(uow_factory, completed_call("acme", "CAL1", 400))
    async with uow_factory() as uow:
        call = await uow.calls.get("acme", "CAL1")
        assert call is not None
        erase_recording(call, T1)
        await uow.calls.update(call)
        await uow.commit()
    assert await expirable(uow_factory, recordings_days=90) == []
    assert await expirable(uow_factory, content_days=365) == ["CAL1"]

    async with uow_factory() as uow:
        call = await uow.calls.get("acme", "CAL1")
        assert call is not None
        erase_content(call, T1)
        await uow.calls.update(call)
        await uow.commit()
    assert await expirable(uow_factory, recordings_days=1, content_days=1) == []

    stored = await read_call(uow_factory, "acme", "CAL1")
    assert stored is not None
    assert (stored.recording, stored.transcript, stored.analysis) == (None, None, None)
    assert stored.recording_url is None
    assert dict(stored.raw_payload) == {}
    assert stored.lead_score is not None
    assert (stored.lead_score.score, stored.lead_score.tier) == (80, Tier.WARM)
    assert [(r.factor, r.points, r.detail) for r in stored.lead_score.reasons] == [
        ("booking", 25, "")
    ]
    assert stored.metadata == completed_call("acme", "CAL1", 400).metadata
    assert stored.stage is Stage.COMPLETED
    assert [e.note for e in stored.timeline[-2:]] == [
        "recording deleted: retention",
        "transcript and analysis erased: retention",
    ]


# --- the record of deletions -------------------------------------------------------------------


async def test_deletion_records_round_trip_newest_first_and_outlive_the_tenant(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await add_tenants(
        uow_factory, make_tenant("acme", ACME_COMPANY), make_tenant("beta", BETA_COMPANY)
    )
    first = DeletionRecord(
        "rec-1",
        T0,
        "cli:ops",
        CALL_DELETED,
        "acme",
        call_reference("acme", "CAL1"),
        {"calls": 1, "jobs": 0, "objects": 3},
    )
    second = attrs.evolve(first, record_id="rec-2", at=T1, tenant_id="beta", counts={})
    third = DeletionRecord("rec-3", T1 + DAY, "http:operator", TENANT_DELETED, "acme")
    async with uow_factory() as uow:
        for record in (first, second, third):
            await uow.deletions.add(record)
        await uow.tenants.delete("acme")
        await uow.commit()
    async with uow_factory(read_only=True) as uow:
        assert list(await uow.deletions.list()) == [third, second, first]
        assert list(await uow.deletions.list("acme")) == [third, first]
        assert list(await uow.deletions.list(limit=1)) == [third]
        assert list(await uow.deletions.list("nobody")) == []
    assert first.subject is not None
    assert "CAL1" not in first.subject
