"""The CRM sync through ProcessCall, with in-memory repositories and the real HubSpot adapter
pointed at the HubSpot stand-in: a job redelivered after the CRM's answer to a create was lost
leaves exactly one contact and one call; a 429 storm is ridden out within the rate limit and no
call is lost."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator

import aiohttp
import pytest

from adapters.hubspot import HubSpotCrmGateway
from adapters.memory.fakes import (
    FixedClock,
    InMemoryAudioStore,
    InMemoryRecordingSource,
    ScriptedCallAnalyzer,
    ScriptedTranscriber,
)
from adapters.memory.repositories import InMemoryUnitOfWorkFactory
from domain.call import Call
from domain.results import CallAnalysis, Intent, SyncStatus
from domain.retry import RetryPolicy
from domain.stages import Stage
from domain.tenant import SecretValue, Tenant, parse_tenant
from domain.throttle import CircuitBreaker, TokenBucket
from domain.usecases.processing import Outcome, ProcessCall, ProcessCallCommand
from domain.webhook import parse_incoming_call
from entrypoints.standins import serve
from entrypoints.standins.hubspot import FakeHubSpot
from ports.crm import CrmGateway, CrmGatewayFactory
from tests.support import callrail_body, tenant_document

TOKEN = "pat-na1-pipeline-test-token"
STATUSES = {"hot": "OPEN", "warm": "OPEN", "cold": "NEW", "spam": "UNQUALIFIED"}


class StandInHubSpotFactory(CrmGatewayFactory):
    """The tenant's HubSpot, at the stand-in; one limiter and one breaker for the tenant."""

    def __init__(self, url: str, session: aiohttp.ClientSession, limiter: TokenBucket):
        self.url, self.session, self.limiter = url, session, limiter
        self.breaker = CircuitBreaker(failure_threshold=50)

    async def for_tenant(self, tenant: Tenant) -> CrmGateway | None:
        crm = tenant.config.crm
        token = crm.secret_setting("access_token")
        if crm.type != "hubspot" or not isinstance(token, SecretValue):
            return None
        return HubSpotCrmGateway(
            base_url=self.url,
            token=token.value,
            session=self.session,
            limiter=self.limiter,
            breaker=self.breaker,
            max_retries=1,
            backoff_base_s=0.01,
            backoff_max_s=0.05,
            timeout_s=5.0,
            settings=crm.settings,
        )


class Pipeline:
    def __init__(self, clock: FixedClock, crm: CrmGatewayFactory):
        self.clock = clock
        self.uow = InMemoryUnitOfWorkFactory()
        analysis = CallAnalysis(
            engine="scripted",
            summary="Wants a quote for a new furnace",
            intent=Intent.QUOTE_REQUEST,
            caller_name="Jane Doe",
        )
        self.process = ProcessCall(
            self.uow,
            InMemoryRecordingSource(),
            InMemoryAudioStore(),
            ScriptedTranscriber(),
            ScriptedCallAnalyzer(analysis),
            crm,
            clock,
            RetryPolicy(max_attempts=6, base_delay_s=0.01),
        )

    async def add_tenant(self) -> None:
        document = tenant_document("acme")
        crm = {"type": "hubspot", "access_token": TOKEN, "lead_status_by_tier": STATUSES}
        document["config"]["crm_config"] = crm
        async with self.uow() as uow:
            await uow.tenants.add(parse_tenant(document, self.clock.now()))
            await uow.commit()

    async def add_missed_call(self, number: str, caller: str) -> str:
        """A call with no recording: it goes straight to scoring and the sync."""
        body = callrail_body(
            number, recording=None, answered="false", duration="0", customer_phone_number=caller
        )
        call = Call.receive("acme", parse_incoming_call(json.loads(body)), self.clock.now())
        async with self.uow() as uow:
            await uow.calls.add(call)
            await uow.commit()
        return call.call_id

    async def deliver(self, call_id: str) -> Outcome:
        result = await self.process(ProcessCallCommand("acme", call_id, "worker-1"))
        return result.outcome

    async def call(self, call_id: str) -> Call:
        async with self.uow(read_only=True) as uow:
            call = await uow.calls.get("acme", call_id)
        assert call is not None
        return call


