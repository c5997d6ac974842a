"""The persistence ports' contract: every adapter of UnitOfWorkFactory passes this suite.

Only the ports' methods are used, so a new adapter joins by being added to `uow_factory`.
"""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import attrs
import pytest

from domain.apikeys import hash_api_key, new_api_key
from domain.call import Call, Failure
from domain.errors import (
    CallNotFound,
    ConcurrentUpdate,
    TenantAlreadyExists,
    TenantNotFound,
    ValidationFailed,
)
from domain.jobs import Job
from domain.results import (
    CallAnalysis,
    CrmSyncResult,
    Intent,
    LeadScore,
    PendingTranscription,
    ScoreReason,
    Segment,
    Sentiment,
    StoredRecording,
    SyncStatus,
    Tier,
    Transcript,
    Urgency,
)
from domain.stages import PIPELINE, Stage
from domain.tenant import Tenant, apply_patch, parse_tenant, tenant_document
from domain.webhook import parse_incoming_call
from ports.repositories import UnitOfWorkFactory
from tests.support import callrail_body
from tests.support import tenant_document as tenant_doc

# Microseconds on purpose: a store that drops them breaks cursors and equality.
T0 = datetime(2026, 3, 4, 15, 30, 0, 123456, tzinfo=UTC)
T1 = T0 + timedelta(hours=2, microseconds=7)
ACME_COMPANY = "111111111"
BETA_COMPANY = "222222222"


def make_tenant(
    tenant_id: str = "acme",
    company_id: str = ACME_COMPANY,
    *,
    created_at: datetime = T0,
    updated_at: datetime = T0,
    **config: Any,
) -> Tenant:
    return parse_tenant(
        tenant_doc(tenant_id, company_id, **config), now=updated_at, created_at=created_at
    )


def make_call(
    tenant_id: str,
    call_id: str,
    at: datetime = T0,
    company_id: str = ACME_COMPANY,
    **fields: Any,
) -> Call:
    payload = json.loads(callrail_body(call_id, company_id, **fields))
    return Call.receive(tenant_id, parse_incoming_call(payload), at)


def snapshot(call: Call) -> dict[str, Any]:
    """Every field of the call: Call itself compares by identity only."""
    return attrs.asdict(call, recurse=False)


def advance_to(call: Call, stage: Stage, at: datetime = T1) -> Call:
    for step in PIPELINE[PIPELINE.index(call.stage) + 1 : PIPELINE.index(stage) + 1]:
        call.advance(step, at)
    return call


async def add_tenants(uow_factory: UnitOfWorkFactory, *tenants: Tenant) -> None:
    async with uow_factory() as uow:
        for tenant in tenants:
            await uow.tenants.add(tenant)
        await uow.commit()


async def add_calls(uow_factory: UnitOfWorkFactory, *calls: Call) -> None:
    async with uow_factory() as uow:
        for call in calls:
            assert await uow.calls.add(call)
        await uow.commit()


async def read_call(uow_factory: UnitOfWorkFactory, tenant_id: str, call_id: str) -> Call | None:
    async with uow_factory(read_only=True) as uow:
        return await uow.calls.get(tenant_id, call_id)


async def read_tenant(uow_factory: UnitOfWorkFactory, tenant_id: str) -> Tenant | None:
    async with uow_factory(read_only=True) as uow:
        return await uow.tenants.get(tenant_id)


async def list_ids(uow_factory: UnitOfWorkFactory, tenant_id: str, **filters: Any) -> set[str]:
    async with uow_factory(read_only=True) as uow:
        page = await uow.calls.list(tenant_id, **filters)
    return {c.call_id for c in page.calls}


# --- tenants -----------------------------------------------------------------------------


