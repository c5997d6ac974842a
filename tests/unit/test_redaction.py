"""PII redaction on speech-recognition output: lower case, unpunctuated, misheard.

A missed card number ends up in a CRM for good; a phone number or a price redacted by mistake
makes the lead useless. Both sides are tested, on the kind of text ASR really produces.
"""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.redaction import CARD, CVV, EXPIRY, SSN, luhn_valid, redact_text, redact_transcript
from domain.results import Segment, Transcript

POSITIVE = [
    # cards, as digits with every separator ASR and agents use
    ("my card number is 4111 1111 1111 1111", f"my card number is {CARD}"),
    ("4111-1111-1111-1111 is the one", f"{CARD} is the one"),
    ("yeah it's 4111.1111.1111.1111 okay", f"yeah it's {CARD} okay"),
    ("sure 4111111111111111 there you go", f"sure {CARD} there you go"),
    ("ok 5500 0055 5555 5559 thanks", f"ok {CARD} thanks"),
    (
        "discover six zero one one one one one one one one one one one one one seven",
        f"discover {CARD}",
    ),
    ("amex 3782 822463 10005", f"amex {CARD}"),
    ("it's 4012 um 8888 uh 8888 dash 1881", f"it's {CARD}"),
    # spoken digits, "oh", "double", and mixtures
    ("four one one one one one one one one one one one one one one one", CARD),
    ("so it's 4111 1111 one one one one 1111 yes", f"so it's {CARD} yes"),
    ("four double one double one one one one one one one one one one one one", CARD),
    ("five five oh oh oh oh five five five five five five five five five nine", CARD),
    ("four triple one one one one one one one one one one one one one", CARD),
    # ASR dropped a digit: Luhn fails, but the caller just said "card"
    ("the card number is 4111 1111 1111 111", f"the card number is {CARD}"),
    ("my visa is four one one one one one one one one one one one one one", f"my visa is {CARD}"),
    ("debit 5500 0055 5555 555", f"debit {CARD}"),
    ("4111 1111 1111 111 on my mastercard", f"{CARD} on my mastercard"),
    # expiry and security code near a card
    (
        "visa 4111 1111 1111 1111 expires 04/27 cvv 123",
        f"visa {CARD} expires {EXPIRY} cvv {CVV}",
    ),
    (
        "card is 4111111111111111 expiration oh four twenty seven security code is one two three",
        f"card is {CARD} expiration {EXPIRY} security code is {CVV}",
    ),
    (
        "credit card 4111 1111 1111 1111 exp 4 27 and the three digits on the back are 456",
        f"credit card {CARD} exp {EXPIRY} and the three digits on the back are {CVV}",
    ),
    ("4111 1111 1111 1111 and 12/26", f"{CARD} and {EXPIRY}"),
    (
        "i'll use my credit card the expiration date is twelve twenty six",
        f"i'll use my credit card the expiration date is {EXPIRY}",
    ),
    ("paying by card the cvv is 7 3 9", f"paying by card the cvv is {CVV}"),
    ("card expires in april of twenty twenty seven", f"card expires in {EXPIRY}"),
    # the expiry as ASR writes it, after a card, with a cue or without one
    (
        "my visa is 4111111111111111 expires april twenty seven",
        f"my visa is {CARD} expires {EXPIRY}",
    ),
    ("card 4111 1111 1111 1111 and oh four twenty seven", f"card {CARD} and {EXPIRY}"),
    (
        "card 4111 1111 1111 1111. And the date? Oh, for 27.",
        f"card {CARD}. And the date? {EXPIRY}.",
    ),
    ("card 4111 1111 1111 1111 and it's for 27", f"card {CARD} and it's {EXPIRY}"),
    ("card 4111 1111 1111 1111 the date is 0 4 2 7", f"card {CARD} the date is {EXPIRY}"),
    ("card 4111 1111 1111 1111 uh 04/27", f"card {CARD} uh {EXPIRY}"),
    ("card 4111 1111 1111 1111 four slash twenty seven", f"card {CARD} {EXPIRY}"),
    ("card 4111 1111 1111 1111 and 0427 ok", f"card {CARD} and {EXPIRY} ok"),
    ("my card expires oh for twenty seven", f"my card expires {EXPIRY}"),
    # the security code after its cue, as ASR hears the cue
    ("card 4111 1111 1111 1111 security code 1-2-3", f"card {CARD} security code {CVV}"),
    (
        "card 4111 1111 1111 1111 secure ready code is 1-2-3",
        f"card {CARD} secure ready code is {CVV}",
    ),
    ("card 4111 1111 1111 1111 secure code one two three", f"card {CARD} secure code {CVV}"),
    ("card 4111 1111 1111 1111 and the c v v is 1 2 3", f"card {CARD} and the c v v is {CVV}"),
    ("card 4111 1111 1111 1111 the cvc is one to three", f"card {CARD} the cvc is {CVV}"),
    ("visa 4111 1111 1111 1111 code on the back is 4567", f"visa {CARD} code on the back is {CVV}"),
    ("my card the security code is 456", f"my card the security code is {CVV}"),
    # bare codes after a redacted card: no cue, but nothing else a run of three digits could be
    ("card 4111 1111 1111 1111 and 1-2-3", f"card {CARD} and {CVV}"),
    ("card 4111 1111 1111 1111 and uh one two three ok", f"card {CARD} and uh {CVV} ok"),
    ("card 4111 1111 1111 1111 and the back says 1234", f"card {CARD} and the back says {CVV}"),
    (
        "card 4111 1111 1111 1111 and the expiry and security code oh four twenty seven and 123",
        f"card {CARD} and the expiry and security code {EXPIRY} and {CVV}",
    ),
    # social security numbers
    ("my ssn is 123-45-6789", f"my ssn is {SSN}"),
    ("it's 123 45 6789 i think", f"it's {SSN} i think"),
    (
        "social security number is one two three four five six seven eight nine",
        f"social security number is {SSN}",
    ),
    ("the last four of my social are 6789", f"the last four of my social are {SSN}"),
]

