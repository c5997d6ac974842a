"""The CRM adapters when the CRM misbehaves, against the stand-ins on 127.0.0.1: rate limits,
5xx, an open circuit, expired and revoked credentials, secrets kept out of messages and logs;
and exactly-once through ProcessCall when a create's answer is lost."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from adapters.hubspot import HubSpotCrmGateway
from adapters.salesforce import SalesforceCrmGateway
from domain.crm import CrmActivity, CrmContact
from domain.errors import PermanentFailure, TransientFailure
from domain.throttle import CircuitBreaker, TokenBucket
from entrypoints.standins import serve
from entrypoints.standins.hubspot import FakeHubSpot
from entrypoints.standins.salesforce import FakeSalesforce

TOKEN = "pat-na1-0f1e2d3c-SECRET-hubspot-token"
CLIENT_SECRET = "sf-SECRET-client-secret-9876"
FAST = {"backoff_base_s": 0.01, "backoff_max_s": 0.05, "timeout_s": 5.0}


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def hubspot() -> AsyncIterator[tuple[FakeHubSpot, str]]:
    fake = FakeHubSpot(token=TOKEN)
    async with serve(fake.app()) as url:
        yield fake, url


@pytest.fixture
async def salesforce() -> AsyncIterator[tuple[FakeSalesforce, str]]:
    fake = FakeSalesforce(client_id="sf-client", client_secret=CLIENT_SECRET)
    async with serve(fake.app()) as url:
        yield fake, url


def hubspot_gateway(
    url: str, session: aiohttp.ClientSession, breaker: CircuitBreaker | None = None, **kw: Any
) -> HubSpotCrmGateway:
    options = {**FAST, "limiter": TokenBucket(500, 50), **kw}
    return HubSpotCrmGateway(
        base_url=url, token=TOKEN, session=session, breaker=breaker or CircuitBreaker(), **options
    )


def salesforce_gateway(url: str, session: aiohttp.ClientSession, **kw: Any) -> SalesforceCrmGateway:
    options = {**FAST, "limiter": TokenBucket(500, 50), "breaker": CircuitBreaker(), **kw}
    return SalesforceCrmGateway(
        instance_url=url,
        client_id="sf-client",
        client_secret=CLIENT_SECRET,
        session=session,
        **options,
    )


def an_activity(key: str = "acme:CAL1") -> CrmActivity:
    at = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)
    return CrmActivity(key, "Inbound call", "summary", at, "inbound", 42, True, None, None)


def assert_within_rate(arrivals: list[float], rate: float, burst: int) -> None:
    """No window of the recorded arrivals holds more than burst + rate * its length. 20 ms of
    allowance per window covers the network's jitter between sending and arriving."""
    times = sorted(arrivals)
    for i, j in itertools.combinations_with_replacement(range(len(times)), 2):
        window = times[j] - times[i]
        assert j - i + 1 <= burst + rate * (window + 0.02), (j - i + 1, window)


# --- HubSpot ---------------------------------------------------------------------------------


async def test_hubspot_daily_limit_defers_to_the_reset_without_retrying(
    hubspot: tuple[FakeHubSpot, str], session: aiohttp.ClientSession
) -> None:
    fake, url = hubspot
    fake.throttle_next(3, policy="DAILY")
    late_evening = datetime(2026, 3, 4, 23, 0, tzinfo=UTC)
    gateway = hubspot_gateway(url, session, now_utc=lambda: late_evening)

    with pytest.raises(TransientFailure, match="daily") as raised:
        await gateway.find_activity("acme:CAL1")

    assert raised.value.retry_after_s == pytest.approx(3600)  # midnight UTC
    assert len(fake.requests) == 1

    # Until the reset, the next syncs fail fast instead of spending requests on refusals.
    with pytest.raises(TransientFailure, match="circuit open") as again:
        await gateway.upsert_contact(CrmContact("+13035550142"))
    assert (again.value.retry_after_s or 0) > 3500
    assert len(fake.requests) == 1


async def test_hubspot_daily_reset_follows_the_account_time_zone(
    hubspot: tuple[FakeHubSpot, str], session: aiohttp.ClientSession
) -> None:
    fake, url = hubspot
    fake.throttle_next(1, policy="DAILY")
    at = datetime(2026, 3, 4, 23, 0, tzinfo=UTC)  # 16:00 in Denver (UTC-7 in March)
    settings = {"account_timezone": "America/Denver"}
    gateway = hubspot_gateway(url, session, now_utc=lambda: at, settings=settings)

    with pytest.raises(TransientFailure) as raised:
        await gateway.find_activity("acme:CAL1")

    assert raised.value.retry_after_s == pytest.approx(8 * 3600)


async def test_hubspot_5xx_is_retried_then_succeeds(
    hubspot: tuple[FakeHubSpot, str], session: aiohttp.ClientSession
) -> None:
    fake, url = hubspot
    fake.fail_next(2, status=502)

    assert await hubspot_gateway(url, session).find_activity("acme:CAL1") is None
    assert len(fake.requests) == 3