async def test_a_tenant_round_trips_every_field(uow_factory: UnitOfWorkFactory) -> None:
    tenant = make_tenant(
        created_at=T0,
        updated_at=T1,
        callrail_api_key_ref="callrail/acme-key",
        crm_config={
            "type": "hubspot",
            "portal_id": "4711",
            "access_token": "pat-na1-inline-secret",
            "lead_status_by_tier": {"hot": "IN_PROGRESS", "warm": "OPEN"},
        },
        ai_config={
            "lead_scoring_threshold": 55,
            "analysis_model": "gemini-2.5-pro",
            "business_context": "Furnaces, heat pumps and ☃ emergency calls",
        },
        redact_pii=False,
    )
    await add_tenants(uow_factory, tenant)

    got = await read_tenant(uow_factory, "acme")

    assert got is not None
    assert tenant_document(got, reveal_secrets=True) == tenant_document(tenant, reveal_secrets=True)
    assert got.created_at == T0
    assert got.updated_at == T1
    assert got == tenant


async def test_an_unknown_tenant_is_none(uow_factory: UnitOfWorkFactory) -> None:
    await add_tenants(uow_factory, make_tenant("acme"))
    async with uow_factory(read_only=True) as uow:
        assert await uow.tenants.get("nobody") is None


async def test_adding_the_same_tenant_id_twice_is_refused(uow_factory: UnitOfWorkFactory) -> None:
    original = make_tenant("acme", ACME_COMPANY)
    await add_tenants(uow_factory, original)

    async with uow_factory() as uow:
        with pytest.raises(TenantAlreadyExists):
            await uow.tenants.add(make_tenant("acme", BETA_COMPANY))

    got = await read_tenant(uow_factory, "acme")
    assert got is not None
    assert got.config.callrail_company_id == ACME_COMPANY


async def test_two_tenants_cannot_share_a_callrail_company(uow_factory: UnitOfWorkFactory) -> None:
    await add_tenants(uow_factory, make_tenant("acme", ACME_COMPANY))

    async with uow_factory() as uow:
        with pytest.raises(TenantAlreadyExists):
            await uow.tenants.add(make_tenant("beta", ACME_COMPANY))

    assert await read_tenant(uow_factory, "beta") is None