NEGATIVE = [
    "my number is 303 555 0142",
    "call me back at 1-303-555-0142 anytime",
    "call me at one eight hundred five five five one two one two",
    "three zero three five five five zero one four two is my cell",
    "it's 303 555 0142 or 720 555 0199 either one",
    "303 555 0142 303 555 0199",
    "the service call is two hundred dollars",
    "the total was $189 and the part was $1,249.99",
    "we put the furnace in back in 2019 maybe 2020",
    "i live at 1234 main street apartment 5",
    "can you come between 8 and 10 or at 10:30",
    "it ran for 45 minutes then shut off for twenty five",
    "i paid with my credit card two hundred dollars last week",
    "the card ending in 1111 was charged",
    "my warranty expires 04 27",
    "the code on the gate is 1234",
    "tracking number 1234 5678 1234 5678",
    "i went to the social security office on 1234 main street",
    "it's a 2015 carrier eighty thousand btu unit model 58 sta 090",
    "zip code 80202 and my account number is 55512345",
    # "for" and "to" are words, not digits, away from a card
    "we are looking for 2 units and it's for 27 people",
    "the code is for 27 of them",
    "it's oh four twenty seven on the invoice",
    "my security code for the alarm is 1234",
]

# Within reach of a card, the numbers of an ordinary conversation still stay.
NEAR_A_CARD = [
    ("card 4111 1111 1111 1111 i'm looking for 2 units", f"card {CARD} i'm looking for 2 units"),
    ("card 4111 1111 1111 1111 the total is $189", f"card {CARD} the total is $189"),
    ("card 4111 1111 1111 1111 see you at 10:30", f"card {CARD} see you at 10:30"),
    ("card 4111 1111 1111 1111 for 123 main street", f"card {CARD} for 123 main street"),
    ("card 4111 1111 1111 1111 that's 450 dollars", f"card {CARD} that's 450 dollars"),
    ("card 4111 1111 1111 1111 call 303 555 0142", f"card {CARD} call 303 555 0142"),
    ("card 4111 1111 1111 1111 between 8 to 10", f"card {CARD} between 8 to 10"),
    ("card 4111 1111 1111 1111 for 20 minutes", f"card {CARD} for 20 minutes"),
    ("card 4111 1111 1111 1111 it's unit 204", f"card {CARD} it's unit 204"),
    ("card 4111 1111 1111 1111 so two hundred total", f"card {CARD} so two hundred total"),
    ("card 4111 1111 1111 1111 it's 1 to 3 days", f"card {CARD} it's 1 to 3 days"),
    # a bare code is read only after a card, and only within thirty words of it
    ("123 is my unit and my card is 4111 1111 1111 1111", f"123 is my unit and my card is {CARD}"),
    (
        "card 4111 1111 1111 1111 " + "and so on " * 11 + "apartment 5 and 123",
        f"card {CARD} " + "and so on " * 11 + "apartment 5 and 123",
    ),
]


