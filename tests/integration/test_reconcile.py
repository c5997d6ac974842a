"""Reconciliation end to end below the CLI: ReconcileCalls over the in-memory unit of work, with
the real CallRailCallsApi talking to the CallRail stand-in on 127.0.0.1."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import attrs
import pytest

from adapters.callrail.calls_api import BURST, FIELDS, RATE_PER_S, CallRailCallsApi
from adapters.memory.fakes import FixedClock, InMemoryJobQueue, InMemorySecretStore, SequentialIds
from adapters.memory.repositories import InMemoryUnitOfWorkFactory
from domain.call import Call
from domain.errors import PermanentFailure, RateLimited, TransientFailure
from domain.usecases.intake import AcceptWebhook, AdmitCall, ReceiveWebhook
from domain.usecases.reconcile import ReconcileCalls, ReconcileCommand, ReconcileReport
from domain.usecases.tenants import CreateTenant
from entrypoints.standins import serve
from entrypoints.standins.callrail import FakeCallRail
from tests.support import callrail_body, signed_headers, tenant_document

KEY = "crk-SECRET-callrail-api-key-0123456789"
ACCOUNT = "ACC8154748ae6bd4e278a7cddd38a662f4f"
COMPANY = "COM8154748ae6bd4e278a7cddd38a662f4f"
SINCE = datetime(2026, 3, 4, tzinfo=UTC)


class FakeTime:
    """The adapter's monotonic clock and sleep: waits cost nothing and are recorded."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@attrs.define
class World:
    fake: FakeCallRail
    url: str
    uow: InMemoryUnitOfWorkFactory
    queue: InMemoryJobQueue
    clock: FixedClock
    ids: SequentialIds
    secrets: InMemorySecretStore
    time: FakeTime = attrs.field(factory=FakeTime)

    def api(self, **options: Any) -> CallRailCallsApi:
        return CallRailCallsApi(
            self.secrets,
            self.url,
            monotonic=self.time.monotonic,
            sleep=self.time.sleep,
            **options,
        )

    def reconcile(self, api: CallRailCallsApi | None = None) -> ReconcileCalls:
        admit = AdmitCall(self.uow, self.queue, self.ids)
        return ReconcileCalls(self.uow, api or self.api(), admit, self.clock)

    async def run(self, api: CallRailCallsApi | None = None) -> ReconcileReport:
        return await self.reconcile(api)(ReconcileCommand("acme", SINCE))

    async def stored(self, call_id: str) -> tuple[Call | None, int]:
        async with self.uow(read_only=True) as tx:
            call = await tx.calls.get("acme", call_id)
            jobs = await tx.jobs.pending_for("acme", call_id)
        return call, len(jobs)


@pytest.fixture
async def world(
    memory_uow: InMemoryUnitOfWorkFactory,
    queue: InMemoryJobQueue,
    clock: FixedClock,
    ids: SequentialIds,
    secret_store: InMemorySecretStore,
) -> AsyncIterator[World]:
    document = tenant_document(
        company_id=COMPANY, callrail_account_id=ACCOUNT, callrail_api_key_ref="callrail/acme"
    )
    await CreateTenant(memory_uow, clock)(document)
    secret_store.secrets["callrail/acme"] = KEY
    fake = FakeCallRail(api_key=KEY, account_id=ACCOUNT)
    async with serve(fake.app()) as url:
        yield World(fake, url, memory_uow, queue, clock, ids, secret_store)


def add_calls(fake: FakeCallRail, count: int, **fields: Any) -> list[str]:
    """Calls an hour or more before the test clock (15:30 UTC), a minute apart."""
    ids = [f"CAL{n:04d}" for n in range(1, count + 1)]
    for n, call_id in enumerate(ids):
        fake.add_call(call_id, f"2026-03-04T07:{n:02d}:00.119-07:00", **fields)
    return ids


def queries(fake: FakeCallRail) -> list[dict[str, str]]:
    return [{k: v[0] for k, v in parse_qs(r.query).items()} for r in fake.requests]