@pytest.fixture
async def hubspot() -> AsyncIterator[tuple[FakeHubSpot, str]]:
    fake = FakeHubSpot(token=TOKEN)
    async with serve(fake.app()) as url:
        yield fake, url


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_a_job_delivered_three_times_makes_one_contact_and_one_call(
    hubspot: tuple[FakeHubSpot, str], session: aiohttp.ClientSession, clock: FixedClock
) -> None:
    fake, url = hubspot
    pipeline = Pipeline(clock, StandInHubSpotFactory(url, session, TokenBucket(100, 10)))
    await pipeline.add_tenant()
    call_id = await pipeline.add_missed_call("c1", "+13035550142")
    contact_id = fake.add_contact(phone="(303) 555-0142", firstname="Jane")
    fake.drop_next_create()  # the call is created; its answer never arrives

    assert await pipeline.deliver(call_id) is Outcome.RETRY
    assert await pipeline.deliver(call_id) is Outcome.DONE
    sent = len(fake.requests)
    assert await pipeline.deliver(call_id) is Outcome.DONE

    assert len(fake.requests) == sent  # a finished call is not synced again
    assert list(fake.contacts) == [contact_id]
    [activity_id] = fake.calls
    assert fake.call_contacts[activity_id] == [contact_id]
    assert fake.calls[activity_id]["hs_call_status"] == "NO_ANSWER"
    call = await pipeline.call(call_id)
    assert call.stage is Stage.COMPLETED
    assert call.crm_sync is not None
    assert call.crm_sync.status is SyncStatus.SUCCESS
    assert (call.crm_sync.contact_id, call.crm_sync.activity_id) == (contact_id, activity_id)
    assert call.crm_sync.attempts == 2


async def test_lost_answers_to_both_creates_still_make_one_of_each(
    hubspot: tuple[FakeHubSpot, str], session: aiohttp.ClientSession, clock: FixedClock
) -> None:
    fake, url = hubspot
    pipeline = Pipeline(clock, StandInHubSpotFactory(url, session, TokenBucket(100, 10)))
    await pipeline.add_tenant()
    call_id = await pipeline.add_missed_call("c1", "+13035550142")
    fake.drop_next_create(2)  # the contact's answer, then the call's

    outcomes = [await pipeline.deliver(call_id) for _ in range(4)]

    assert outcomes == [Outcome.RETRY, Outcome.RETRY, Outcome.DONE, Outcome.DONE]
    [(contact_id, contact)] = fake.contacts.items()
    [(activity_id, _)] = fake.calls.items()
    assert fake.call_contacts[activity_id] == [contact_id]
    assert (contact["phone"], contact["firstname"], contact["lastname"]) == (
        "+13035550142",
        "Jane",
        "Doe",
    )
    assert contact["hs_lead_status"] in STATUSES.values()
    call = await pipeline.call(call_id)
    assert call.stage is Stage.COMPLETED
    assert call.crm_sync is not None
    assert call.crm_sync.status is SyncStatus.SUCCESS
    assert (call.crm_sync.contact_id, call.crm_sync.activity_id) == (contact_id, activity_id)


async def test_a_429_storm_is_ridden_out_within_the_rate_limit(
    hubspot: tuple[FakeHubSpot, str], session: aiohttp.ClientSession, clock: FixedClock
) -> None:
    fake, url = hubspot
    rate, burst = 20.0, 2
    pipeline = Pipeline(clock, StandInHubSpotFactory(url, session, TokenBucket(rate, burst)))
    await pipeline.add_tenant()
    callers = ["+13035550142", "+17205550187", "+19705550163"]
    call_ids = [await pipeline.add_missed_call(f"c{i}", c) for i, c in enumerate(callers)]
    fake.throttle_next(5, interval_ms=20)

    async def until_done(call_id: str) -> list[Outcome]:
        outcomes = [await pipeline.deliver(call_id)]
        while outcomes[-1] is Outcome.RETRY and len(outcomes) < 6:
            outcomes.append(await pipeline.deliver(call_id))
        return outcomes

    deliveries = await asyncio.gather(*(until_done(c) for c in call_ids))

    assert all(d[-1] is Outcome.DONE for d in deliveries)
    assert any(Outcome.RETRY in d for d in deliveries)  # the storm outlasted one job's retries
    for call_id in call_ids:
        call = await pipeline.call(call_id)
        assert call.crm_sync is not None
        assert call.crm_sync.status is SyncStatus.SUCCESS
    assert len(fake.calls) == 3
    assert len(fake.contacts) == 3
    # The limit holds on what the CRM saw, not on the test's clock: no window of arrivals holds
    # more than burst + rate * its length (20 ms allowance for network jitter).
    arrivals = sorted(r.at for r in fake.requests)
    for i, j in itertools.combinations_with_replacement(range(len(arrivals)), 2):
        window = arrivals[j] - arrivals[i]
        assert j - i + 1 <= burst + rate * (window + 0.02), (j - i + 1, window)