@pytest.mark.parametrize(("text", "expected"), POSITIVE)
def test_pii_is_replaced_by_a_visible_marker(text: str, expected: str) -> None:
    redacted, count = redact_text(text)
    assert redacted == expected
    assert count == expected.count("[REDACTED")


@pytest.mark.parametrize("text", NEGATIVE)
def test_ordinary_numbers_are_left_alone(text: str) -> None:
    assert redact_text(text) == (text, 0)


@pytest.mark.parametrize(("text", "expected"), NEAR_A_CARD)
def test_ordinary_numbers_near_a_card_are_left_alone(text: str, expected: str) -> None:
    assert redact_text(text) == (expected, 1)


def test_the_tables_are_big_enough_to_mean_something() -> None:
    assert len(POSITIVE) >= 45
    assert len(NEGATIVE) >= 20
    assert len(NEAR_A_CARD) >= 10


# The billing call of the demo (entrypoints/demo/audio/calls.json) as Whisper tiny.en really
# wrote it: "for" for "four", "secure ready code" for "security code", "card, Humber".
BILLING_CALL = (
    ("agent", "I'm a customer and I'd like to pay my real."),
    ("agent", "Sure, go ahead with the card, Humber."),
    ("caller", "It's 4-1-1-1-1-1-1-1."),
    ("caller", "1-1-1-1-1-1-1-1-1"),
    ("agent", "And the expiry date and secure ready code."),
    ("caller", "Oh, for 27 and secure ready code is 1-2-3."),
    ("agent", "Thanks, your payment is complete."),
)


def test_the_demo_billing_call_keeps_no_card_digit_expiry_or_code() -> None:
    text = " ".join(line for _, line in BILLING_CALL)
    transcript = Transcript(
        "whisper-tiny.en",
        "en-US",
        text,
        tuple(
            Segment(who, 4.0 * i, 4.0 * i + 3, line) for i, (who, line) in enumerate(BILLING_CALL)
        ),
    )
    redacted = redact_transcript(transcript)
    assert redacted.text == (
        f"I'm a customer and I'd like to pay my real. Sure, go ahead with the card, Humber. It's"
        f" {CARD} And the expiry date and secure ready code. {EXPIRY} and secure ready code is"
        f" {CVV}. Thanks, your payment is complete."
    )
    for kept in (redacted.text, *(s.text for s in redacted.segments)):
        assert not re.search(r"[0-9]", kept), kept
        assert "for 27" not in kept
    assert [s.text for s in redacted.segments][2:6] == [
        f"It's {CARD}",
        CARD,
        "And the expiry date and secure ready code.",
        f"{EXPIRY} and secure ready code is {CVV}.",
    ]
    assert redacted.segments[-1].text == "Thanks, your payment is complete."
    assert redact_transcript(redacted) == redacted


