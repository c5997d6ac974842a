"""Lead scoring: the score a sales team sorts its call-backs by, and the reasons it can read."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.call import CallMetadata
from domain.results import CallAnalysis, Intent, LeadScore, Sentiment, Tier, Urgency
from domain.scoring import PRICE_SHOPPING, SCORING_VERSION, score_lead

THRESHOLD = 70
# A first-time caller who talked for two minutes, from organic search: the neutral baseline.
CONVERSATION = CallMetadata(
    caller="+13035550142", duration_s=120, answered=True, first_call=True, source="Google Organic"
)


def analysis(intent: Intent, **changes: Any) -> CallAnalysis:
    return attrs.evolve(CallAnalysis(engine="rules", summary="", intent=intent), **changes)


def factors(score: LeadScore) -> dict[str, int]:
    return {r.factor: r.points for r in score.reasons}


@pytest.mark.parametrize(
    ("intent", "score", "tier", "qualified"),
    [
        (Intent.NEW_SERVICE_REQUEST, 60, Tier.WARM, False),
        (Intent.APPOINTMENT, 60, Tier.WARM, False),
        (Intent.QUOTE_REQUEST, 55, Tier.WARM, False),
        (Intent.EXISTING_CUSTOMER, 35, Tier.COLD, False),
        (Intent.OTHER, 30, Tier.COLD, False),
        (Intent.VOICEMAIL, 25, Tier.COLD, False),
        (Intent.WRONG_NUMBER, 0, Tier.COLD, False),
        (Intent.SPAM, 0, Tier.SPAM, False),
    ],
)
def test_every_intent_on_the_same_call(
    intent: Intent, score: int, tier: Tier, qualified: bool
) -> None:
    result = score_lead(analysis(intent), CONVERSATION, THRESHOLD)
    assert (result.score, result.tier, result.qualified) == (score, tier, qualified)
    assert sum(r.points for r in result.reasons) == result.score
    assert result.version == SCORING_VERSION
    assert result.threshold == THRESHOLD


def test_intents_rank_the_way_a_sales_team_would() -> None:
    def score(intent: Intent) -> int:
        return score_lead(analysis(intent), CONVERSATION, THRESHOLD).score

    assert score(Intent.NEW_SERVICE_REQUEST) > score(Intent.QUOTE_REQUEST)
    assert score(Intent.QUOTE_REQUEST) > score(Intent.EXISTING_CUSTOMER)
    assert score(Intent.EXISTING_CUSTOMER) > score(Intent.OTHER) > score(Intent.WRONG_NUMBER)


def test_an_urgent_booked_first_time_paid_caller_is_hot_and_qualified() -> None:
    hot = analysis(
        Intent.NEW_SERVICE_REQUEST,
        urgency=Urgency.HIGH,
        appointment_booked=True,
        service_requested="furnace repair",
    )
    metadata = attrs.evolve(CONVERSATION, source="Google Paid", duration_s=None)
    result = score_lead(hot, metadata, THRESHOLD)
    assert result.tier is Tier.HOT
    assert result.qualified
    assert result.score == 100
    assert factors(result) == {
        "answered_call": 20,
        "intent": 30,
        "appointment_booked": 30,
        "urgency": 25,
        "first_call": 5,
        "paid_source": 5,
        "clamp": -15,
    }
    assert all(r.detail for r in result.reasons)


def test_a_score_over_100_is_clamped_and_the_clamp_is_a_reason() -> None:
    everything = analysis(
        Intent.NEW_SERVICE_REQUEST,
        urgency=Urgency.HIGH,
        sentiment=Sentiment.POSITIVE,
        appointment_booked=True,
        caller_name="Dana Whitfield",
        caller_email="dana@example.com",
    )
    metadata = attrs.evolve(CONVERSATION, source="Google Ads", duration_s=400)
    result = score_lead(everything, metadata, THRESHOLD)
    assert result.score == 100
    assert result.reasons[-1].factor == "clamp"
    assert result.reasons[-1].points == 100 - sum(r.points for r in result.reasons[:-1])
    assert result.reasons[-1].points < 0


def test_a_robocall_is_spam_and_never_qualified() -> None:
    robocall = analysis(Intent.SPAM, is_spam=True, urgency=Urgency.HIGH)
    result = score_lead(robocall, attrs.evolve(CONVERSATION, source="Google Paid"), 0)
    assert result.tier is Tier.SPAM
    assert result.score <= 5
    assert not result.qualified, "not even at threshold 0"


def test_a_spam_flag_wins_over_a_service_intent() -> None:
    result = score_lead(analysis(Intent.NEW_SERVICE_REQUEST, is_spam=True), CONVERSATION, THRESHOLD)
    assert result.tier is Tier.SPAM


def test_a_wrong_number_is_cold_however_well_it_went() -> None:
    wrong = analysis(
        Intent.WRONG_NUMBER,
        sentiment=Sentiment.POSITIVE,
        urgency=Urgency.HIGH,
        appointment_booked=True,
        caller_name="Pat",
    )
    metadata = attrs.evolve(CONVERSATION, duration_s=400, source="Bing Paid")
    result = score_lead(wrong, metadata, THRESHOLD)
    assert result.tier is Tier.COLD
    assert not result.qualified
    assert factors(result)["wrong_number"] < 0


def test_a_missed_call_is_scored_from_its_metadata() -> None:
    missed = CallMetadata(caller="+13035550142", duration_s=0, answered=False, first_call=True,
                          source="Facebook Paid")  # fmt: skip
    result = score_lead(None, missed, THRESHOLD)
    assert factors(result) == {"missed_call": 10, "first_call": 5, "paid_source": 5}
    assert (result.score, result.tier, result.qualified) == (20, Tier.COLD, False)


def test_a_missed_call_still_qualifies_under_a_low_threshold() -> None:
    missed = CallMetadata(answered=False, first_call=True)
    assert score_lead(None, missed, 15).qualified
    assert not score_lead(None, missed, 16).qualified


@pytest.mark.parametrize(
    ("voicemail", "score", "tier"),
    [
        (analysis(Intent.VOICEMAIL, service_requested="water heater"), 55, Tier.WARM),
        # An urgent voicemail from a new caller is hot: nobody answered an emergency, and a
        # sales manager calls it back first.
        (analysis(Intent.NEW_SERVICE_REQUEST, urgency=Urgency.HIGH), 80, Tier.HOT),
        (analysis(Intent.VOICEMAIL), 25, Tier.COLD),
        (None, 25, Tier.COLD),
    ],
)
def test_a_voicemail_scores_below_a_conversation_but_one_asking_for_service_is_warm_or_hot(
    voicemail: CallAnalysis | None, score: int, tier: Tier
) -> None:
    metadata = CallMetadata(duration_s=35, answered=False, first_call=True, voicemail=True)
    result = score_lead(voicemail, metadata, THRESHOLD)
    assert (result.score, result.tier) == (score, tier)
    assert "voicemail" in factors(result)
    assert "duration" not in factors(result), "a voicemail's length says little"


def test_an_urgent_voicemail_from_a_new_caller_is_hot_and_from_a_repeat_caller_warm() -> None:
    urgent = analysis(Intent.VOICEMAIL, urgency=Urgency.HIGH, service_requested="plumbing")
    new = CallMetadata(duration_s=40, answered=False, first_call=True, voicemail=True)
    result = score_lead(urgent, new, THRESHOLD)
    assert (result.score, result.tier) == (80, Tier.HOT)
    repeat = score_lead(urgent, attrs.evolve(new, first_call=False), THRESHOLD)
    assert (repeat.score, repeat.tier) == (70, Tier.WARM)


def test_a_voicemail_saying_it_needs_help_soon_asks_for_service() -> None:
    vague = analysis(Intent.VOICEMAIL, urgency=Urgency.MEDIUM)
    metadata = CallMetadata(duration_s=30, answered=False, first_call=True, voicemail=True)
    assert factors(score_lead(vague, metadata, THRESHOLD))["voicemail_request"] == 30


def test_a_booked_estimate_is_hot() -> None:
    booked = analysis(Intent.QUOTE_REQUEST, appointment_booked=True)
    metadata = attrs.evolve(CONVERSATION, duration_s=90)
    result = score_lead(booked, metadata, THRESHOLD)
    assert factors(result)["booked_estimate"] == 10
    assert (result.score, result.tier) == (95, Tier.HOT)
    unbooked = score_lead(analysis(Intent.QUOTE_REQUEST), metadata, THRESHOLD)
    assert unbooked.tier is Tier.WARM


def test_an_existing_customers_reschedule_is_cold_however_soon() -> None:
    reschedule = analysis(
        Intent.EXISTING_CUSTOMER,
        appointment_booked=True,
        urgency=Urgency.HIGH,
        is_existing_customer=True,
        caller_name="Linda Ferraro",
    )
    metadata = attrs.evolve(CONVERSATION, first_call=False, duration_s=70)
    result = score_lead(reschedule, metadata, THRESHOLD)
    assert result.tier is Tier.COLD
    assert factors(result)["support_call"] == 0
    assert "appointment_booked" not in factors(result)
    assert "urgency" not in factors(result)
    assert result.score == 20 + 5 - 5 + 5 + 3


def test_voicemail_scores_lower_than_the_same_request_answered() -> None:
    request = analysis(Intent.NEW_SERVICE_REQUEST)
    answered = score_lead(request, CONVERSATION, THRESHOLD)
    voicemail = score_lead(request, attrs.evolve(CONVERSATION, voicemail=True), THRESHOLD)
    assert voicemail.score < answered.score


@pytest.mark.parametrize(
    ("duration", "points"), [(5, -15), (19, -15), (20, None), (59, None), (60, 5), (180, 10)]
)
def test_call_length(duration: int, points: int | None) -> None:
    metadata = attrs.evolve(CONVERSATION, duration_s=duration)
    result = score_lead(analysis(Intent.NEW_SERVICE_REQUEST), metadata, THRESHOLD)
    assert factors(result).get("duration") == points


def test_a_very_short_service_call_drops_out_of_warm() -> None:
    short = attrs.evolve(CONVERSATION, duration_s=12)
    result = score_lead(analysis(Intent.NEW_SERVICE_REQUEST), short, THRESHOLD)
    assert result.tier is Tier.COLD
    assert "12 s" in next(r.detail for r in result.reasons if r.factor == "duration")


def test_a_repeat_caller_scores_below_a_first_time_caller() -> None:
    quote = analysis(Intent.QUOTE_REQUEST)
    first = score_lead(quote, CONVERSATION, THRESHOLD)
    repeat = score_lead(quote, attrs.evolve(CONVERSATION, first_call=False), THRESHOLD)
    assert first.score - repeat.score == 10
    assert factors(repeat)["repeat_caller"] == -5
    assert (first.tier, repeat.tier) == (Tier.WARM, Tier.COLD)


@pytest.mark.parametrize(
    ("source", "paid"),
    [
        ("Google Paid", True),
        ("Google Ads", True),
        ("Bing Paid", True),
        ("Facebook Paid", True),
        ("google / cpc", True),
        ("Google Organic", False),
        ("Direct", False),
        ("Leads Directory", False),
        (None, False),
    ],
)
def test_paid_sources_get_a_small_bonus(source: str | None, paid: bool) -> None:
    result = score_lead(
        analysis(Intent.OTHER), attrs.evolve(CONVERSATION, source=source), THRESHOLD
    )
    assert ("paid_source" in factors(result)) is paid


def test_a_name_and_an_email_are_worth_a_little() -> None:
    plain = score_lead(analysis(Intent.QUOTE_REQUEST), CONVERSATION, THRESHOLD)
    contact = score_lead(
        analysis(Intent.QUOTE_REQUEST, caller_name="Dana", caller_email="dana@example.com"),
        CONVERSATION,
        THRESHOLD,
    )
    assert 0 < contact.score - plain.score <= 10


SHOPPING = ("calling around", "compare prices")


def test_a_price_shopper_is_warm_but_below_a_quote_request_with_contact_details() -> None:
    shopper = score_lead(analysis(Intent.QUOTE_REQUEST, key_phrases=SHOPPING), CONVERSATION, 70)
    genuine = score_lead(
        analysis(Intent.QUOTE_REQUEST, caller_name="David Kim", caller_email="d.kim@example.com"),
        CONVERSATION,
        THRESHOLD,
    )
    assert (shopper.score, shopper.tier) == (55, Tier.WARM)
    assert (genuine.score, genuine.tier) == (61, Tier.WARM)
    assert factors(shopper)["price_shopper"] == 0
    assert "calling around" in next(
        r.detail for r in shopper.reasons if r.factor == "price_shopper"
    )
    assert sum(r.points for r in shopper.reasons) == shopper.score


def test_the_demo_price_shopper_scores_below_the_demo_quote_request() -> None:
    # As the demo sends them: answered, 30 s, Direct, both first-time callers.
    metadata = CallMetadata(duration_s=30, answered=True, first_call=True, source="Direct")
    shopper = analysis(
        Intent.QUOTE_REQUEST,
        service_requested="water heater",
        key_phrases=("how much", "charge", "cost", "calling around", "compare prices", "prices"),
    )
    quote = analysis(
        Intent.QUOTE_REQUEST,
        service_requested="ac repair",
        caller_name="David Kim",
        caller_email="david.kim@gmail.com",
        key_phrases=("quote", "free estimate", "estimate", "estimates"),
    )
    assert score_lead(shopper, metadata, THRESHOLD).score == 50
    assert score_lead(quote, metadata, THRESHOLD).score == 56
    assert score_lead(shopper, metadata, THRESHOLD).tier is Tier.WARM


@pytest.mark.parametrize(
    "phrase",
    ["calling around", "Just calling around to compare prices", "SHOPPING AROUND", *PRICE_SHOPPING],
)
def test_any_analyzers_wording_of_price_shopping_counts(phrase: str) -> None:
    result = score_lead(analysis(Intent.QUOTE_REQUEST, key_phrases=(phrase,)), CONVERSATION, 70)
    assert factors(result).get("price_shopper") == 0


@pytest.mark.parametrize(
    ("changes", "flagged"),
    [
        ({"intent": Intent.QUOTE_REQUEST}, True),
        ({"intent": Intent.QUOTE_REQUEST, "appointment_booked": True}, False),
        ({"intent": Intent.NEW_SERVICE_REQUEST}, False),
        ({"intent": Intent.EXISTING_CUSTOMER}, False),
        ({"intent": Intent.QUOTE_REQUEST, "key_phrases": ("quote", "prices")}, False),
        ({"intent": Intent.QUOTE_REQUEST, "key_phrases": ()}, False),
    ],
)
def test_only_an_unbooked_quote_request_that_says_it_is_shopping_is_flagged(
    changes: dict[str, Any], flagged: bool
) -> None:
    call = attrs.evolve(analysis(Intent.QUOTE_REQUEST, key_phrases=SHOPPING), **changes)
    assert ("price_shopper" in factors(score_lead(call, CONVERSATION, THRESHOLD))) is flagged


# --- properties -----------------------------------------------------------------------------

analyses = st.builds(
    CallAnalysis,
    engine=st.just("rules"),
    summary=st.text(max_size=20),
    intent=st.sampled_from(Intent),
    sentiment=st.sampled_from(Sentiment),
    urgency=st.sampled_from(Urgency),
    service_requested=st.none() | st.sampled_from(["furnace repair", "plumbing", ""]),
    appointment_booked=st.booleans(),
    caller_name=st.none() | st.text(max_size=10),
    caller_email=st.none() | st.just("dana@example.com"),
    is_spam=st.booleans(),
    is_existing_customer=st.booleans(),
    key_phrases=st.lists(
        st.text(max_size=10) | st.sampled_from(["calling around", "Comparing prices", "no heat"]),
        max_size=8,
    ).map(tuple),
)
metadatas = st.builds(
    CallMetadata,
    caller=st.none() | st.just("+13035550142"),
    duration_s=st.none() | st.integers(min_value=0, max_value=20_000),
    answered=st.none() | st.booleans(),
    first_call=st.none() | st.booleans(),
    voicemail=st.booleans(),
    source=st.none() | st.sampled_from(["Google Paid", "Google Organic", "Direct", "Bing Ads"]),
)


@given(
    call=st.none() | analyses, metadata=metadatas, threshold=st.integers(min_value=0, max_value=100)
)
def test_any_call_gets_a_bounded_deterministic_score_its_reasons_add_up_to(
    call: CallAnalysis | None, metadata: CallMetadata, threshold: int
) -> None:
    result = score_lead(call, metadata, threshold)
    assert 0 <= result.score <= 100
    assert sum(r.points for r in result.reasons) == result.score
    assert score_lead(call, metadata, threshold) == result
    assert result.qualified == (result.score >= threshold and result.tier is not Tier.SPAM)
    assert all(r.factor.isidentifier() and r.factor.islower() and r.detail for r in result.reasons)
    if result.tier is Tier.SPAM:
        assert result.score <= 5
    elif call is not None and call.intent is Intent.WRONG_NUMBER:
        assert result.tier is Tier.COLD
    else:
        expected = (
            Tier.HOT if result.score >= 80 else Tier.WARM if result.score >= 50 else Tier.COLD
        )
        assert result.tier is expected
    spam = call is not None and (call.is_spam or call.intent is Intent.SPAM)
    assert (result.tier is Tier.SPAM) == spam


@given(call=analyses, metadata=metadatas, phrase=st.sampled_from(PRICE_SHOPPING))
def test_saying_you_are_shopping_around_never_raises_a_score(
    call: CallAnalysis, metadata: CallMetadata, phrase: str
) -> None:
    plain = score_lead(call, metadata, THRESHOLD)
    shopping = attrs.evolve(call, key_phrases=(*call.key_phrases, phrase))
    assert score_lead(shopping, metadata, THRESHOLD).score <= plain.score
