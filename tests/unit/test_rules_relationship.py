"""Who the caller is to the business beats what they ask for, and what they ask for beats the
trade's words: the rules analyzer on calls written for these rules, not taken from the corpus."""

from __future__ import annotations

import pytest

from adapters.rules.analyzer import analyze_call
from domain.call import CallMetadata
from domain.results import Intent, Segment, Transcript
from domain.scoring import score_lead
from domain.tenant import AiConfig

VET = AiConfig(business_context="Riverbend Vet Clinic: exams, vaccines, dental and surgery.")
LAW = AiConfig(business_context="Dunn Law: car accident and injury attorneys. Free consults.")
HOMES = AiConfig(business_context="Northgate Homes Realty: buyer's and listing agents.")
ROOFS = AiConfig(business_context="Ridgeline Roofing: roof repair, replacement and gutters.")
AUTO = AiConfig(business_context="Corner Garage: brakes, tires, oil changes and inspections.")
NEW = CallMetadata(caller="+15555550100", duration_s=90, answered=True, first_call=True)
KNOWN = CallMetadata(caller="+15555550100", duration_s=90, answered=True, first_call=False)


def call(caller: str, agent: str = "thanks for calling how can i help") -> Transcript:
    segments = (Segment("agent", 0.0, 3.0, agent), Segment("caller", 3.0, 9.0, caller))
    return Transcript("whisper-tiny.en", "en-US", f"{agent} {caller}", segments)


EXISTING = [
    pytest.param(ROOFS, "hey so y'all replaced our roof in the spring and now the gutter over"
                 " the porch is pulling away and leaking", id="work-done-before"),
    pytest.param(VET, "hi um my cat was seen on monday for her teeth and she's still not"
                 " eating much", id="pet-seen-last-week"),
    pytest.param(LAW, "yeah i'm just calling for an update on my case, i haven't heard from"
                 " anybody in a month", id="update-on-my-case"),
    pytest.param(HOMES, "hi it's about our closing on the fifth, the title company needs a"
                 " copy of the inspection", id="our-closing"),
    pytest.param(AUTO, "hi i'm calling back about my van, you said the part was on order",
                 id="part-on-order"),
    pytest.param(AUTO, "hey um there's a charge on my card from you guys i don't recognize",
                 id="charge-not-recognised"),
    pytest.param(VET, "hi i need to cancel max's appointment for friday", id="their-appointment"),
    pytest.param(AUTO, "hi it's ray on elm street, your guys skipped us on the oil change"
                 " reminder and now it's overdue", id="skipped-us"),
]  # fmt: skip


@pytest.mark.parametrize(("ai", "said"), EXISTING)
def test_an_existing_customer_is_one_whatever_service_they_name(ai: AiConfig, said: str) -> None:
    found = analyze_call(call(said), KNOWN, ai)

    assert found.intent is Intent.EXISTING_CUSTOMER
    assert found.is_existing_customer
    assert not score_lead(found, KNOWN, 70).qualified


NOT_EXISTING = [
    pytest.param(ROOFS, "hi is there a charge for coming out to look at the roof",
                 Intent.QUOTE_REQUEST, id="is-there-a-charge"),
    pytest.param(LAW, "hi i slipped and fell at the grocery store and i want to know if my case"
                 " is worth anything", Intent.NEW_SERVICE_REQUEST, id="is-my-case-worth-it"),
    pytest.param(ROOFS, "hi our gutters are leaking again, the last company never fixed them",
                 Intent.NEW_SERVICE_REQUEST, id="someone-elses-work"),
    pytest.param(HOMES, "hi we're preapproved and looking to buy a house this summer",
                 Intent.NEW_SERVICE_REQUEST, id="a-buyer-is-no-robocall"),
    pytest.param(ROOFS, "hi my friend down the street used you for her gutters and she said you"
                 " did a great job, our roof is leaking over the garage",
                 Intent.NEW_SERVICE_REQUEST, id="a-friend-the-business-served"),
    pytest.param(LAW, "hi i'm calling about my dad, he was hit by a truck and he's in surgery"
                 " now at st marys", Intent.NEW_SERVICE_REQUEST, id="he's-in-surgery"),
    pytest.param(ROOFS, "hi what do you charge for your gutter cleaning service",
                 Intent.QUOTE_REQUEST, id="the-word-service"),
    pytest.param(AUTO, "my window motor died and the window's stuck open, can you put a new one"
                 " in tomorrow", Intent.NEW_SERVICE_REQUEST, id="can-you-put-one-in"),
    pytest.param(ROOFS, "the roof over the patio is leaking and we have my son's graduation party"
                 " saturday", Intent.NEW_SERVICE_REQUEST, id="a-party-is-no-part"),
    pytest.param(LAW, "i got a letter that says i owe the state 4000 dollars and i need help",
                 Intent.NEW_SERVICE_REQUEST, id="owed-to-someone-else"),
]  # fmt: skip


@pytest.mark.parametrize(("ai", "said", "intent"), NOT_EXISTING)
def test_a_new_caller_is_not_taken_for_a_customer(ai: AiConfig, said: str, intent: Intent) -> None:
    found = analyze_call(call(said), NEW, ai)

    assert found.intent is intent
    assert not found.is_existing_customer


APPOINTMENTS = [
    pytest.param(VET, "hi i'd like to bring my puppy in for his shots next week", id="shots"),
    pytest.param(AUTO, "do you have any openings tomorrow for an oil change", id="openings"),
    pytest.param(HOMES, "hi can we set up a showing for the house on birch street", id="showing"),
    pytest.param(LAW, "i was rear ended in march and i'd like to set up a consultation",
                 id="consult-after-an-accident"),
]  # fmt: skip


@pytest.mark.parametrize(("ai", "said"), APPOINTMENTS)
def test_asking_for_a_time_is_an_appointment_whatever_the_trade(ai: AiConfig, said: str) -> None:
    assert analyze_call(call(said), NEW, ai).intent is Intent.APPOINTMENT


def test_a_problem_that_needs_help_now_is_a_service_call_where_the_business_comes_out() -> None:
    said = "a branch came through the roof in the storm and it's leaking, can you come today"

    assert analyze_call(call(said), NEW, ROOFS).intent is Intent.NEW_SERVICE_REQUEST


def test_a_problem_where_customers_come_to_be_seen_is_an_appointment() -> None:
    said = "my dog got into the trash and he's throwing up, can i bring him in today"

    assert analyze_call(call(said), NEW, VET).intent is Intent.APPOINTMENT


def test_a_price_asked_for_what_the_business_offers_is_a_quote_request() -> None:
    said = "hi how much are brakes and rotors on a 2016 civic"

    assert analyze_call(call(said), NEW, AUTO).intent is Intent.QUOTE_REQUEST


def test_a_caller_comparing_shops_is_marked_down_as_a_price_shopper() -> None:
    said = "hi what do you charge for four tires, the other shop quoted me six hundred"
    found = analyze_call(call(said), NEW, AUTO)

    assert found.intent is Intent.QUOTE_REQUEST
    assert "price_shopper" in {r.factor for r in score_lead(found, NEW, 70).reasons}