async def test_hubspot_create_is_not_resent_after_a_5xx_of_unknown_outcome(
    hubspot: tuple[FakeHubSpot, str], session: aiohttp.ClientSession
) -> None:
    fake, url = hubspot
    fake.fail_next(1, status=503)

    with pytest.raises(TransientFailure, match="503"):
        await hubspot_gateway(url, session).create_activity(an_activity(), None)

    assert len(fake.requests) == 1  # the next delivery's find_activity settles it


async def test_hubspot_circuit_opens_then_fails_fast_then_tries_once(
    hubspot: tuple[FakeHubSpot, str], session: aiohttp.ClientSession
) -> None:
    fake, url = hubspot
    fake.fail_next(100, status=503)
    breaker = CircuitBreaker(failure_threshold=3, reset_after_s=0.3)
    gateway = hubspot_gateway(url, session, breaker, max_retries=10)

    with pytest.raises(TransientFailure, match="circuit open") as raised:
        await gateway.find_activity("acme:CAL1")
    assert len(fake.requests) == 3
    assert 0 < (raised.value.retry_after_s or 0) <= 0.3

    with pytest.raises(TransientFailure, match="circuit open"):
        await gateway.upsert_contact(CrmContact("+13035550142"))
    assert len(fake.requests) == 3  # failed fast: nothing sent

    await asyncio.sleep(0.35)
    fake.clear_failures()
    assert await gateway.find_activity("acme:CAL1") is None  # the trial closes the circuit
    assert len(fake.requests) == 4


async def test_hubspot_rejected_token_is_permanent(
    hubspot: tuple[FakeHubSpot, str], session: aiohttp.ClientSession
) -> None:
    fake, url = hubspot
    fake.token = "another-token"

    with pytest.raises(PermanentFailure, match="hubspot rejected the token"):
        await hubspot_gateway(url, session).find_activity("acme:CAL1")
    assert len(fake.requests) == 1


async def test_hubspot_missing_idempotency_property_fails_readably(
    session: aiohttp.ClientSession,
) -> None:
    fake = FakeHubSpot(token=TOKEN, call_properties=set())
    async with serve(fake.app()) as url:
        with pytest.raises(PermanentFailure, match=r"\(400\): Property 'callrail_call_key'"):
            await hubspot_gateway(url, session).find_activity("acme:CAL1")


async def test_hubspot_email_of_another_contact_leads_to_that_contact(
    hubspot: tuple[FakeHubSpot, str], session: aiohttp.ClientSession
) -> None:
    fake, url = hubspot
    other = fake.add_contact(phone="+17205550187", email="jane@example.com")
    gateway = hubspot_gateway(url, session)

    # No contact has the caller's number, but HubSpot keeps emails unique: the create is
    # refused (409) naming the contact that has it, which is the same person.
    found = await gateway.upsert_contact(CrmContact("+13035550142", "Jane", "jane@example.com"))
    assert found == other
    assert len(fake.contacts) == 1

    # Found by number, updated with an email someone else has: updated without it.
    mine = fake.add_contact(phone="303-555-0199")
    updated = await gateway.upsert_contact(CrmContact("+13035550199", "Joe", "jane@example.com"))
    assert updated == mine
    assert fake.contacts[mine]["firstname"] == "Joe"
    assert "email" not in fake.contacts[mine]


# --- Salesforce ------------------------------------------------------------------------------


async def test_salesforce_token_expiry_mid_run_refreshes_exactly_once(
    salesforce: tuple[FakeSalesforce, str], session: aiohttp.ClientSession
) -> None:
    fake, url = salesforce
    gateway = salesforce_gateway(url, session)
    assert await gateway.find_activity("acme:CAL1") is None
    assert fake.token_requests == 1

    fake.expire_tokens()
    # Three requests meet the expired token at once; they share one refresh.
    found = await asyncio.gather(*(gateway.find_activity(f"acme:CAL{i}") for i in range(3)))
    contact_id = await gateway.upsert_contact(CrmContact("+13035550142", "Jane Doe"))

    assert found == [None, None, None]
    assert fake.leads[contact_id]["CallRail_Phone__c"] == "+13035550142"  # "+" survives the URL
    assert fake.token_requests == 2


@pytest.mark.parametrize("warm", [False, True])
async def test_salesforce_revoked_credentials_fail_permanently_without_a_loop(
    salesforce: tuple[FakeSalesforce, str], session: aiohttp.ClientSession, warm: bool
) -> None:
    fake, url = salesforce
    gateway = salesforce_gateway(url, session)
    if warm:
        await gateway.find_activity("acme:CAL1")  # a cached token, revoked below
    sent_before = len(fake.requests)
    fake.revoke_credentials()

    for _ in range(2):
        with pytest.raises(PermanentFailure, match=r"^salesforce rejected the credentials$"):
            await gateway.find_activity("acme:CAL1")

    # Each attempt: at most the API request and one token request.
    assert len(fake.requests) - sent_before <= 4