async def test_missing_calls_are_ingested_once_across_two_runs(world: World) -> None:
    world.fake.add_call("CALloose", "2026-03-04T06:00:00.119-07:00", loose_types=True)
    world.fake.add_call("CALstrict", "2026-03-04T06:05:00-07:00", recorded=False)

    first = await world.run()
    second = await world.run()

    assert (first.seen, first.ingested, first.known) == (2, ("CALloose", "CALstrict"), ())
    assert (second.seen, second.ingested, second.known) == (2, (), ("CALloose", "CALstrict"))
    assert [job.call_id for job in world.queue.enqueued] == ["CALloose", "CALstrict"]
    # The second run only read: not even a job id was drawn for a write that was not needed.
    assert world.ids.new_id() == "id000003"
    loose, jobs = await world.stored("CALloose")
    assert loose is not None
    assert jobs == 1
    m = loose.metadata
    assert (m.duration_s, m.answered, m.voicemail, m.first_call) == (42, True, False, True)
    assert (m.caller, m.tracking_number, m.source) == (
        "+13035550142",
        "+17205550111",
        "Google Paid",
    )
    assert m.started_at == datetime(2026, 3, 4, 13, 0, 0, 119000, tzinfo=UTC)
    assert m.landing_page_url == "https://acme.example/furnace-repair"
    assert loose.received_at == world.clock.now()
    # The list's recording link wants the API key: the recording source asks the API instead.
    assert loose.recording_url is None
    assert loose.raw_payload["recording_api_url"].endswith(
        f"/v3/a/{ACCOUNT}/calls/CALloose/recording.json"
    )
    strict, _ = await world.stored("CALstrict")
    assert strict is not None
    assert "recording_api_url" not in strict.raw_payload


async def test_calls_received_by_webhook_are_left_untouched(world: World) -> None:
    accept = AcceptWebhook(world.uow, world.secrets, world.queue, world.clock, world.ids)
    body = callrail_body("0001", company_id=COMPANY)  # resource_id CAL0001
    await accept(ReceiveWebhook(body, signed_headers(body)["Signature"]))
    before, _ = await world.stored("CAL0001")
    assert before is not None
    add_calls(world.fake, 2)

    report = await world.run()

    assert (report.ingested, report.known) == (("CAL0002",), ("CAL0001",))
    after, jobs = await world.stored("CAL0001")
    assert after is not None
    assert jobs == 1  # the webhook's, and no other
    assert after.version == before.version
    assert after.raw_payload == before.raw_payload  # still the webhook's body
    assert "callername" in after.raw_payload
    assert [job.call_id for job in world.queue.enqueued] == ["CAL0001", "CAL0002"]


async def test_paging_over_three_pages(world: World) -> None:
    # Added out of order: the list is asked for oldest first.
    for call_id, minute in [("CALc", 30), ("CALa", 10), ("CALe", 50), ("CALb", 20), ("CALd", 40)]:
        world.fake.add_call(call_id, f"2026-03-04T07:{minute}:00-07:00")

    report = await world.run(world.api(per_page=2))

    assert report.ingested == ("CALa", "CALb", "CALc", "CALd", "CALe")
    sent = queries(world.fake)
    assert [q["page"] for q in sent] == ["1", "2", "3"]
    for q in sent:
        assert (q["per_page"], q["start_date"], q["company_id"]) == (
            "2",
            "2026-03-04T00:00:00Z",
            COMPANY,
        )
        assert (q["sorting"], q["order"]) == ("start_time", "asc")
        assert set(q["fields"].split(",")) == set(FIELDS)
    assert {r.path for r in world.fake.requests} == {f"/v3/a/{ACCOUNT}/calls.json"}


async def test_only_calls_since_the_given_time_are_listed(world: World) -> None:
    world.fake.add_call("CALold", "2026-03-03T23:59:59Z")
    world.fake.add_call("CALnew", "2026-03-04T00:00:00Z")

    assert (await world.run()).ingested == ("CALnew",)


async def test_a_429_mid_paging_raises_rate_limited_and_a_later_run_completes(
    world: World,
) -> None:
    ids = add_calls(world.fake, 5)
    api = world.api(per_page=2)
    world.fake.throttle_after(1)

    with pytest.raises(RateLimited, match="HTTP 429") as raised:
        await world.run(api)
    assert raised.value.retry_after_s == 300
    assert len(world.fake.requests) == 2  # the 429 is not sent again at once
    assert [(await world.stored(i))[0] is not None for i in ids] == [True] * 2 + [False] * 3

    # Until the wait is over, the account's requests fail fast without reaching CallRail.
    world.fake.clear_throttle()
    with pytest.raises(RateLimited, match="circuit open"):
        await world.run(api)
    assert len(world.fake.requests) == 2

    world.time.now += 300
    report = await world.run(api)
    assert (report.known, report.ingested) == (tuple(ids[:2]), tuple(ids[2:]))
    assert len(world.queue.enqueued) == 5


