"""Card details and SSNs as they come up in a conversation, the way callers say them and
Whisper tiny.en writes them: the agent asks, the caller answers a turn later, after a "yeah" or
an "um"; an expiry in words or as one number ("1127"); a security code described ("the three
digits on the back") rather than named; an SSN read in groups with the agent's "okay" between.
On the other side, what a billing conversation also says must survive: the billing address
right after the card, a gift card's date, phone numbers, prices, times, zip codes, years.

Each call is a list of turns, agent and caller in turn, and what each turn must read after
redaction.
"""

from __future__ import annotations

import pytest

from domain.redaction import CARD, CVV, EXPIRY, SSN, redact_transcript
from domain.results import Segment, Transcript

Turns = list[str]


def transcript_of(turns: Turns) -> Transcript:
    speakers = ("agent", "caller")
    return Transcript(
        "whisper-tiny.en",
        "en-US",
        " ".join(turns),
        tuple(
            Segment(speakers[i % 2], 3.0 * i, 3.0 * i + 2.5, text) for i, text in enumerate(turns)
        ),
    )


def assert_redacted(turns: Turns, expected: Turns) -> None:
    redacted = redact_transcript(transcript_of(turns))
    assert [s.text for s in redacted.segments] == expected
    assert redacted.text == " ".join(expected)
    assert redact_transcript(redacted) == redacted


# --- an expiry said in words, or as one number, a turn after the question -------------------

EXPIRIES: list[tuple[Turns, Turns]] = [
    (
        ["And the expiration date on the card?", "Um, let me see, it's oh nine, twenty six."],
        ["And the expiration date on the card?", f"Um, let me see, it's {EXPIRY}."],
    ),
    (
        ["I'll pay with my Mastercard.", "Okay, and the expiration?", "Yeah, that's March 28."],
        ["I'll pay with my Mastercard.", "Okay, and the expiration?", f"Yeah, that's {EXPIRY}."],
    ),
    (
        ["It's my debit card.", "Expiration date?", "Yeah, it's March of twenty eight."],
        ["It's my debit card.", "Expiration date?", f"Yeah, it's {EXPIRY}."],
    ),
    (
        ["Visa. And when does the card expire?", "Oh, um, zero three, twenty-seven."],
        ["Visa. And when does the card expire?", f"Oh, um, {EXPIRY}."],
    ),
    (
        ["The card expires, let me look, zero three twenty seven."],
        [f"The card expires, let me look, {EXPIRY}."],
    ),
    (
        ["4111 1111 1111 1111.", "Okay.", "March twenty-eight, and the code is 729."],
        [CARD + ".", "Okay.", f"{EXPIRY}, and the code is {CVV}."],
    ),
    (
        ["Okay, and the expiration date on the card?", "It's 1127."],
        ["Okay, and the expiration date on the card?", f"It's {EXPIRY}."],
    ),
    (
        ["I'd like to pay with my Visa.", "And the expiration, month and year?", "1127."],
        ["I'd like to pay with my Visa.", "And the expiration, month and year?", f"{EXPIRY}."],
    ),
    (
        ["Card number's 4111 1111 1111 1111.", "Got it. Expiration?", "Yeah, 1127."],
        [f"Card number's {CARD}.", "Got it. Expiration?", f"Yeah, {EXPIRY}."],
    ),
    (
        [
            "Go ahead with the card number.",
            "5500 0055 5555 5559.",
            "And the name on the card?",
            "Dana Whitfield.",
            "And what's the billing zip?",
            "80202.",
            "Thank you, and the expiration date on that card?",
            "Let me see here, it's oh nine, twenty six.",
        ],
        [
            "Go ahead with the card number.",
            f"{CARD}.",
            "And the name on the card?",
            "Dana Whitfield.",
            "And what's the billing zip?",
            "80202.",
            "Thank you, and the expiration date on that card?",
            f"Let me see here, it's {EXPIRY}.",
        ],
    ),
]


@pytest.mark.parametrize(("turns", "expected"), EXPIRIES)
def test_an_expiry_answered_in_words_or_one_number(turns: Turns, expected: Turns) -> None:
    assert_redacted(turns, expected)


# --- a security code described rather than named ---------------------------------------------

