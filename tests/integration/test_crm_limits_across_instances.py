"""The CRM budget and the Salesforce token as the deployment has them: each "instance" here is a
container built from the environment as `serve` builds it, and the gateways come from its CRM
factory, as ProcessCall gets them. The stand-ins record when each request arrived.

N instances with PIPELINE_WORKER_MAX_INSTANCES=N stay within one tenant's budget together (and
without it, they overspend it: the measure can fail). A tenant's syncs share one Salesforce
token until it expires; a rejected token is refreshed once, then the port's error is raised."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from adapters.hubspot import SUGGESTED_BURST as HUBSPOT_BURST
from adapters.hubspot import SUGGESTED_RATE_PER_S as HUBSPOT_RATE
from adapters.salesforce import SUGGESTED_BURST as SALESFORCE_BURST
from adapters.salesforce import SUGGESTED_RATE_PER_S as SALESFORCE_RATE
from adapters.salesforce import SalesforceCrmGateway, SalesforceTokenCache
from adapters.salesforce.token import EXPIRY_MARGIN_S, SHORTEST_SESSION_S, token_lifetime_s
from domain.crm import CrmActivity, CrmContact
from domain.errors import PermanentFailure
from domain.tenant import Tenant, parse_tenant
from domain.throttle import CircuitBreaker, TokenBucket
from entrypoints.config import load_settings
from entrypoints.container import Container, build_container
from entrypoints.standins import RecordedRequest, serve
from entrypoints.standins.hubspot import FakeHubSpot
from entrypoints.standins.salesforce import TOKEN_PATH, FakeSalesforce
from ports.crm import CrmGateway, CrmGatewayFactory
from tests.support import tenant_document

NOW = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)
HUBSPOT_TOKEN = "pat-na1-SECRET-hubspot-token"
SF_SECRET = "sf-SECRET-client-secret"
# How much closer two requests may arrive than they were sent (the event loop waking late).
JITTER_S = 0.1


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The credentials where the embedded shape's secret store (env://) reads them."""
    monkeypatch.setenv("PIPELINE_SECRET_ACME_HUBSPOT", HUBSPOT_TOKEN)
    monkeypatch.setenv("PIPELINE_SECRET_ACME_SF", SF_SECRET)


@pytest.fixture
async def hubspot() -> AsyncIterator[tuple[FakeHubSpot, str]]:
    fake = FakeHubSpot(token=HUBSPOT_TOKEN)
    async with serve(fake.app()) as url:
        yield fake, url


@pytest.fixture
async def salesforce() -> AsyncIterator[tuple[FakeSalesforce, str]]:
    fake = FakeSalesforce(client_id="sf-client", client_secret=SF_SECRET)
    async with serve(fake.app()) as url:
        yield fake, url


def an_instance(**env: str) -> Container:
    """One process of the deployment, configured from its environment."""
    return build_container(load_settings({"PIPELINE_CRM_HTTP_HOSTS": "127.0.0.1", **env}))


def crm_of(container: Container) -> CrmGatewayFactory:
    factory: CrmGatewayFactory = container.traced_crm()  # what ProcessCall is given
    return factory


async def close(instances: list[Container]) -> None:
    for container in instances:
        await container.crm().close()


def a_tenant(crm: str, url: str, tenant_id: str = "acme") -> Tenant:
    if crm == "hubspot":
        config: dict[str, Any] = {
            "type": "hubspot",
            "base_url": url,
            "access_token_ref": "acme-hubspot",
        }
    else:
        config = {
            "type": "salesforce",
            "instance_url": url,
            "client_id": "sf-client",
            "client_secret_ref": "acme-sf",
        }
    document = tenant_document(tenant_id, crm_config=config)
    return parse_tenant(document, NOW)


async def gateway(factory: CrmGatewayFactory, tenant: Tenant) -> CrmGateway:
    built = await factory.for_tenant(tenant)
    assert built is not None
    return built


def busiest_window(arrivals: list[float], rate: float, burst: int) -> tuple[int, float] | None:
    """A window of the arrivals that holds more than burst + rate * its length (allowing for
    the jitter between sending and arriving): (requests, seconds); None when there is none."""
    times = sorted(arrivals)
    for i, j in itertools.combinations_with_replacement(range(len(times)), 2):
        window = times[j] - times[i]
        if j - i + 1 > burst + rate * (window + JITTER_S):
            return j - i + 1, window
    return None