async def test_salesforce_second_rejection_after_a_refresh_is_permanent(
    salesforce: tuple[FakeSalesforce, str], session: aiohttp.ClientSession
) -> None:
    fake, url = salesforce
    fake.reject_sessions = True

    with pytest.raises(PermanentFailure, match="salesforce rejected the credentials"):
        await salesforce_gateway(url, session).find_activity("acme:CAL1")

    assert fake.token_requests == 2
    assert len(fake.requests) == 4  # token, request, refresh, request


async def test_salesforce_request_limit_backs_off_then_gives_up(
    salesforce: tuple[FakeSalesforce, str], session: aiohttp.ClientSession
) -> None:
    fake, url = salesforce
    fake.limit_next(10)

    with pytest.raises(TransientFailure, match="request limit"):
        await salesforce_gateway(url, session, max_retries=2).find_activity("acme:CAL1")

    api_requests = [r for r in fake.requests if r.path.startswith("/services/data/")]
    assert len(api_requests) == 3


async def test_salesforce_request_limit_on_a_create_is_resent(
    salesforce: tuple[FakeSalesforce, str], session: aiohttp.ClientSession
) -> None:
    fake, url = salesforce
    gateway = salesforce_gateway(url, session)
    await gateway.find_activity("acme:CAL1")
    fake.limit_next(1)  # refused before any work: safe to send again

    task_id = await gateway.create_activity(an_activity(), None)

    assert list(fake.tasks) == [task_id]


async def test_salesforce_5xx_is_retried_then_transient(
    salesforce: tuple[FakeSalesforce, str], session: aiohttp.ClientSession
) -> None:
    fake, url = salesforce
    gateway = salesforce_gateway(url, session, max_retries=2)
    await gateway.find_activity("acme:CAL1")
    fake.fail_next(2)
    assert await gateway.find_activity("acme:CAL1") is None
    fake.fail_next(5)
    with pytest.raises(TransientFailure, match="503"):
        await gateway.find_activity("acme:CAL1")


# --- secrets -------------------------------------------------------------------------------


async def test_no_message_or_log_line_carries_a_secret(
    hubspot: tuple[FakeHubSpot, str],
    salesforce: tuple[FakeSalesforce, str],
    session: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    hub, hub_url = hubspot
    sf, sf_url = salesforce
    patient = {"failure_threshold": 1000}  # every scenario must reach the stand-in
    hs = hubspot_gateway(hub_url, session, CircuitBreaker(**patient))
    sfg = salesforce_gateway(sf_url, session, max_retries=1, breaker=CircuitBreaker(**patient))
    contact = CrmContact("+13035550142")

    def daily_limit() -> None:
        hub.token = TOKEN
        hub.throttle_next(1, "DAILY")

    Act = Callable[[], Awaitable[object]]
    scenarios: list[tuple[Callable[[], None], Act, str]] = [
        (lambda: hub.throttle_next(9, interval_ms=10), lambda: hs.find_activity("k"), "rate"),
        (lambda: hub.fail_next(9), lambda: hs.upsert_contact(contact), "502"),
        (lambda: None, lambda: hs.create_activity(an_activity(), "999999"), r"\(400\)"),
        (lambda: setattr(hub, "token", "other"), lambda: hs.find_activity("k"), "token"),
        (lambda: sf.limit_next(9), lambda: sfg.find_activity("k"), "request limit"),
        (lambda: sf.fail_next(9), lambda: sfg.upsert_contact(contact), "503"),
        (
            sf.expire_tokens,
            lambda: sfg.create_activity(an_activity(), "00Q000000000000999"),
            "FIELD_INTEGRITY_EXCEPTION",
        ),
        (lambda: setattr(sf, "reject_sessions", True), lambda: sfg.find_activity("k"), "rejected"),
        (sf.revoke_credentials, lambda: sfg.find_activity("k"), "rejected the credentials"),
        # Last for HubSpot: the daily limit keeps its circuit open until the reset.
        (daily_limit, lambda: hs.find_activity("k"), "daily"),
    ]
    messages = []
    for arrange, act, expected in scenarios:
        hub.clear_failures()
        sf.clear_failures()
        arrange()
        with pytest.raises((TransientFailure, PermanentFailure), match=expected) as raised:
            await act()
        messages += [str(raised.value), repr(raised.value)]

    logged = [r.getMessage() for r in caplog.records] + [caplog.text]
    assert len(caplog.records) > 5  # the retries were logged
    for text in messages + logged:
        assert TOKEN not in text
        assert CLIENT_SECRET not in text
        assert "00Dfake!token" not in text
