"""CrmGateway.update_activity, for every adapter (the in-memory gateway, HubSpot and Salesforce
against their stand-ins): a re-analysed call's activity is rewritten in place, its new body and
mapped answer fields read back from the CRM, still one activity, still found by its key and
still linked to its contact."""

from __future__ import annotations

import html

import attrs
import pytest

from domain.crm import CrmContact
from domain.errors import PermanentFailure
from tests.contract.test_crm_gateway_contract import (
    CALLER,
    CrmUnderTest,
    HubSpotCrm,
    MemoryCrm,
    SalesforceCrm,
    activity,
    crm,  # noqa: F401 - the fixture, one per adapter
)

NEW_BODY = (
    'Lead score: 95/100 (hot)\n  +30 intent: new service \u2014 "my furnace died"\n'
    "Answers:\n  budget: 5000"
)


def stored(crm: CrmUnderTest, activity_id: str) -> tuple[str, object, int]:  # noqa: F811
    """The activity's body, its mapped answer field, and how many activities there are."""
    if isinstance(crm, HubSpotCrm):
        properties = crm.fake.calls[activity_id]
        body = html.unescape(properties["hs_call_body"].replace("<br>", "\n"))
        return body, properties.get("budget_mentioned"), len(crm.fake.calls)
    if isinstance(crm, SalesforceCrm):
        task = crm.fake.tasks[activity_id]
        return task["Description"], task.get("Budget__c"), len(crm.fake.tasks)
    assert isinstance(crm, MemoryCrm)
    [(found_id, saved, _)] = crm.gateway.activities.values()
    assert found_id == activity_id
    fields = dict(saved.answer_fields)
    return saved.body, fields.get("budget_mentioned", fields.get("Budget__c")), 1


def field_name(crm: CrmUnderTest) -> str:  # noqa: F811
    if isinstance(crm, HubSpotCrm):
        crm.fake.custom_call_properties.add("budget_mentioned")
        return "budget_mentioned"
    if isinstance(crm, SalesforceCrm):
        crm.fake.custom_task_fields.add("Budget__c")
        return "Budget__c"
    return "budget_mentioned"


async def test_an_activity_is_updated_in_place(crm: CrmUnderTest) -> None:  # noqa: F811
    contact_id = await crm.gateway.upsert_contact(CrmContact(CALLER, "Jane Doe"))
    activity_id = await crm.gateway.create_activity(activity(), contact_id)
    name = field_name(crm)
    changed = attrs.evolve(activity(), body=NEW_BODY, answer_fields=((name, 5000.0),))

    await crm.gateway.update_activity(activity_id, changed)

    body, budget, count = stored(crm, activity_id)
    assert body.startswith(NEW_BODY)
    assert budget in (5000.0, "5000")
    assert count == 1
    found = await crm.gateway.find_activity(changed.idempotency_key)
    assert found is not None
    assert found.activity_id == activity_id
    assert crm.stored_call(activity_id).contact_id == contact_id


async def test_updating_an_activity_that_is_not_there_is_refused(crm: CrmUnderTest) -> None:  # noqa: F811
    missing = {"memory": "activity-404", "hubspot": "404404", "salesforce": "00T000000000404AAA"}
    kind = type(crm).__name__.removesuffix("Crm").lower()
    with pytest.raises(PermanentFailure):
        await crm.gateway.update_activity(missing[kind], activity())