CODES: list[tuple[Turns, Turns]] = [
    (
        ["Paying with my Visa.", "And the three digits on the back of your card?", "729."],
        ["Paying with my Visa.", "And the three digits on the back of your card?", f"{CVV}."],
    ),
    (
        ["It's a Mastercard.", "And the three numbers on the back, please?", "Uh, 7-2-9."],
        ["It's a Mastercard.", "And the three numbers on the back, please?", f"Uh, {CVV}."],
    ),
    (
        ["My credit card, the three digit code on the back is um seven two nine."],
        [f"My credit card, the three digit code on the back is um {CVV}."],
    ),
    (
        ["My Visa.", "The three-digit number on the back of the card?", "Seven, two, nine."],
        ["My Visa.", "The three-digit number on the back of the card?", f"{CVV}."],
    ),
    (
        [
            "Visa card. And the code?",
            "The three digits on the back?",
            "Yeah.",
            "Um, seven two nine.",
        ],
        ["Visa card. And the code?", "The three digits on the back?", "Yeah.", f"Um, {CVV}."],
    ),
    (
        [
            "I'll use my debit card.",
            "Okay, and the CVV, that's the three digits on the back of your card.",
            "Okay, um, seven two nine.",
        ],
        [
            "I'll use my debit card.",
            "Okay, and the CVV, that's the three digits on the back of your card.",
            f"Okay, um, {CVV}.",
        ],
    ),
    # the words say code: a number that looks like a price is the code
    (
        ["That'll be $903 on the Visa.", "The code is 903."],
        ["That'll be $903 on the Visa.", f"The code is {CVV}."],
    ),
    (
        ["Card number 4111 1111 1111 1111.", "And the code?", "The code is $903."],
        [f"Card number {CARD}.", "And the code?", f"The code is {CVV}."],
    ),
    (
        ["My balance is $903 and I'll pay it by Mastercard.", "Security code?", "It's 903."],
        ["My balance is $903 and I'll pay it by Mastercard.", "Security code?", f"It's {CVV}."],
    ),
    (
        ["On my Visa card ending 4242, the code's 903."],
        [f"On my Visa card ending 4242, the code's {CVV}."],
    ),
    # the expiry and the code asked together, answered together, no card number read yet
    (
        ["My Visa.", "Expiration and the code on the back?", "Oh nine twenty six and 729."],
        ["My Visa.", "Expiration and the code on the back?", f"{EXPIRY} and {CVV}."],
    ),
]


@pytest.mark.parametrize(("turns", "expected"), CODES)
def test_a_security_code_described_or_asked_for(turns: Turns, expected: Turns) -> None:
    assert_redacted(turns, expected)


# --- an SSN read in groups, across turns, or with the cue as ASR writes it -------------------

SSNS: list[tuple[Turns, Turns]] = [
    (
        ["Can I get your social?", "Sure, it's 621 33.", "Okay.", "4401."],
        ["Can I get your social?", f"Sure, it's {SSN}.", "Okay.", f"{SSN}."],
    ),
    (
        ["My ss number is six two one 33 four four zero one."],
        [f"My ss number is {SSN}."],
    ),
    (
        ["And your SS number?", "Six two one, three three, four four zero one."],
        ["And your SS number?", f"{SSN}."],
    ),
    (
        [
            "What's your social security number?",
            "Six two one.",
            "Got it.",
            "Three three.",
            "Okay.",
            "Four four zero one.",
        ],
        [
            "What's your social security number?",
            f"{SSN}.",
            "Got it.",
            f"{SSN}.",
            "Okay.",
            f"{SSN}.",
        ],
    ),
    (
        ["My social's six two one, three three, four four zero one."],
        [f"My social's {SSN}."],
    ),
    (
        ["The last four digits of my social security number are four four zero one."],
        [f"The last four digits of my social security number are {SSN}."],
    ),
    (
        ["And the last four of your social?", "Yeah, it's 4401."],
        ["And the last four of your social?", f"Yeah, it's {SSN}."],
    ),
    (
        [
            "What's your social security number?",
            "Um, hold on, let me find it. Okay, it's six two one, 33, 4401.",
        ],
        ["What's your social security number?", f"Um, hold on, let me find it. Okay, it's {SSN}."],
    ),
]