def test_luhn_accepts_real_test_cards_and_rejects_one_wrong_digit() -> None:
    for number in ("4111111111111111", "5500005555555559", "378282246310005", "6011111111111117"):
        assert luhn_valid(number)
        assert not luhn_valid(number[:-1] + str((int(number[-1]) + 1) % 10))


def test_a_transcript_is_redacted_in_text_and_every_segment() -> None:
    transcript = Transcript(
        engine="whisper-tiny.en",
        language="en-US",
        text="can i get a card number sure it's 4111 1111 1111 1111 and my ssn is 123-45-6789",
        segments=(
            Segment("agent", 0.0, 2.0, "can i get a card number"),
            Segment("caller", 2.0, 6.0, "sure it's 4111 1111 1111 1111"),
            Segment("caller", 6.0, 8.0, "and my ssn is 123-45-6789"),
        ),
    )
    redacted = redact_transcript(transcript)
    assert redacted.redacted
    assert redacted.text == f"can i get a card number sure it's {CARD} and my ssn is {SSN}"
    assert [s.text for s in redacted.segments] == [
        "can i get a card number",
        f"sure it's {CARD}",
        f"and my ssn is {SSN}",
    ]
    assert [(s.speaker, s.start_s, s.end_s) for s in redacted.segments] == [
        ("agent", 0.0, 2.0),
        ("caller", 2.0, 6.0),
        ("caller", 6.0, 8.0),
    ]
    assert transcript.text.endswith("6789"), "the original is not modified"


def test_a_card_read_across_a_pause_is_redacted_in_both_segments() -> None:
    transcript = Transcript(
        engine="google-chirp_3",
        language="en-US",
        text="okay it's 4111 1111 1111 1111 expires 0427",
        segments=(
            Segment("caller", 0.0, 3.0, "okay it's 4111 1111"),
            Segment("caller", 3.5, 6.0, "1111 1111"),
            Segment("caller", 6.0, 7.0, "expires 0427"),
        ),
    )
    redacted = redact_transcript(transcript)
    assert redacted.text == f"okay it's {CARD} expires {EXPIRY}"
    assert [s.text for s in redacted.segments] == [f"okay it's {CARD}", CARD, f"expires {EXPIRY}"]


def test_a_text_that_is_not_its_segments_joined_is_redacted_on_its_own() -> None:
    # An engine's full text can differ from its segments (punctuation, a newline between
    # speakers, no segments at all): each is read for itself.
    transcript = Transcript(
        "google-chirp_3",
        "en-US",
        "Card: 4111 1111 1111 1111.\nSSN 123-45-6789",
        (Segment("caller", 0.0, 3.0, "card 4111 1111 1111 1111"),),
    )
    redacted = redact_transcript(transcript)
    assert redacted.text == f"Card: {CARD}.\nSSN {SSN}"
    assert [s.text for s in redacted.segments] == [f"card {CARD}"]
    text_only = Transcript("whisper-tiny.en", "en-US", "my ssn is 123-45-6789", ())
    assert redact_transcript(text_only).text == f"my ssn is {SSN}"


def test_a_transcript_without_pii_comes_back_unchanged_but_marked_redacted() -> None:
    transcript = Transcript(
        "whisper-tiny.en",
        "en-US",
        "my furnace quit call me at 303 555 0142",
        (Segment("caller", 0.0, 3.0, "my furnace quit call me at 303 555 0142"),),
    )
    redacted = redact_transcript(transcript)
    assert redacted.text == transcript.text
    assert redacted.segments == transcript.segments
    assert redacted.redacted


# --- properties -----------------------------------------------------------------------------

WORDS = [
    "yeah", "so", "my", "is", "it's", "the", "okay", "sure", "number", "um", "uh", "and",
    "furnace", "please", "thanks", "that", "right", "here", "go", "account", "ready",
]  # fmt: skip
SPOKEN = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def luhn_completed(body: str) -> str:
    """The body with the check digit that makes it pass Luhn, computed here independently."""
    total = 0
    for position, char in enumerate(reversed(body)):
        d = int(char) * (1 if position % 2 else 2)
        total += d // 10 + d % 10
    return body + str((10 - total % 10) % 10)