async def test_a_wrong_key_is_a_permanent_failure_that_names_no_key(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    add_calls(world.fake, 1)
    wrong = "crk-SECRET-wrong-key-9876543210"
    world.secrets.secrets["callrail/acme"] = wrong

    with pytest.raises(PermanentFailure, match=r"refused the API key .* \(HTTP 401\)") as raised:
        await world.run()

    assert len(world.fake.requests) == 1
    assert world.queue.enqueued == []
    for text in (str(raised.value), repr(raised.value), caplog.text):
        assert wrong not in text
        assert KEY not in text


async def test_a_missing_secret_is_a_permanent_failure(world: World) -> None:
    del world.secrets.secrets["callrail/acme"]

    with pytest.raises(PermanentFailure, match="CallRail API key: secret 'callrail/acme'"):
        await world.run()
    assert world.fake.requests == []


async def test_the_hourly_budget_paces_the_requests(world: World) -> None:
    assert BURST + RATE_PER_S * 3600 <= 1000  # CallRail's hourly limit per account
    add_calls(world.fake, 3)

    await world.run(world.api(per_page=1, rate_per_s=1000 / 3600, burst=1))

    assert world.time.sleeps == [pytest.approx(3.6), pytest.approx(3.6)]


async def test_a_5xx_is_sent_again_and_a_lasting_one_is_transient(world: World) -> None:
    add_calls(world.fake, 1)
    world.fake.answer_next(502, {"error": "Bad gateway"})

    assert (await world.run()).ingested == ("CAL0001",)
    assert len(world.fake.requests) == 2

    for _ in range(3):
        world.fake.answer_next(503, {"error": "Unavailable"})
    with pytest.raises(TransientFailure, match="HTTP 503"):
        await world.run()
    assert len(world.fake.requests) == 5  # one and two resends


async def test_a_slow_answer_times_out_as_transient(world: World) -> None:
    world.fake.delay_s = 1.0

    with pytest.raises(TransientFailure, match="timed out"):
        await world.run(world.api(timeout_s=0.1))
    assert len(world.fake.requests) == 3


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ([], "not a JSON object"),
        ({"page": 1, "total_pages": 1}, "calls is not a list of objects"),
        ({"calls": [{"id": "CAL1"}, "CAL2"], "page": 1, "total_pages": 1}, "list of objects"),
        ({"calls": [], "page": "1", "total_pages": 1}, "not whole numbers"),
        ({"calls": [], "page": 1, "total_pages": True}, "not whole numbers"),
        ({"calls": [], "page": 1, "total_pages": -1}, "not whole numbers"),
        ({"calls": [], "page": 2, "total_pages": 3}, "page 2 came for page 1"),
    ],
)
async def test_an_answer_of_the_wrong_shape_is_refused(world: World, body: Any, why: str) -> None:
    world.fake.answer_next(200, body)

    with pytest.raises(PermanentFailure, match=f"unexpected document: .*{re.escape(why)}"):
        await world.run()


async def test_a_refusal_carries_callrails_message_without_the_key(world: World) -> None:
    world.fake.answer_next(400, {"error": f"Invalid company for token {KEY}\nsee docs"})

    with pytest.raises(PermanentFailure, match=r"\(HTTP 400\): Invalid company") as raised:
        await world.run()
    assert KEY not in str(raised.value)
    assert "\n" not in str(raised.value)


async def test_an_unknown_account_is_permanent(world: World) -> None:
    world.fake.account_id = "ACCother"

    with pytest.raises(PermanentFailure, match=r"\(HTTP 404\): Not found"):
        await world.run()


async def test_a_call_that_does_not_parse_is_reported_and_the_rest_ingested(
    world: World,
) -> None:
    world.fake.add_call("CALbad", "2026-03-04T06:00:00-07:00", duration="forty")
    world.fake.add_call("CALgood", "2026-03-04T06:01:00-07:00")

    report = await world.run()

    assert report.ingested == ("CALgood",)
    assert report.failed == (("CALbad", "duration: must be a whole number of seconds, 0 or more"),)
    assert (await world.stored("CALbad"))[0] is None
