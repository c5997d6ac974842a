"""The CrmGateway contract, one suite for every adapter: the in-memory gateway, HubSpot against
the HubSpot stand-in, Salesforce against the Salesforce stand-in. What each stored is read back
from the stand-in itself (HubSpot's duration in milliseconds, Salesforce's in seconds)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Protocol

import aiohttp
import attrs
import pytest

from adapters.hubspot import HubSpotCrmGateway
from adapters.memory.fakes import InMemoryCrmGateway
from adapters.salesforce import SalesforceCrmGateway
from domain.crm import ActivityRef, CrmActivity, CrmContact
from domain.phone import normalize_e164
from domain.throttle import CircuitBreaker, TokenBucket
from entrypoints.standins import serve
from entrypoints.standins.hubspot import FakeHubSpot
from entrypoints.standins.salesforce import FakeSalesforce
from ports.crm import CrmGateway

CALLER = "+13035550142"


@attrs.frozen
class StoredCall:
    duration_s: float
    direction: str
    contact_id: str | None


class CrmUnderTest(Protocol):
    @property
    def gateway(self) -> CrmGateway: ...

    def seed_contact(self, phone_as_typed: str, name: str) -> str: ...

    def contact_count(self) -> int: ...

    def stored_call(self, activity_id: str) -> StoredCall: ...


@attrs.define
class MemoryCrm:
    gateway: InMemoryCrmGateway

    def seed_contact(self, phone_as_typed: str, name: str) -> str:
        # The in-memory gateway keeps contacts under their E.164 number: it stores what it is
        # given in that form.
        phone = normalize_e164(phone_as_typed)
        assert phone is not None
        self.gateway.contacts[phone] = CrmContact(phone, name)
        return f"contact-{phone}"

    def contact_count(self) -> int:
        return len(self.gateway.contacts)

    def stored_call(self, activity_id: str) -> StoredCall:
        for found_id, activity, contact_id in self.gateway.activities.values():
            if found_id == activity_id:
                return StoredCall(activity.duration_s, activity.direction, contact_id)
        raise AssertionError(f"no activity {activity_id}")


@attrs.define
class HubSpotCrm:
    gateway: HubSpotCrmGateway
    fake: FakeHubSpot

    def seed_contact(self, phone_as_typed: str, name: str) -> str:
        return self.fake.add_contact(phone=phone_as_typed, firstname=name)

    def contact_count(self) -> int:
        return len(self.fake.contacts)

    def stored_call(self, activity_id: str) -> StoredCall:
        properties = self.fake.calls[activity_id]
        linked = self.fake.call_contacts.get(activity_id)
        duration_ms = int(properties["hs_call_duration"])
        direction = properties["hs_call_direction"].lower()
        return StoredCall(duration_ms / 1000, direction, linked[0] if linked else None)


@attrs.define
class SalesforceCrm:
    gateway: SalesforceCrmGateway
    fake: FakeSalesforce

    def seed_contact(self, phone_as_typed: str, name: str) -> str:
        return self.fake.add("Contact", Phone=phone_as_typed, LastName=name)

    def contact_count(self) -> int:
        return len(self.fake.contacts) + len(self.fake.leads)

    def stored_call(self, activity_id: str) -> StoredCall:
        task = self.fake.tasks[activity_id]
        return StoredCall(
            task["CallDurationInSeconds"], task["CallType"].lower(), task.get("WhoId")
        )


@pytest.fixture(params=["memory", "hubspot", "salesforce"])
async def crm(request: pytest.FixtureRequest) -> AsyncIterator[CrmUnderTest]:
    if request.param == "memory":
        yield MemoryCrm(InMemoryCrmGateway())
        return
    async with aiohttp.ClientSession() as session:
        if request.param == "hubspot":
            hubspot = FakeHubSpot(token="hubspot-contract-token")
            async with serve(hubspot.app()) as url:
                gateway = HubSpotCrmGateway(
                    base_url=url,
                    token="hubspot-contract-token",
                    session=session,
                    limiter=TokenBucket(1000, 100),
                    breaker=CircuitBreaker(),
                    timeout_s=5.0,
                )
                yield HubSpotCrm(gateway, hubspot)
            return
        salesforce = FakeSalesforce(client_id="contract-id", client_secret="contract-secret")
        async with serve(salesforce.app()) as url:
            sf_gateway = SalesforceCrmGateway(
                instance_url=url,
                client_id="contract-id",
                client_secret="contract-secret",
                session=session,
                limiter=TokenBucket(1000, 100),
                breaker=CircuitBreaker(),
                timeout_s=5.0,
            )
            yield SalesforceCrm(sf_gateway, salesforce)


def activity(
    key: str = "acme:CAL0001", direction: str = "inbound", duration_s: int = 95
) -> CrmActivity:
    return CrmActivity(
        idempotency_key=key,
        title="Inbound call: quote request (hot, 88)",
        body="Wants a quote for a new furnace.\nLead score: 88/100 (hot)",
        occurred_at=datetime(2026, 3, 4, 15, 30, tzinfo=UTC),
        direction=direction,
        duration_s=duration_s,
        answered=True,
        from_number=CALLER,
        to_number="+13035550100",
        score=88,
        tier="hot",
    )


async def test_upsert_finds_a_contact_whose_number_was_typed_differently(crm: CrmUnderTest) -> None:
    existing = crm.seed_contact("(303) 555-0142", "Jane")

    found = await crm.gateway.upsert_contact(CrmContact(CALLER, "Jane Doe", "jane@example.com"))

    assert found == existing
    assert crm.contact_count() == 1


async def test_upsert_creates_a_contact_once(crm: CrmUnderTest) -> None:
    created = await crm.gateway.upsert_contact(CrmContact(CALLER, "Jane Doe"))
    again = await crm.gateway.upsert_contact(CrmContact(CALLER, "Jane Doe"))

    assert again == created
    assert crm.contact_count() == 1


async def test_upsert_does_not_take_a_number_that_only_looks_alike(crm: CrmUnderTest) -> None:
    # The same ten digits in another country: loose phone search finds it, verification must not.
    other = crm.seed_contact("+44 303 555 0142", "Someone Else")

    created = await crm.gateway.upsert_contact(CrmContact(CALLER, "Jane Doe"))

    assert created != other
    assert crm.contact_count() == 2


@pytest.mark.parametrize("existing", [False, True])
async def test_a_malformed_email_does_not_stop_the_contact(
    crm: CrmUnderTest, existing: bool
) -> None:
    seeded = crm.seed_contact("303.555.0142", "Jane") if existing else None
    # The email comes from the analysis of the call: it can be anything.
    contact = CrmContact(CALLER, "Jane Doe", "jane at example dot com")

    contact_id = await crm.gateway.upsert_contact(contact)

    assert contact_id == seeded if existing else contact_id
    assert crm.contact_count() == 1


async def test_created_activity_is_found_by_its_key(crm: CrmUnderTest) -> None:
    contact_id = await crm.gateway.upsert_contact(CrmContact(CALLER, "Jane Doe"))
    activity_id = await crm.gateway.create_activity(activity(), contact_id)

    assert await crm.gateway.find_activity("acme:CAL0001") == ActivityRef(activity_id, contact_id)
    assert crm.stored_call(activity_id).contact_id == contact_id


async def test_activity_without_contact_is_found_too(crm: CrmUnderTest) -> None:
    activity_id = await crm.gateway.create_activity(activity(), None)

    assert await crm.gateway.find_activity("acme:CAL0001") == ActivityRef(activity_id, None)


async def test_unknown_key_finds_nothing(crm: CrmUnderTest) -> None:
    await crm.gateway.create_activity(activity("acme:CAL0001"), None)

    assert await crm.gateway.find_activity("acme:CAL0002") is None
    # CRM searches compare text without case; keys do not.
    assert await crm.gateway.find_activity("ACME:cal0001") is None


async def test_a_key_with_quotes_and_backslashes_round_trips(crm: CrmUnderTest) -> None:
    key = "acme:CAL'0001\\' OR CallObject != '"
    activity_id = await crm.gateway.create_activity(activity(key), None)

    assert await crm.gateway.find_activity(key) == ActivityRef(activity_id, None)
    assert await crm.gateway.find_activity("acme:CAL'0001") is None


@pytest.mark.parametrize(("direction", "duration_s"), [("outbound", 95), ("inbound", 3600)])
async def test_activity_carries_duration_and_direction(
    crm: CrmUnderTest, direction: str, duration_s: int
) -> None:
    activity_id = await crm.gateway.create_activity(
        activity(direction=direction, duration_s=duration_s), None
    )

    assert crm.stored_call(activity_id) == StoredCall(duration_s, direction, None)
