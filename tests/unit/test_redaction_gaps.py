"""The gaps redaction had on real calls (issue 24, item 6), written the way callers speak and
Whisper tiny.en writes it: a card read in pieces with the agent's "okay" between them, a
repetition loop of one digit far from the word "card", and a gift card's date that is no
payment card's expiry. On the other side, the numbers of an ordinary call that mentions a card
must survive: phone numbers, addresses, prices, dates, times, zip codes, order and model
numbers, years.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.redaction import CARD, CVV, EXPIRY, redact_text, redact_transcript
from domain.results import Segment, Transcript

# As the brief quotes the demo's billing call on this machine: the card word said early, the
# number read into a loop of 1s that a sentence break and "The" cut in two.
DEMO_AS_QUOTED = (
    "I'm a customer and I'd like to pay my real. Sure, go ahead with the card humber. It's"
    " 4-1-1-1-1-1. The 1-1-1-1-1-1-1-...te and secure ready code. [REDACTED EXPIRY] and secure"
    " ready code is [REDACTED CVV]. Thanks, your payment is complete."
)

# The same call as Whisper tiny.en wrote it here, before redaction, one segment per line.
DEMO_SEGMENTS = (
    "I'm a customer and I'd like to pay my real.",
    "Sure, go ahead with the card humber.",
    "It's 4-1-1-1-1-1.",
    "The 1-1-1-1-1-1-1-1-1-1",
    "And the expiry date and secure ready code.",
    "Oh, for 27 and secure ready code is 1-2-3.",
    "Thanks, your payment is complete.",
)


def transcript_of(*lines: tuple[str, str]) -> Transcript:
    return Transcript(
        "whisper-tiny.en",
        "en-US",
        " ".join(text for _, text in lines),
        tuple(Segment(who, 3.0 * i, 3.0 * i + 2.5, text) for i, (who, text) in enumerate(lines)),
    )


def card_digits_left(text: str) -> list[str]:
    """Every stretch of 4 or more digits left, separators (and markers' neighbours) ignored."""
    return re.findall(r"\d{4,}", re.sub(r"[\s.,\-]+", "", text))


def test_the_demo_call_as_quoted_keeps_no_card_digit() -> None:
    redacted, _ = redact_text(DEMO_AS_QUOTED)
    assert CARD in redacted
    assert card_digits_left(redacted) == [], redacted
    assert not re.search(r"[0-9]", redacted), redacted
    assert redacted.startswith("I'm a customer and I'd like to pay my real. Sure, go ahead")
    assert redacted.endswith("Thanks, your payment is complete.")


def test_the_demo_call_as_whisper_wrote_it_here_keeps_no_card_digit_in_any_segment() -> None:
    transcript = transcript_of(*(("1", line) for line in DEMO_SEGMENTS))
    redacted = redact_transcript(transcript)
    for text in (redacted.text, *(s.text for s in redacted.segments)):
        assert not re.search(r"[0-9]", text), text
    assert [s.text for s in redacted.segments][2:6] == [
        f"It's {CARD}.",
        f"The {CARD}",
        "And the expiry date and secure ready code.",
        f"{EXPIRY} and secure ready code is {CVV}.",
    ]
    assert redact_transcript(redacted) == redacted


@pytest.mark.parametrize(
    ("first", "between", "second"),
    [
        ("yeah it's 4111 1111", "Okay.", "1111 1111"),
        ("It's 4111-1111,", "Mm-hmm, go on.", "1111-1111."),
        ("four one one one, one one one one", "Mm-hmm.", "one one one one, one one one one"),
        ("5500 0055 5555", "Yes.", "5559."),
        ("It's 4012 8888,", "Got it.", "8888 1881."),
        ("3782 822463", "Uh-huh, okay, go ahead.", "10005"),
        ("4111 1111 1111", "Okay, got it.", "111"),  # a digit lost, and no checksum to pass
    ],
)
def test_a_card_read_in_two_halves_around_the_agents_acknowledgement(
    first: str, between: str, second: str
) -> None:
    transcript = transcript_of(
        ("agent", "Sure, what's the card number?"),
        ("caller", first),
        ("agent", between),
        ("caller", second),
        ("agent", "And the expiration?"),
    )
    redacted = redact_transcript(transcript)
    texts = [s.text for s in redacted.segments]
    # The agent's words stay, unless they are fillers inside the run ("Mm-hmm."): then the
    # card's marker covers them too.
    assert texts[2] in (between, CARD)
    for text in (redacted.text, texts[1], texts[3]):
        assert card_digits_left(text) == [], text
        assert not re.search(r"[0-9]", text), text
    assert CARD in texts[1]
    assert CARD in texts[3]


def test_a_card_read_in_halves_is_redacted_even_without_the_word_card() -> None:
    # It passes the card checksum: nothing else a 16-digit number read this way could be.
    redacted, _ = redact_text("the number is 4111 1111 okay 1111 1111 thanks")
    assert redacted == f"the number is {CARD} okay {CARD} thanks"


@pytest.mark.parametrize(
    "loop",
    [
        "1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1",
        "11111111111111111111",
        "1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1",
        "one one one one one one one one one one one one one one one one one one one one",
        "4-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1",
    ],
)
def test_a_repetition_loop_long_after_the_card_word_is_redacted(loop: str) -> None:
    text = (
        "Hi, I'd like to pay my bill with my Visa card please. Sure, I can help with that, let"
        " me pull up your account first, what's the name on the account? It's Dana Whitfield."
        f" Thank you Dana, go ahead with the number whenever you're ready. {loop} and that's it."
    )
    redacted, _ = redact_text(text)
    assert redacted.endswith(f"whenever you're ready. {CARD} and that's it."), redacted
    assert not re.search(r"[0-9]", redacted)


def test_thirteen_or_more_digits_in_a_call_about_a_debit_card_are_redacted() -> None:
    # Misheard digits fail the checksum, and the word "debit" is forty words back.
    text = (
        "I want to pay the invoice on my debit card. Okay, and is this for the furnace repair"
        " we did last Tuesday at the house on Elm, the one with the noisy blower motor? Yes,"
        " that's the one. Alright, whenever you're ready, what's the number on it? It's"
        " 5500 0055 5555 5558."
    )
    redacted, _ = redact_text(text)
    assert redacted.endswith(f"It's {CARD}.")


@pytest.mark.parametrize(
    "text",
    [
        "I have a gift card from you guys and it expires 12 31 2025, can I still use it?",
        "My gift card says it expires 12/31/2025. Is that right?",
        "the gift card expiration date is december 31 2025",
    ],
)
def test_a_gift_cards_date_is_no_payment_cards_expiry(text: str) -> None:
    assert redact_text(text) == (text, 0)


def test_a_payment_cards_expiry_is_still_redacted_next_to_a_gift_card() -> None:
    text = "not the gift card, my visa, it expires 04 27"
    assert redact_text(text) == (f"not the gift card, my visa, it expires {EXPIRY}", 1)


ACKNOWLEDGED = ["Okay.", "Mm-hmm, go on.", "Uh-huh.", "Yes.", "Got it.", "Okay, got it.", "Mhm."]
SPOKEN = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


@given(
    number=st.text(alphabet="0123456789", min_size=13, max_size=19),
    cut=st.integers(4, 12),
    between=st.sampled_from(ACKNOWLEDGED),
    spoken=st.booleans(),
    chat=st.integers(0, 40),
)
def test_any_card_number_read_in_halves_leaves_no_digit(
    number: str, cut: int, between: str, spoken: bool, chat: int
) -> None:
    """No checksum here: misheard digits fail it. The card word is said long before."""

    def said(digits: str) -> str:
        if spoken:
            return " ".join(SPOKEN[int(d)] for d in digits)
        return " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))

    transcript = transcript_of(
        ("caller", "I'd like to pay with my card." + " so yeah" * chat),
        ("agent", "Sure, go ahead."),
        ("caller", f"It's {said(number[:cut])}."),
        ("agent", between),
        ("caller", f"{said(number[cut:])}."),
        ("agent", "Thanks."),
    )
    redacted = redact_transcript(transcript)
    for text in (redacted.text, *(s.text for s in redacted.segments)):
        assert not re.search(r"[0-9]", text), text
    assert redacted.text.startswith("I'd like to pay with my card.")
    assert redacted.text.endswith(f"{CARD}. Thanks.")


# Ordinary calls that talk about a card: every number in them stays.
NEGATIVES_IN_A_CARD_CALL = [
    "I'll pay with my Visa. And you can call me back at 303-555-0142.",
    "Put it on the credit card. My cell is 1-720-555-0199, okay, and the office is 303-555-0142.",
    "Card's on file. My number is 3035550142. Okay. Or try 7205550199.",
    "Card on file, yeah. It's 3035550142, okay, 17205550199.",
    "I paid with my debit card, it was $1,249.99 plus $89.50 for the part.",
    "The credit card was charged on 12 31 2025 at 10:30 and again on 01 15 2026.",
    "Charge my Mastercard. The address is 1234 West Colfax Avenue, Denver, 80202.",
    "I used my Visa for order number 4471 2290 and the model is XR 1724 B.",
    "My Amex, the zip is 80202, and the house was built in 1998.",
    "The card was charged March 3rd 2024 and again April 5th 2024.",
    "I'll use the Mastercard. The invoice is 20240315 and it's a 2019 Carrier 58STA090.",
    "The card ending in 4242 was charged $350 on the 14th, okay, at 2:45.",
    "My order number is 112-4471229-3387104 and I paid with my Visa.",
    "Debit card please. It's unit 12B, 4550 South Broadway, okay, 80113.",
    "Can I use a credit card? We had it serviced in 2019, 2021 and 2023.",
    "Visa is fine. Come between 8 and 10, or at 10:30, on the 22nd.",
]


@pytest.mark.parametrize("text", NEGATIVES_IN_A_CARD_CALL)
def test_the_numbers_of_a_call_about_a_card_stay(text: str) -> None:
    assert redact_text(text) == (text, 0)


# The demo's billing call as Whisper heard it with the tenant's name as a hint: the agent's
# "Hmm." between the two halves came out as "Them." (a word no list of acknowledgements has).
HEARD_WITH_A_HINT = (
    "Acme Heating & Air, building. Hi, I'm a customer and I'd like to pay my real. Sure, go"
    " ahead with the card humberg. It's 4-1-1-1-1-1. Them. 1-1-1-1-1-1-1. And the accessory"
    " date and secure ready code."
)


def test_a_pause_misheard_as_one_short_word_still_joins_a_cards_halves() -> None:
    redacted, _ = redact_text(HEARD_WITH_A_HINT)
    assert CARD in redacted
    assert card_digits_left(redacted) == [], redacted
    assert not re.search(r"[0-9]", redacted), redacted


@pytest.mark.parametrize(
    "text",
    [
        "Card's on file. The gate code is 4471 then 2290 for the side door.",
        "Visa, yes. We had it serviced in 2019, 2021 and 2023.",
        "On my credit card, the zip is 80202 near 80203, and it's unit 12.",
    ],
)
def test_numbers_a_short_word_really_joins_stay(text: str) -> None:
    assert redact_text(text) == (text, 0)


def test_a_card_read_digit_by_digit_is_redacted_though_asr_dropped_digits() -> None:
    # The billing recording as Whisper heard it once with the tenant's name as a hint: 10 of
    # the card's 16 digits. A truncated card number is still card data.
    text = "Sure, go ahead with the card humber. It's 4-1-1-1-1. Them. 1-1-1-1-1. And the date."
    redacted, _ = redact_text(text)
    assert CARD in redacted
    assert not re.search(r"[0-9]", redacted), redacted


@pytest.mark.parametrize(
    "text",
    [
        "On the Visa, yes. Call me back at 303-555-0142, or 720-555-0199.",
        "Card on file. The zip is 8-0-2-0-2 and the unit is 1-2.",
        "Debit card. My account ends 4-4-1-2, the order was 7-7-1-2-3-4.",
    ],
)
def test_short_dictated_numbers_and_phone_numbers_in_a_card_call_stay(text: str) -> None:
    assert redact_text(text) == (text, 0)