@pytest.mark.parametrize(("turns", "expected"), SSNS)
def test_an_ssn_read_in_groups_or_across_turns(turns: Turns, expected: Turns) -> None:
    assert_redacted(turns, expected)


# --- what a billing conversation also says, which must survive -------------------------------

KEPT: list[tuple[Turns, Turns]] = [
    (
        ["The card's 4111 1111 1111 1111 and the billing address is 1817 North Laurel Street."],
        [f"The card's {CARD} and the billing address is 1817 North Laurel Street."],
    ),
    (
        ["4111 1111 1111 1111.", "And the billing address?", "1817 North Laurel Street."],
        [f"{CARD}.", "And the billing address?", "1817 North Laurel Street."],
    ),
    (
        ["4111 1111 1111 1111.", "Billing address?", "It's 1817 Laurel, in Denver."],
        [f"{CARD}.", "Billing address?", "It's 1817 Laurel, in Denver."],
    ),
    (
        ["5500 0055 5555 5559.", "Okay.", "It's 4550 South Broadway, 80113."],
        [f"{CARD}.", "Okay.", "It's 4550 South Broadway, 80113."],
    ),
    (
        ["4111 1111 1111 1111, and the gate code is 1234 so the tech can get in."],
        [f"{CARD}, and the gate code is 1234 so the tech can get in."],
    ),
    (
        ["4111 1111 1111 1111.", "Thanks. And the unit number?", "Unit number is 204."],
        [f"{CARD}.", "Thanks. And the unit number?", "Unit number is 204."],
    ),
    (
        ["My social is 621-33-4401.", "And your phone?", "303 555 0142."],
        [f"My social is {SSN}.", "And your phone?", "303 555 0142."],
    ),
    (
        [
            "4111 1111 1111 1111.",
            "And it's for the 2019 Carrier?",
            "Yeah, we've had it since 2015.",
        ],
        [f"{CARD}.", "And it's for the 2019 Carrier?", "Yeah, we've had it since 2015."],
    ),
]


@pytest.mark.parametrize(("turns", "expected"), KEPT)
def test_what_else_a_billing_conversation_says_survives(turns: Turns, expected: Turns) -> None:
    assert_redacted(turns, expected)


GIFT_CARDS: list[Turns] = [
    ["I'll pay the rest with my Visa.", "Sure.", "Oh, I have a gift card, it expires 12 31 2025."],
    ["Can I use my gift card and put the rest on my Mastercard? It expires 12/31/2025."],
    ["My credit card's on file.", "And the gift card?", "It expires December 31st 2025."],
    ["I'll pay with my Visa.", "Okay.", "And my gift card, it expires oh four twenty seven."],
    ["It's my debit card.", "Okay.", "The gift card expires twelve thirty one twenty twenty five."],
]


@pytest.mark.parametrize("turns", GIFT_CARDS)
def test_a_gift_cards_date_is_no_payment_cards_expiry_in_a_call_about_a_card(
    turns: Turns,
) -> None:
    assert_redacted(turns, turns)


# Negatives in calls about a card or an SSN: every number in them stays. Redaction may get at
# most one of these wrong (issue 24); today it gets none wrong.
NEGATIVES: list[Turns] = [
    ["I'll pay with my Visa.", "And a good callback number?", "720-555-0199."],
    [
        "I'll pay with my Visa.",
        "And the expiration date?",
        "I don't have it, call me at 303 555 0142.",
    ],
    ["My Mastercard.", "And the code on the back?", "Hang on, it's in my car, call 720 555 0199."],
    ["The card ending in 4242 expires at the end of the month.", "Okay."],
    ["Put it on my debit card.", "The total comes to $1,249.99.", "Okay."],
    ["Put it on my credit card.", "We'll see you Tuesday at 10:30.", "Between 8 and 10?"],
    ["Card's on file.", "The service address is 221 Oak Street, zip 80202."],
    ["Visa.", "And how long will it take?", "About 45 minutes, and it's $189."],
    ["I paid with my Amex on March 3rd 2024.", "And the warranty expires in 2027."],
    ["The credit card expired, so the order number is 4471 2290.", "Okay."],
    ["My Visa. It's a 3 ton unit, model 24ACC636, installed in 2019."],
    ["I'll pay by card.", "What's the expiration?", "Uh, it's for 2 units, not one."],
    ["My social? I'd rather not.", "And your phone?", "303 555 0142.", "And your zip?", "80113."],
    ["I went to the social security office.", "It's at 1234 Main Street, 80202."],
    ["My social, last four, I'd rather not.", "That's fine, the zip is 80113."],
    ["And the card's expiration?", "Hold on.", "Sorry, my kid's 3 and a half, it's chaos."],
    ["I'll pay with Visa. Our house was built in 1998 and the unit's from 2005."],
    ["Security code?", "Sorry, the alarm code? It's 1234."],
    ["My card number's on file.", "Okay, your appointment is March 28 at 2 pm."],
    ["The card, yes. We're at 4550 South Broadway, suite 300."],
    ["Visa card. Call me back at one eight hundred five five five one two one two."],
    ["Debit card. The invoice number is 20240315, and the total was $350."],
    ["I'll pay by card. The code is for 27 of them."],
    ["Visa.", "And the code on the back?", "Hold on, I'm at 1817 Laurel, I'll call you back."],
]