async def lookups_from_every_instance(
    factories: list[CrmGatewayFactory], tenant: Tenant, per_instance: int
) -> None:
    """Every instance looks calls up for the tenant at once, each lookup a sync's first
    request, through a gateway of its own as each delivery of a call has."""

    async def one(factory: CrmGatewayFactory, n: int) -> None:
        crm = await gateway(factory, tenant)
        assert await crm.find_activity(f"acme:CAL{n}") is None

    await asyncio.gather(*(one(factory, n) for factory in factories for n in range(per_instance)))


BUDGETS = {
    "hubspot": (HUBSPOT_RATE, HUBSPOT_BURST),
    "salesforce": (SALESFORCE_RATE, SALESFORCE_BURST),
}


@pytest.mark.usefixtures("secrets")
@pytest.mark.parametrize("crm", ["hubspot", "salesforce"])
async def test_instances_sharing_the_budget_stay_within_it_together(
    crm: str, hubspot: tuple[FakeHubSpot, str], salesforce: tuple[FakeSalesforce, str]
) -> None:
    fake: FakeHubSpot | FakeSalesforce
    fake, url = hubspot if crm == "hubspot" else salesforce
    rate, burst = BUDGETS[crm]
    n = 3
    instances = [an_instance(PIPELINE_WORKER_MAX_INSTANCES=str(n)) for _ in range(n)]
    try:
        started = time.monotonic()
        await lookups_from_every_instance([crm_of(c) for c in instances], a_tenant(crm, url), 4)
        took = time.monotonic() - started
    finally:
        await close(instances)

    arrivals = [r.at for r in fake.requests]
    assert len(arrivals) == n * 4 + (n if crm == "salesforce" else 0)  # + a token each
    assert busiest_window(arrivals, rate, max(burst, n)) is None
    # The budget is spent, not wasted: the requests take about as long as it makes them.
    assert took < (len(arrivals) - max(burst, n)) / rate + 2.0


@pytest.mark.usefixtures("secrets")
async def test_instances_that_each_think_they_are_alone_overspend(
    hubspot: tuple[FakeHubSpot, str],
) -> None:
    """The same run without the setting: every instance spends the whole budget."""
    fake, url = hubspot
    instances = [an_instance() for _ in range(3)]
    try:
        await lookups_from_every_instance(
            [crm_of(c) for c in instances], a_tenant("hubspot", url), 4
        )
    finally:
        await close(instances)

    assert busiest_window([r.at for r in fake.requests], HUBSPOT_RATE, HUBSPOT_BURST) is not None


# --- the Salesforce token -------------------------------------------------------------------


def api_requests(requests: list[RecordedRequest]) -> list[str]:
    return ["token" if r.path == TOKEN_PATH else r.method for r in requests]


async def a_sync(factory: CrmGatewayFactory, tenant: Tenant, n: int) -> None:
    """What ProcessCall asks of the CRM for one call: look it up, the caller, the activity."""
    crm = await gateway(factory, tenant)
    assert await crm.find_activity(f"{tenant.tenant_id}:CAL{n}") is None
    contact = await crm.upsert_contact(CrmContact(f"+1303555{n:04d}", "Jane Doe"))
    at = datetime(2026, 3, 4, 15, n, tzinfo=UTC)
    activity = CrmActivity(
        f"{tenant.tenant_id}:CAL{n}", "Inbound call", "summary", at, "inbound", 42, True, None, None
    )
    await crm.create_activity(activity, contact)