def test_the_test_luhn_helper_agrees_with_a_known_card() -> None:
    assert luhn_completed("411111111111111") == "4111111111111111"
    assert luhn_completed("601111111111111") == "6011111111111117"


def render_group(group: str, spoken: bool) -> str:
    return " ".join(SPOKEN[int(d)] for d in group) if spoken else group


@given(
    body=st.text(alphabet="0123456789", min_size=15, max_size=15),
    before=st.lists(st.sampled_from(WORDS), max_size=8),
    after=st.lists(st.sampled_from(WORDS), max_size=8),
    separators=st.lists(st.sampled_from([" ", "-", ".", "", " - ", " um ", ", "]), min_size=3,
                        max_size=3),
    spoken=st.lists(st.booleans(), min_size=4, max_size=4),
)  # fmt: skip
def test_any_luhn_valid_card_in_any_words_leaves_none_of_its_groups(
    body: str, before: list[str], after: list[str], separators: list[str], spoken: list[bool]
) -> None:
    number = luhn_completed(body)
    groups = [number[i : i + 4] for i in range(0, 16, 4)]
    rendered = [render_group(g, s) for g, s in zip(groups, spoken, strict=True)]
    card = rendered[0]
    for separator, group, is_spoken in zip(separators, rendered[1:], spoken[1:], strict=True):
        glued = separator == "" and (is_spoken or card[-1].isalpha())
        card += (" " if glued else separator) + group
    text = " ".join([*before, card, *after])
    redacted, count = redact_text(text)
    assert count >= 1
    digits_left = re.sub(r"\D", "", redacted)
    for group in groups:
        assert group not in digits_left, redacted
    assert redacted.startswith(" ".join(before))


TENS = {2: "twenty", 3: "thirty"}
MONTH_NAMES = "january february march april may june july august september october november"
MONTH_NAMES += " december"