# Right after a card's number, the numbers of the rest of the call stay too.
AFTER_A_CARD = [
    "We'll be there at 2 30.",
    "The model number is 24ACC636 and the serial is 2319E.",
    "There's 250 of them.",
    "And it's for the house at 900 Elm.",
    "The house was built in 1987.",
    "The billing zip is 80202.",
    "The door code is 1234.",
    "My extension is 204.",
    "It's suite 300.",
    "That's about 1500 dollars.",
    "It's a 1200 square foot house.",
]


def test_the_negatives_are_broad_enough_to_mean_something() -> None:
    assert len(NEGATIVES) + len(AFTER_A_CARD) + len(KEPT) + len(GIFT_CARDS) >= 40


@pytest.mark.parametrize("turns", NEGATIVES)
def test_the_numbers_of_a_call_about_a_card_or_an_ssn_stay(turns: Turns) -> None:
    assert_redacted(turns, turns)


@pytest.mark.parametrize("text", AFTER_A_CARD)
def test_the_numbers_said_right_after_a_card_stay(text: str) -> None:
    assert_redacted(["Visa card 4111 1111 1111 1111.", text], [f"Visa card {CARD}.", text])


# What follows a card's number and is more of it: its rest after a correction, a repetition
# loop of its last group. Groups of four, read on within 30 words of the card.
CARD_READ_ON: list[tuple[Turns, Turns]] = [
    (
        ["And the card number?", "4539 1488 0343 6467, no wait, that's the old one, 0343 6475."],
        ["And the card number?", f"{CARD}, no wait, that's the old one, {CARD}."],
    ),
    (["Card number?", "4024 0071 5336 4581 4581 4581 4581"], ["Card number?", CARD]),
]


@pytest.mark.parametrize(("turns", "expected"), CARD_READ_ON)
def test_groups_of_four_read_on_after_a_card_are_the_card(turns: Turns, expected: Turns) -> None:
    assert_redacted(turns, expected)


def test_an_expiry_and_code_asked_together_are_a_cards_however_far_its_number_was() -> None:
    story = (
        "Let me tell you about the job first, the water heater is leaking in the garage and it"
        " is getting worse every hour so please hurry, my husband is out of town."
    )
    turns = [
        "I'll pay with my Mastercard, it's 5555 5555 5555 4444.",
        "Okay.",
        story,
        "Sure.",
        "Can I have the expiration and the security code?",
        "June twenty eight, and 7 3 1.",
    ]
    assert_redacted(
        turns, [f"I'll pay with my Mastercard, it's {CARD}.", "Okay.", story, "Sure.", turns[4],
                f"{EXPIRY}, and {CVV}."]
    )  # fmt: skip


@pytest.mark.parametrize(
    "text", ["We lived there 2019 2020.", "My account number is 1234 5678.", "Order 8812 3390."]
)
def test_other_groups_of_four_after_a_card_stay(text: str) -> None:
    assert_redacted(["Visa card 4111 1111 1111 1111.", text], [f"Visa card {CARD}.", text])