async def test_get_by_company_finds_the_tenant_by_any_of_its_ids(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await add_tenants(
        uow_factory, make_tenant("acme", ACME_COMPANY), make_tenant("beta", BETA_COMPANY)
    )

    async with uow_factory(read_only=True) as uow:
        by_second = await uow.tenants.get_by_company(["COM-unknown", BETA_COMPANY])
        by_first = await uow.tenants.get_by_company([ACME_COMPANY, "COM-unknown"])
        by_unknown = await uow.tenants.get_by_company(["COM-unknown", "333"])
        by_nothing = await uow.tenants.get_by_company([])

    assert by_second is not None
    assert by_second.tenant_id == "beta"
    assert by_first is not None
    assert by_first.tenant_id == "acme"
    assert by_unknown is None
    assert by_nothing is None


async def test_tenants_are_listed_by_id(uow_factory: UnitOfWorkFactory) -> None:
    await add_tenants(
        uow_factory,
        make_tenant("charlie", "333"),
        make_tenant("alpha", "111"),
        make_tenant("bravo", "222"),
    )

    async with uow_factory(read_only=True) as uow:
        listed = await uow.tenants.list()

    assert [t.tenant_id for t in listed] == ["alpha", "bravo", "charlie"]


async def test_update_changes_a_tenant(uow_factory: UnitOfWorkFactory) -> None:
    tenant = make_tenant("acme", ACME_COMPANY)
    await add_tenants(uow_factory, tenant)
    changed = apply_patch(
        tenant,
        {
            "name": "Acme Plumbing",
            "status": "suspended",
            "config": {
                "callrail_company_id": "999999999",
                "ai_config": {"lead_scoring_threshold": 40},
            },
        },
        now=T1,
    )

    async with uow_factory() as uow:
        await uow.tenants.update(changed)
        await uow.commit()

    got = await read_tenant(uow_factory, "acme")
    assert got is not None
    assert got.name == "Acme Plumbing"
    assert got.status == "suspended"
    assert got.config.ai.lead_scoring_threshold == 40
    assert got.created_at == T0
    assert got.updated_at == T1
    async with uow_factory(read_only=True) as uow:
        moved = await uow.tenants.get_by_company(["999999999"])
        assert await uow.tenants.get_by_company([ACME_COMPANY]) is None
    assert moved is not None
    assert moved.tenant_id == "acme"


async def test_updating_a_missing_tenant_raises(uow_factory: UnitOfWorkFactory) -> None:
    await add_tenants(uow_factory, make_tenant("acme", ACME_COMPANY))

    async with uow_factory() as uow:
        with pytest.raises(TenantNotFound):
            await uow.tenants.update(make_tenant("ghost", "444"))

    assert await read_tenant(uow_factory, "ghost") is None


async def test_update_cannot_take_another_tenants_company(uow_factory: UnitOfWorkFactory) -> None:
    await add_tenants(
        uow_factory, make_tenant("acme", ACME_COMPANY), make_tenant("beta", BETA_COMPANY)
    )

    async with uow_factory() as uow:
        with pytest.raises(TenantAlreadyExists):
            await uow.tenants.update(make_tenant("beta", ACME_COMPANY, updated_at=T1))

    beta = await read_tenant(uow_factory, "beta")
    assert beta is not None
    assert beta.config.callrail_company_id == BETA_COMPANY


# --- calls -------------------------------------------------------------------------------


async def refused_again(uow_factory: UnitOfWorkFactory, call: Call) -> None:
    """The second add of a stored call is refused: add says False, or (a store that finds out
    only at commit) commit raises ConcurrentUpdate; either way nothing of the unit lands."""
    async with uow_factory() as uow:
        try:
            added = await uow.calls.add(call)
            if added:
                await uow.jobs.add(Job("job-again", call.tenant_id, call.call_id, T1), due_at=T1)
                await uow.commit()
        except ConcurrentUpdate:
            return
    assert added is False, "a call stored twice must be refused, at add or at commit"


async def test_adding_a_call_twice_is_refused_and_changes_nothing(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await add_tenants(uow_factory, make_tenant())
    first = make_call("acme", "1001", T0, customer_name="First Caller")

    async with uow_factory() as uow:
        assert await uow.calls.add(first) is True
        await uow.commit()
    again = make_call("acme", "1001", T1, customer_name="Second Caller")
    await refused_again(uow_factory, again)
    async with uow_factory(read_only=True) as uow:
        assert await uow.jobs.pending_for("acme", first.call_id) == []

    got = await read_call(uow_factory, "acme", first.call_id)
    assert got is not None
    assert got.metadata.caller_name == "First Caller"
    assert got.received_at == T0
    assert got.version == first.version


async def test_a_webhook_body_kept_as_sent_reads_back_as_it_was_read(
    uow_factory: UnitOfWorkFactory,
) -> None:
    """A call received from a webhook keeps the body's own text (RawPayload): spaced out, with
    escapes and nesting, it reads back as the payload parsed from it, in every store."""
    await add_tenants(uow_factory, make_tenant())
    body = json.loads(callrail_body("1003", ACME_COMPANY, note="café « quoted »"))
    text = json.dumps(body, indent=2, ensure_ascii=True)  # "caf\u00e9 \u00ab quoted \u00bb"
    payload = json.loads(text)
    call = Call.receive("acme", parse_incoming_call(payload, text), T0)
    await add_calls(uow_factory, call)

    got = await read_call(uow_factory, "acme", call.call_id)

    assert got is not None
    assert got.raw_payload == payload
    assert got.raw_payload["note"] == "café « quoted »"
    assert got.raw_payload["integration_data"] == [{"integration": "Webhooks", "data": None}]


async def test_a_new_call_round_trips_every_field(uow_factory: UnitOfWorkFactory) -> None:
    await add_tenants(uow_factory, make_tenant())
    call = make_call("acme", "1002", T0, note="café ☎ « quoted »", value=12.5)
    await add_calls(uow_factory, call)

    got = await read_call(uow_factory, "acme", call.call_id)

    assert got is not None
    assert snapshot(got) == snapshot(call)
    assert got.raw_payload["note"] == "café ☎ « quoted »"
    assert got.raw_payload["integration_data"] == [{"integration": "Webhooks", "data": None}]
    assert got.metadata.started_at == datetime(
        2018, 2, 19, 13, 41, 0, 236000, tzinfo=timezone(timedelta(hours=-5))
    )
    assert [e.stage for e in got.timeline] == [Stage.RECEIVED]


async def test_every_stage_result_round_trips(uow_factory: UnitOfWorkFactory) -> None:
    await add_tenants(uow_factory, make_tenant())
    call = make_call("acme", "1003", T0)
    await add_calls(uow_factory, call)

    async with uow_factory() as uow:
        worked = await uow.calls.get("acme", call.call_id)
        assert worked is not None
        worked.attempts = 2
        worked.lease_owner = "worker-7"
        worked.lease_expires_at = T1 + timedelta(minutes=5)
        worked.advance(Stage.RECORDING_STORED, T0 + timedelta(seconds=3), duration_ms=1200)
        worked.recording = StoredRecording(
            uri="file:///data/audio/acme/calls/CAL1003/recording.mp3",
            bytes=48_213,
            sha256="ab" * 32,
            content_type="audio/mpeg",
            duration_s=13.4,
        )
        worked.advance(Stage.TRANSCRIBED, T0 + timedelta(seconds=9), duration_ms=5400)
        worked.transcript = Transcript(
            engine="whisper-tiny.en",
            language="en-US",
            text="Hi, my furnace stopped. Can someone come today?",
            segments=(
                Segment("caller", 0.0, 2.5, "Hi, my furnace stopped."),
                Segment("agent", 2.5, 4.75, "Can someone come today?"),
            ),
            redacted=True,
            audio_duration_s=13.4,
        )
        worked.advance(Stage.ANALYZED, T0 + timedelta(seconds=11), duration_ms=800)
        worked.analysis = CallAnalysis(
            engine="rules",
            summary="Furnace repair, same day",
            intent=Intent.NEW_SERVICE_REQUEST,
            sentiment=Sentiment.NEGATIVE,
            urgency=Urgency.HIGH,
            service_requested="furnace repair",
            appointment_booked=True,
            caller_name="Kaylah Mills",
            caller_email="kaylah@example.com",
            is_spam=False,
            is_existing_customer=True,
            key_phrases=("furnace", "today"),
        )
        worked.advance(Stage.SCORED, T0 + timedelta(seconds=12))
        worked.lead_score = LeadScore(
            score=88,
            tier=Tier.HOT,
            qualified=True,
            threshold=70,
            version="rules-1",
            reasons=(
                ScoreReason("urgency", 30, "wants service today"),
                ScoreReason("intent", 40, "new service request"),
            ),
        )
        worked.advance(Stage.SYNCED, T0 + timedelta(seconds=14), skipped=True, note="crm none")
        worked.crm_sync = CrmSyncResult(
            type="hubspot",
            status=SyncStatus.FAILED,
            contact_id="c-42",
            activity_id="a-99",
            attempts=3,
            error="HubSpot answered 503",
        )
        worked.fail(Stage.SYNCED, "HubSpot answered 503", T0 + timedelta(seconds=20))
        worked.failure = Failure(Stage.SYNCED, "HubSpot answered 503", transient=True)
        await uow.calls.update(worked)
        await uow.commit()

    got = await read_call(uow_factory, "acme", call.call_id)

    assert got is not None
    assert snapshot(got) == snapshot(worked)
    assert got.status == "failed"
    assert got.processing_time_ms == 20_000


async def test_a_pending_transcription_round_trips_and_clears(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await add_tenants(uow_factory, make_tenant())
    call = make_call("acme", "1013", T0)
    await add_calls(uow_factory, call)
    quarantined = StoredRecording(
        uri="gs://acme-audio/acme/calls/CAL1013/original.mp3", bytes=7, sha256="cd" * 32
    )
    ticket = "projects/acme-project/locations/us/operations/7000001"

    async with uow_factory() as uow:
        waiting = await uow.calls.get("acme", call.call_id)
        assert waiting is not None
        waiting.pending_transcription = PendingTranscription(ticket, quarantined)
        await uow.calls.update(waiting)
        await uow.commit()
    got = await read_call(uow_factory, "acme", call.call_id)
    assert got is not None
    assert got.pending_transcription == PendingTranscription(ticket, quarantined)

    async with uow_factory() as uow:
        collected = await uow.calls.get("acme", call.call_id)
        assert collected is not None
        collected.pending_transcription = None
        await uow.calls.update(collected)
        await uow.commit()
    again = await read_call(uow_factory, "acme", call.call_id)
    assert again is not None
    assert again.pending_transcription is None


async def test_each_update_bumps_the_version(uow_factory: UnitOfWorkFactory) -> None:
    await add_tenants(uow_factory, make_tenant())
    call = make_call("acme", "1004", T0)
    await add_calls(uow_factory, call)
    stored = await read_call(uow_factory, "acme", call.call_id)
    assert stored is not None
    versions = [stored.version]

    async with uow_factory() as uow:
        for stage in (Stage.RECORDING_STORED, Stage.TRANSCRIBED):
            stored.advance(stage, T1)
            await uow.calls.update(stored)
            versions.append(stored.version)
            reread = await uow.calls.get("acme", call.call_id)
            assert reread is not None
            assert reread.version == stored.version
        await uow.commit()

    assert versions[0] < versions[1] < versions[2]
    final = await read_call(uow_factory, "acme", call.call_id)
    assert final is not None
    assert final.version == versions[-1]
    assert final.stage is Stage.TRANSCRIBED


async def test_an_update_from_a_stale_read_is_refused(uow_factory: UnitOfWorkFactory) -> None:
    await add_tenants(uow_factory, make_tenant())
    call = make_call("acme", "1005", T0)
    await add_calls(uow_factory, call)

    async with uow_factory() as uow:
        winner = await uow.calls.get("acme", call.call_id)
        loser = await uow.calls.get("acme", call.call_id)
        assert winner is not None
        assert loser is not None
        winner.lease_owner = "worker-a"
        await uow.calls.update(winner)
        loser.lease_owner = "worker-b"
        with pytest.raises(ConcurrentUpdate):
            await uow.calls.update(loser)
        await uow.commit()

    got = await read_call(uow_factory, "acme", call.call_id)
    assert got is not None
    assert got.lease_owner == "worker-a"


async def test_updating_a_missing_call_raises(uow_factory: UnitOfWorkFactory) -> None:
    await add_tenants(uow_factory, make_tenant())

    async with uow_factory() as uow:
        with pytest.raises(CallNotFound):
            await uow.calls.update(make_call("acme", "never-added", T0))

    assert await read_call(uow_factory, "acme", "CALnever-added") is None


async def test_an_unknown_call_is_none(uow_factory: UnitOfWorkFactory) -> None:
    await add_tenants(uow_factory, make_tenant())
    await add_calls(uow_factory, make_call("acme", "1006", T0))

    assert await read_call(uow_factory, "acme", "CAL9999") is None


async def test_calls_are_listed_newest_first(uow_factory: UnitOfWorkFactory) -> None:
    await add_tenants(uow_factory, make_tenant())
    # Added out of time order, so insertion order cannot pass for time order.
    await add_calls(
        uow_factory,
        make_call("acme", "middle", T0 + timedelta(minutes=5)),
        make_call("acme", "newest", T0 + timedelta(minutes=9)),
        make_call("acme", "oldest", T0),
    )

    async with uow_factory(read_only=True) as uow:
        page = await uow.calls.list("acme")

    assert [c.call_id for c in page.calls] == ["CALnewest", "CALmiddle", "CALoldest"]
    assert page.next_cursor is None


async def test_pages_cover_every_call_once(uow_factory: UnitOfWorkFactory) -> None:
    await add_tenants(uow_factory, make_tenant())
    # Two pairs share a timestamp, and a page boundary falls inside the first pair.
    minutes = [0, 1, 2, 2, 3, 4, 4]
    calls = [make_call("acme", f"p{i}", T0 + timedelta(minutes=m)) for i, m in enumerate(minutes)]
    await add_calls(uow_factory, *calls)

    pages: list[list[Call]] = []
    cursor: str | None = None
    async with uow_factory(read_only=True) as uow:
        while True:
            page = await uow.calls.list("acme", limit=3, cursor=cursor)
            pages.append(list(page.calls))
            cursor = page.next_cursor
            if cursor is None:
                break
            assert len(pages) < 10, "the cursor never ran out"

    seen = [c for page in pages for c in page]
    assert [len(p) for p in pages] == [3, 3, 1]
    assert sorted(c.call_id for c in seen) == sorted(c.call_id for c in calls)
    times = [c.received_at for c in seen]
    assert times == sorted(times, reverse=True)


async def test_a_full_last_page_has_no_next_cursor(uow_factory: UnitOfWorkFactory) -> None:
    await add_tenants(uow_factory, make_tenant())
    await add_calls(
        uow_factory, *(make_call("acme", f"e{i}", T0 + timedelta(minutes=i)) for i in range(3))
    )

    async with uow_factory(read_only=True) as uow:
        page = await uow.calls.list("acme", limit=3)

    assert len(page.calls) == 3
    assert page.next_cursor is None


async def test_calls_are_filtered_by_status_and_stage(uow_factory: UnitOfWorkFactory) -> None:
    await add_tenants(uow_factory, make_tenant())
    received = make_call("acme", "received", T0)
    transcribed = advance_to(
        make_call("acme", "transcribed", T0 + timedelta(minutes=1)), Stage.TRANSCRIBED
    )
    completed = advance_to(
        make_call("acme", "completed", T0 + timedelta(minutes=2)), Stage.COMPLETED
    )
    failed = make_call("acme", "failed", T0 + timedelta(minutes=3))
    failed.fail(Stage.RECEIVED, "no such recording", T1)
    await add_calls(uow_factory, received, transcribed, completed, failed)

    assert await list_ids(uow_factory, "acme", statuses=["received"]) == {"CALreceived"}
    assert await list_ids(uow_factory, "acme", statuses=["completed"]) == {"CALcompleted"}
    assert await list_ids(uow_factory, "acme", statuses=["failed"]) == {"CALfailed"}
    assert await list_ids(uow_factory, "acme", statuses=["processing"]) == {"CALtranscribed"}
    assert await list_ids(uow_factory, "acme", statuses=["TRANSCRIBED"]) == {"CALtranscribed"}
    assert await list_ids(uow_factory, "acme", statuses=["ANALYZED"]) == set()
    assert await list_ids(uow_factory, "acme", statuses=["received", "completed"]) == {
        "CALreceived",
        "CALcompleted",
    }
    assert len(await list_ids(uow_factory, "acme")) == 4


async def test_calls_are_filtered_by_since(uow_factory: UnitOfWorkFactory) -> None:
    await add_tenants(uow_factory, make_tenant())
    await add_calls(
        uow_factory, *(make_call("acme", f"s{i}", T0 + timedelta(minutes=i)) for i in range(5))
    )
    since = T0 + timedelta(minutes=2, seconds=30)
    # The same instant written in Denver's offset must select the same calls.
    since_elsewhere = since.astimezone(timezone(timedelta(hours=-7)))

    assert await list_ids(uow_factory, "acme", since=since) == {"CALs3", "CALs4"}
    assert await list_ids(uow_factory, "acme", since=since_elsewhere) == {"CALs3", "CALs4"}


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        "%%%",
        _b64(b'"just text"'),
        _b64(b"[1, 2, 3]"),
        _b64(b'["yesterday", "CAL1"]'),
        _b64(b'["2026-03-04T15:30:00", "CAL1"]'),  # no UTC offset: not one we issue
        _b64(b'["2026-03-04T15:30:00+00:00", 17]'),
        _b64(b"\xff\xfe"),
    ],
)
async def test_an_invalid_cursor_is_a_validation_error(
    uow_factory: UnitOfWorkFactory, cursor: str
) -> None:
    await add_tenants(uow_factory, make_tenant())
    await add_calls(uow_factory, make_call("acme", "1007", T0))

    async with uow_factory(read_only=True) as uow:
        with pytest.raises(ValidationFailed):
            await uow.calls.list("acme", cursor=cursor)


# --- tenant isolation --------------------------------------------------------------------


async def test_the_same_call_id_under_two_tenants_is_two_calls(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await add_tenants(
        uow_factory, make_tenant("acme", ACME_COMPANY), make_tenant("beta", BETA_COMPANY)
    )
    for_acme = make_call("acme", "2001", T0, ACME_COMPANY, customer_name="Acme Caller")
    for_beta = make_call("beta", "2001", T1, BETA_COMPANY, customer_name="Beta Caller")

    async with uow_factory() as uow:
        assert await uow.calls.add(for_acme) is True
        assert await uow.calls.add(for_beta) is True
        await uow.commit()
    async with uow_factory() as uow:
        acme_call = await uow.calls.get("acme", for_acme.call_id)
        assert acme_call is not None
        acme_call.advance(Stage.RECORDING_STORED, T1)
        await uow.calls.update(acme_call)
        await uow.commit()

    got_acme = await read_call(uow_factory, "acme", for_acme.call_id)
    got_beta = await read_call(uow_factory, "beta", for_beta.call_id)
    assert got_acme is not None
    assert got_beta is not None
    assert (got_acme.metadata.caller_name, got_acme.stage) == (
        "Acme Caller",
        Stage.RECORDING_STORED,
    )
    assert (got_beta.metadata.caller_name, got_beta.stage) == ("Beta Caller", Stage.RECEIVED)
    assert got_beta.raw_payload["company_id"] == BETA_COMPANY


async def test_a_tenant_cannot_read_another_tenants_call(uow_factory: UnitOfWorkFactory) -> None:
    await add_tenants(
        uow_factory, make_tenant("acme", ACME_COMPANY), make_tenant("beta", BETA_COMPANY)
    )
    only_acme = make_call("acme", "2002", T0)
    await add_calls(uow_factory, only_acme)

    assert await read_call(uow_factory, "beta", only_acme.call_id) is None
    async with uow_factory() as uow:
        with pytest.raises(CallNotFound):
            await uow.calls.update(make_call("beta", "2002", T0, BETA_COMPANY))


async def test_a_tenants_listing_never_shows_another_tenants_calls(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await add_tenants(
        uow_factory, make_tenant("acme", ACME_COMPANY), make_tenant("beta", BETA_COMPANY)
    )
    await add_calls(
        uow_factory,
        *(make_call("acme", f"a{i}", T0 + timedelta(minutes=i)) for i in range(4)),
        make_call("beta", "b0", T0 + timedelta(seconds=30), BETA_COMPANY),
    )

    async with uow_factory(read_only=True) as uow:
        beta_all = await uow.calls.list("beta")
        beta_received = await uow.calls.list("beta", statuses=["received"], since=T0)
        acme_first = await uow.calls.list("acme", limit=1)
        assert acme_first.next_cursor is not None
        # A cursor issued for acme's listing, replayed on beta's, still shows only beta's.
        beta_with_acme_cursor = await uow.calls.list("beta", cursor=acme_first.next_cursor)

    for page in (beta_all, beta_received, beta_with_acme_cursor):
        assert [(c.tenant_id, c.call_id) for c in page.calls] == [("beta", "CALb0")]


# --- api keys ----------------------------------------------------------------------------


async def test_an_api_key_is_found_by_its_hash(uow_factory: UnitOfWorkFactory) -> None:
    await add_tenants(
        uow_factory, make_tenant("acme", ACME_COMPANY), make_tenant("beta", BETA_COMPANY)
    )
    acme_key, acme_record = new_api_key("acme", "a" * 43, T0)
    beta_key, beta_record = new_api_key("beta", "b" * 43, T1)

    async with uow_factory() as uow:
        await uow.api_keys.add(acme_record)
        await uow.api_keys.add(beta_record)
        await uow.commit()

    async with uow_factory(read_only=True) as uow:
        found_acme = await uow.api_keys.find(hash_api_key(acme_key))
        found_beta = await uow.api_keys.find(hash_api_key(beta_key))
        unknown = await uow.api_keys.find(hash_api_key("ipk_never-issued"))

    assert found_acme == acme_record
    assert found_beta == beta_record
    assert unknown is None


# --- jobs --------------------------------------------------------------------------------


async def test_jobs_are_pending_per_call(uow_factory: UnitOfWorkFactory) -> None:
    await add_tenants(
        uow_factory, make_tenant("acme", ACME_COMPANY), make_tenant("beta", BETA_COMPANY)
    )
    await add_calls(
        uow_factory,
        make_call("acme", "3001", T0),
        make_call("acme", "3002", T0),
        make_call("beta", "3001", T0, BETA_COMPANY),
    )
    trace = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    first = Job("job-1", "acme", "CAL3001", T0, trace)
    retry = Job("job-2", "acme", "CAL3001", T0 + timedelta(seconds=30))
    other_call = Job("job-3", "acme", "CAL3002", T0)
    other_tenant = Job("job-4", "beta", "CAL3001", T0)

    async with uow_factory(read_only=True) as uow:
        assert await uow.jobs.pending_count() == 0
    async with uow_factory() as uow:
        for job in (first, retry, other_call, other_tenant):
            await uow.jobs.add(job, due_at=job.enqueued_at)
        await uow.commit()

    async with uow_factory(read_only=True) as uow:
        count = await uow.jobs.pending_count()
        for_call = await uow.jobs.pending_for("acme", "CAL3001")
        for_beta = await uow.jobs.pending_for("beta", "CAL3001")
        for_nothing = await uow.jobs.pending_for("acme", "CAL9999")

    assert count == 4
    assert sorted(for_call, key=lambda j: j.job_id) == [first, retry]
    assert list(for_beta) == [other_tenant]
    assert list(for_nothing) == []


# --- unit of work ------------------------------------------------------------------------


async def test_leaving_without_commit_discards_the_writes(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.tenants.add(make_tenant("acme"))
        await uow.calls.add(make_call("acme", "4001", T0))
        assert await uow.tenants.get("acme") is not None, "a unit of work reads its own writes"

    assert await read_tenant(uow_factory, "acme") is None
    assert await read_call(uow_factory, "acme", "CAL4001") is None


async def test_an_error_in_the_block_discards_the_writes(uow_factory: UnitOfWorkFactory) -> None:
    async def write_then_fail() -> None:
        async with uow_factory() as uow:
            await uow.tenants.add(make_tenant("acme"))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await write_then_fail()

    assert await read_tenant(uow_factory, "acme") is None
    # The store is still usable afterwards.
    await add_tenants(uow_factory, make_tenant("acme"))
    assert await read_tenant(uow_factory, "acme") is not None


async def test_committed_writes_are_seen_by_a_read_only_unit_of_work(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await uow.tenants.add(make_tenant("acme"))
        await uow.commit()
        # Written after the commit and never committed: discarded.
        await uow.tenants.add(make_tenant("beta", BETA_COMPANY))

    assert await read_tenant(uow_factory, "acme") is not None
    assert await read_tenant(uow_factory, "beta") is None


async def test_uncommitted_writes_are_invisible_to_readers(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as writer:
        await writer.tenants.add(make_tenant("acme"))
        async with uow_factory(read_only=True) as reader:
            assert await reader.tenants.get("acme") is None
        await writer.commit()

    assert await read_tenant(uow_factory, "acme") is not None


async def test_a_read_only_unit_of_work_refuses_to_commit(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory(read_only=True) as uow:
        with pytest.raises(RuntimeError):
            await uow.commit()


async def test_two_concurrent_writers_both_land(uow_factory: UnitOfWorkFactory) -> None:
    await add_tenants(uow_factory, make_tenant())

    async def write(call: Call) -> None:
        async with uow_factory() as uow:
            assert await uow.calls.add(call)
            await asyncio.sleep(0.01)  # yield mid-transaction, so the two really interleave
            await uow.commit()

    async with asyncio.timeout(10):
        await asyncio.gather(
            write(make_call("acme", "5001", T0)), write(make_call("acme", "5002", T1))
        )

    assert await list_ids(uow_factory, "acme") == {"CAL5001", "CAL5002"}