@pytest.mark.usefixtures("secrets")
async def test_a_tenants_syncs_share_one_token(
    salesforce: tuple[FakeSalesforce, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake, url = salesforce
    instance = an_instance()
    factory, acme = crm_of(instance), a_tenant("salesforce", url)
    try:
        await a_sync(factory, acme, 1)
        await a_sync(factory, acme, 2)
        await asyncio.gather(*(a_sync(factory, acme, n) for n in range(3, 6)))
        assert len(fake.tasks) == 5
        assert fake.token_requests == 1

        # Another tenant of the same org is another tenant: a token of its own.
        await a_sync(factory, a_tenant("salesforce", url, "other"), 6)
        assert fake.token_requests == 2
    finally:
        await close([instance])
    assert "00Dfake!token" not in caplog.text


@pytest.mark.usefixtures("secrets")
async def test_an_expired_token_is_refreshed_once_for_every_sync_that_meets_it(
    salesforce: tuple[FakeSalesforce, str],
) -> None:
    fake, url = salesforce
    instance = an_instance()
    factory, acme = crm_of(instance), a_tenant("salesforce", url)
    try:
        await a_sync(factory, acme, 1)
        fake.expire_tokens()
        fake.requests.clear()

        await asyncio.gather(*(a_sync(factory, acme, n) for n in range(2, 5)))

        assert fake.token_requests == 1  # three syncs met the expired token: one refresh
        assert len(fake.tasks) == 4
    finally:
        await close([instance])


@pytest.mark.usefixtures("secrets")
@pytest.mark.parametrize("how", ["revoked", "sessions rejected"])
async def test_a_rejected_token_is_refreshed_once_then_the_ports_error_is_raised(
    salesforce: tuple[FakeSalesforce, str], caplog: pytest.LogCaptureFixture, how: str
) -> None:
    caplog.set_level(logging.DEBUG)
    fake, url = salesforce
    instance = an_instance()
    factory, acme = crm_of(instance), a_tenant("salesforce", url)
    try:
        await a_sync(factory, acme, 1)
        if how == "revoked":
            fake.revoke_credentials()
        else:
            fake.reject_sessions = True
        fake.requests.clear()

        crm = await gateway(factory, acme)
        with pytest.raises(PermanentFailure, match=r"^salesforce rejected the credentials$"):
            await crm.find_activity("acme:CAL2")
    finally:
        await close([instance])

    if how == "revoked":  # the old token refused, and the credentials with it
        assert api_requests(fake.requests) == ["GET", "token"]
    else:  # a new token, refused as the old one was
        assert api_requests(fake.requests) == ["GET", "token", "GET"]
    assert "00Dfake!token" not in caplog.text
    assert SF_SECRET not in caplog.text


async def test_a_token_is_kept_until_the_shortest_session_ends_then_replaced_before_use(
    salesforce: tuple[FakeSalesforce, str],
) -> None:
    """Salesforce's answer says when the token was issued, not when it expires: it is used for
    the shortest session an org can set, and a new one is asked for before it would fail."""
    fake, url = salesforce
    now = [1000.0]
    tokens = SalesforceTokenCache(monotonic=lambda: now[0])
    async with aiohttp.ClientSession() as session:

        def a_gateway() -> SalesforceCrmGateway:
            return SalesforceCrmGateway(
                instance_url=url,
                client_id="sf-client",
                client_secret=SF_SECRET,
                session=session,
                limiter=TokenBucket(500, 50),
                breaker=CircuitBreaker(),
                tokens=tokens,
            )

        await a_gateway().find_activity("acme:CAL1")
        now[0] += SHORTEST_SESSION_S - EXPIRY_MARGIN_S - 1
        await a_gateway().find_activity("acme:CAL2")
        assert api_requests(fake.requests) == ["token", "GET", "GET"]

        now[0] += 1
        await a_gateway().find_activity("acme:CAL3")
        assert api_requests(fake.requests) == ["token", "GET", "GET", "token", "GET"]  # no 401


@pytest.mark.parametrize(
    ("answer", "lifetime"),
    [
        ({"issued_at": "1767225600000"}, SHORTEST_SESSION_S - EXPIRY_MARGIN_S),
        ({"expires_in": 7200}, 7200 - EXPIRY_MARGIN_S),
        ({"expires_in": "3600"}, 3600 - EXPIRY_MARGIN_S),
        ({"expires_in": -5}, SHORTEST_SESSION_S - EXPIRY_MARGIN_S),
        ({"expires_in": "soon"}, SHORTEST_SESSION_S - EXPIRY_MARGIN_S),
        ({"expires_in": True}, SHORTEST_SESSION_S - EXPIRY_MARGIN_S),
    ],
)
def test_how_long_a_token_is_kept(answer: dict[str, Any], lifetime: float) -> None:
    assert token_lifetime_s(answer) == pytest.approx(lifetime)