def test_a_card_read_in_halves_with_the_agent_asking_for_the_rest_is_the_card() -> None:
    turns = ["What card?", "Discover, 6011 5617.", "Got it, and the rest of it?", "4833 8014."]
    assert_redacted(turns, ["What card?", f"Discover, {CARD}.", turns[2], f"{CARD}."])


def test_the_start_of_a_card_before_the_line_cut_out_is_the_card() -> None:
    turns = ["Card number?", "5412 6331 91...", "You broke up there.", "5412 6331 9128 4529."]
    assert_redacted(turns, ["Card number?", f"{CARD}...", turns[2], f"{CARD}."])


def test_a_number_said_back_as_a_price_after_a_card_is_no_security_code() -> None:
    turns = ["Go ahead with the card.", "4716 1221 3878 3757. And that's 225, right?",
             "Yes, $225 for the service call."]  # fmt: skip
    assert_redacted(turns, ["Go ahead with the card.", f"{CARD}. And that's 225, right?", turns[2]])


def test_a_phone_number_said_digit_by_digit_in_its_groups_stays_in_a_card_call() -> None:
    turns = [
        "We can't run the card right now, what's a good number?",
        "Three one two, five five five, oh one four eight.",
    ]
    assert_redacted(turns, turns)


def test_a_date_of_birth_after_the_last_four_of_a_social_stays() -> None:
    turns = ["The last four of your social?", "7741.", "And your date of birth?", "May 3rd, 1979."]
    assert_redacted(turns, [turns[0], f"{SSN}.", turns[2], turns[3]])


@pytest.mark.parametrize(
    ("turns", "expected"),
    [
        (
            ["Born in March, social's 523 45 6789."],
            [f"Born in March, social's {SSN}."],
        ),
        (
            ["Can I get your social?", "Yes you may, it's 523-45-6789."],
            ["Can I get your social?", f"Yes you may, it's {SSN}."],
        ),
        (
            ["The last four of your social?", "Moved here in May, um, it's 4418."],
            ["The last four of your social?", f"Moved here in May, um, it's {SSN}."],
        ),
    ],
)
def test_an_ssn_a_few_words_after_a_month_name_is_still_an_ssn(
    turns: Turns, expected: Turns
) -> None:
    assert_redacted(turns, expected)


def test_a_card_whose_first_ten_digits_are_paused_as_a_phone_numbers_is_the_card() -> None:
    turns = [
        "And the card number?",
        "Five four one, two seven five, three four five six.",
        "Okay.",
        "Seven eight nine oh one oh.",
    ]
    assert_redacted(turns, [turns[0], f"{CARD}.", "Okay.", f"{CARD}."])


def test_a_card_read_back_in_halves_is_hidden_once() -> None:
    turns = ["Visa, 4532 0151 1283 0366.", "Okay so 4532 0151, and then 1283 0366?"]
    assert_redacted(turns, [f"Visa, {CARD}.", f"Okay so {CARD}, and then {CARD}?"])


def test_a_code_after_a_card_stays_hidden_though_the_same_sum_is_a_price_later() -> None:
    turns = [
        "Go ahead with the card.",
        "4716 1221 3878 3757, and 150 on the back.",
        "Okay. And I have you down for the deluxe detail at $150, see you Tuesday.",
    ]
    assert_redacted(turns, [turns[0], f"{CARD}, and {CVV} on the back.", turns[2]])


@pytest.mark.parametrize(
    ("said", "hidden"),
    [
        ("04 27 150.", f"{EXPIRY} {CVV}."),
        ("Oh four twenty seven, one fifty.", f"{EXPIRY}, {CVV}."),
    ],
)
def test_an_expiry_and_code_read_in_one_breath_after_a_card_are_hidden(
    said: str, hidden: str
) -> None:
    turns = ["It's my Visa, 4532 0151 1283 0366.", "Got it, and the rest?", said]
    assert_redacted(turns, [f"It's my Visa, {CARD}.", turns[1], hidden])


@pytest.mark.parametrize("birthday", ["May third, 1979.", "June the twenty first, 1979."])
def test_a_date_of_birth_with_its_day_in_words_stays(birthday: str) -> None:
    turns = ["The last four of your social?", "7741.", "And your date of birth?", birthday]
    assert_redacted(turns, [turns[0], f"{SSN}.", turns[2], birthday])