def spoken_year(year: int) -> str:
    return TENS[year // 10] + (f" {SPOKEN[year % 10]}" if year % 10 else "")


def expiry_forms(month: int, year: int) -> list[tuple[str, str]]:
    """(the words kept, the words to redact) for every way ASR writes a card's expiry."""
    forms = [
        ("", f"{month:02d}/{year}"),
        ("expires", f"{MONTH_NAMES.split()[month - 1]} {spoken_year(year)}"),
        ("exp", f"{month} {year}"),
    ]
    if month < 10:
        forms += [
            ("", f"oh {SPOKEN[month]} {spoken_year(year)}"),
            ("", f"0 {month} {year // 10} {year % 10}"),
            ("", f"{SPOKEN[month]} slash {spoken_year(year)}"),
            ("", f"0{month}{year}"),
        ]
    else:
        forms.append(("", f"{['ten', 'eleven', 'twelve'][month - 10]} {spoken_year(year)}"))
    if month == 4:
        forms += [("", f"Oh, for {year}"), ("", f"for {year}")]
    return forms


CODE_CUES = [
    "security code", "secure ready code is", "secure code", "cvv", "the cvc is", "c v v",
    "the three digits on the back are", "code on the back is", "",
]  # fmt: skip
PLAIN_WORDS = [w for w in WORDS if w not in ("um", "uh")]


@given(
    month=st.integers(1, 12),
    year=st.integers(26, 39),
    form=st.integers(0, 9),
    code=st.text(alphabet="0123456789", min_size=3, max_size=4),
    code_form=st.sampled_from(["{}", "-", " ", "spoken"]),
    cue=st.sampled_from(CODE_CUES),
    between=st.lists(st.lists(st.sampled_from(PLAIN_WORDS), max_size=6), min_size=3, max_size=3),
)
def test_an_expiry_and_a_code_after_a_card_leave_no_digit_in_any_asr_form(
    month: int,
    year: int,
    form: int,
    code: str,
    code_form: str,
    cue: str,
    between: list[list[str]],
) -> None:
    forms = expiry_forms(month, year)
    kept, expiry = forms[form % len(forms)]
    if code_form == "spoken":
        said = " ".join(SPOKEN[int(d)] for d in code)
    else:
        said = code if code_form == "{}" else code_form.join(code)
    first, second, third = ([*words, "and"] for words in between)  # a plain word after the card
    parts = ["my card is 4111 1111 1111 1111", *first, kept, expiry, *second, cue, said, *third]
    redacted, count = redact_text(" ".join(p for p in parts if p))
    assert count == 3, redacted
    assert not re.search(r"[0-9]", redacted), redacted
    pattern = " ".join(
        re.escape(p)
        for p in ["my card is", CARD, *first, kept, EXPIRY, *second, cue, "MARK", *third]
        if p
    ).replace("MARK", rf"(?:{re.escape(CVV)}|{re.escape(EXPIRY)})")
    assert re.fullmatch(pattern, redacted), redacted


TEXT_PARTS = st.sampled_from(
    [
        *WORDS, *SPOKEN, "4111", "1111", "5500", "0055", "5559", "303", "555", "0142", "123", "45",
        "6789", "04", "27", "/", "04/27", "12/2027", "double", "triple", "oh", "twenty", "seven",
        "twelve", "april", "of", "slash", "dash", "then", "card", "visa", "credit", "american",
        "express", "expires", "exp", "valid", "through", "cvv", "security code",
        "digits on the back", "social security", "social", "media", "ssn", "s", "n", "last",
        CARD, EXPIRY, CVV, SSN, "4111 1111 1111 1111", "-", ".", "$189", "for", "to", "too",
        "Oh,", "for 27", "0427", "1-2-3", "secure ready code", "secure code", "c v v", "unit",
        "dollars", "main street", "10:30", "four slash", "/27", "expiry date and",
    ]
)  # fmt: skip


@given(parts=st.lists(TEXT_PARTS, max_size=60))
def test_redaction_is_idempotent(parts: list[str]) -> None:
    once, _ = redact_text(" ".join(parts))
    assert redact_text(once) == (once, 0)


@given(text=st.text(max_size=300))
def test_redaction_of_any_text_is_idempotent_and_never_fails(text: str) -> None:
    once, _ = redact_text(text)
    assert redact_text(once) == (once, 0)


@given(parts=st.lists(TEXT_PARTS, min_size=1, max_size=40), cuts=st.lists(st.integers(0, 40)))
def test_redacting_a_transcript_twice_changes_nothing_more(
    parts: list[str], cuts: list[int]
) -> None:
    bounds = sorted({0, len(parts), *(c for c in cuts if c < len(parts))})
    texts = [" ".join(parts[a:b]) for a, b in itertools.pairwise(bounds)]
    transcript = Transcript(
        "whisper-tiny.en",
        "en-US",
        " ".join(texts),
        tuple(Segment("caller", float(i), float(i + 1), t) for i, t in enumerate(texts)),
    )
    once = redact_transcript(transcript)
    assert redact_transcript(once) == once


@pytest.mark.parametrize(
    ("said", "code"),
    [
        ("and then the three digits on the back. um seven two nine", "seven two nine"),
        ("that'll be 149 today. and the three digit code on the back? 903", "903"),
        ("the c v v is 4 1 2", "4 1 2"),
    ],
)
def test_a_cards_code_is_redacted_even_with_no_card_word_said(said: str, code: str) -> None:
    redacted, _ = redact_text(said)
    assert code not in redacted
    assert "149" in redacted or "149" not in said


def test_the_number_on_the_back_of_something_else_is_kept() -> None:
    assert redact_text("the serial number on the back is 4471") == (
        "the serial number on the back is 4471",
        0,
    )
