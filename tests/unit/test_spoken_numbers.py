"""Reading numbers out of speech-recognition output: digits, words, "oh", "double one",
"twenty seven", fillers in between, and "for" or "to" where a date's "four" or "two" should be."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.spoken_numbers import (
    MONTHS,
    Token,
    bridged,
    expiry_like,
    full_date,
    is_quantity,
    month_year,
    number_at,
    run_at,
    runs,
    said,
    tokenize,
)


def digits_of(text: str) -> list[str]:
    return [t.digits for t in tokenize(text) if t.digits]


def run_words(text: str, dates: bool = False) -> list[str]:
    """Each run of the text, as the words it covers."""
    tokens = tokenize(text)
    return [text[tokens[run[0]].start : tokens[run[-1]].end] for run in runs(tokens, dates)]


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("4111 1111", ["4111", "1111"]),
        ("four one one one", ["4", "1", "1", "1"]),
        ("oh four", ["0", "4"]),
        ("double one triple five", ["11", "555"]),
        ("double 7", ["77"]),
        ("twenty seven", ["27"]),
        ("twenty twenty seven", ["20", "27"]),
        ("twenty oh", ["20", "0"]),
        ("twelve nineteen", ["12", "19"]),
        ("4-1-1-1", ["4", "1", "1", "1"]),
        ("the last four of my social", []),
        ("the last 4 of my social", ["4"]),
        ("looking for someone to come too", []),
        ("double trouble", []),
    ],
)
def test_numbers_are_read_from_digits_words_and_mixtures(text: str, digits: list[str]) -> None:
    assert digits_of(text) == digits


def test_a_two_word_number_is_one_token_spanning_both_words() -> None:
    tokens = tokenize("it's Twenty Seven, ok")
    assert [t.word for t in tokens] == ["it's", "twenty seven", "ok"]
    assert (tokens[1].start, tokens[1].end, tokens[1].digits) == (5, 17, "27")
    assert tokens[2].gap == ", "


@pytest.mark.parametrize(
    ("word", "following", "read"),
    [
        ("twenty", "seven", ("27", 2)),
        ("twenty", "oh", ("20", 1)),
        ("ninety", "nine", ("99", 2)),
        ("double", "oh", ("00", 2)),
        ("triple", "5", ("555", 2)),
        ("double", "x", ("", 1)),
        ("for", "27", ("", 1)),
        ("007", "", ("007", 1)),
    ],
)
def test_number_at(word: str, following: str, read: tuple[str, int]) -> None:
    assert number_at(word, following) == read


def test_aliases_are_words_that_become_digits_only_before_a_number() -> None:
    tokens = tokenize("oh for 27 for you to 5 too")
    assert [t.alias for t in tokens] == ["", "4", "", "4", "", "2", "", "2"]
    assert [said(tokens, i) for i in range(len(tokens))] == ["0", "4", "27", "", "", "2", "5", ""]
    assert all(not t.digits for t in tokens if t.alias)


def test_plain_words_leave_out_numbers_fillers_markers_and_what_a_date_can_swallow() -> None:
    tokens = tokenize("my card is [REDACTED CARD] um expires april of twenty seven slash for to ok")
    plain = {t.word: t.plain for t in tokens}
    assert plain["is"] == 2
    assert plain["[redacted card]"] == plain["um"] == plain["expires"] == 3
    assert plain["ok"] == 4, "april, of, the number, slash, for and to are not plain"


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("4111 um 1111 uh dash 1111", ["4111 um 1111 uh dash 1111"]),
        ("4111 um uh er 1111", ["4111", "1111"]),
        ("call 303 555 0142 or 720", ["303 555 0142", "720"]),
        ("um 12 and then", ["12"]),
        ("oh for 27", ["oh", "27"]),
        ("four slash twenty seven", ["four", "twenty seven"]),
        ("looking for 2 units", ["2"]),
    ],
)
def test_runs(text: str, found: list[str]) -> None:
    assert run_words(text) == found


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("oh for 27", ["oh for 27"]),
        ("Oh, for 27 and 1-2-3", ["Oh, for 27", "1-2-3"]),
        ("four slash twenty seven", ["four slash twenty seven"]),
        ("looking for someone", []),
        ("it's for you to 27", ["to 27"]),
        ("for to 27", ["to 27"]),
        ("27 for", ["27"]),
        ("slash 27 slash", ["27"]),
    ],
)
def test_date_runs_take_an_alias_before_a_number_and_a_slash_between_numbers(
    text: str, found: list[str]
) -> None:
    assert run_words(text, dates=True) == found


def test_a_run_is_read_from_where_it_starts() -> None:
    tokens = tokenize("the code is 1 2 3 thanks")
    assert run_at(tokens, 3) == [3, 4, 5]
    assert run_at(tokens, 4) == [4, 5]
    assert run_at(tokens, 2) == []


@pytest.mark.parametrize(
    "text",
    [
        "4 27",
        "04/27",
        "04 27",
        "oh four twenty seven",
        "Oh, for 27",
        "for 27",
        "oh to twenty eight",
        "0 4 2 7",
        "oh four two seven",
        "0427",
        "twelve twenty six",
        "four slash twenty seven",
        "10 49",
        "1 20",
    ],
)
def test_month_and_year(text: str) -> None:
    tokens = tokenize(text)
    assert month_year(tokens, run_at(tokens, 0, dates=True))


@pytest.mark.parametrize(
    "text",
    [
        "1 2 3",  # a security code, not January '23
        "1 2 3 4",
        "1227",
        "427",
        "4 2",
        "13 27",
        "0 27",
        "4 50",
        "4 19",
        "4 2027",
        "8 to 10",
        "303 555 0142",
        "0 0 2 7",
        "4 27 5",
        "twenty twenty seven",
    ],
)
def test_not_a_month_and_year(text: str) -> None:
    tokens = tokenize(text)
    assert not month_year(tokens, run_at(tokens, 0, dates=True))


def test_no_run_is_no_date() -> None:
    assert not month_year(tokenize("hello"), [])


def answer_of(text: str) -> tuple[list[Token], list[int]]:
    """The tokens, and the run the text starts with after a month's name ("of" included)."""
    tokens = tokenize(text)
    start = 1 + (len(tokens) > 1 and tokens[1].word == "of") if tokens[0].word in MONTHS else 0
    return tokens, [*range(start), *run_at(tokens, start, dates=True)]


@pytest.mark.parametrize(
    "text",
    [
        "oh nine twenty six",
        "zero three twenty seven",
        "Oh, nine, twenty-six",
        "1127",
        "11 27",
        "11/2027",
        "twelve twenty twenty seven",
        "march twenty eight",
        "March 28",
        "march of twenty eight",
        "March of 2028",
        "april twenty twenty seven",
    ],
)
def test_an_expiry_as_a_caller_gives_one_when_asked(text: str) -> None:
    assert expiry_like(*answer_of(text))


@pytest.mark.parametrize(
    "text",
    [
        "729",
        "7 2 9",
        "1 2 3",
        "1317",
        "12 31 2025",
        "12/31/2025",
        "12 31 25",
        "december 31 2025",
        "December 31st 2025",
        "March 28th",
        "march 1998",
        "for 2",
        "303 555 0142",
    ],
)
def test_no_expiry(text: str) -> None:
    assert not expiry_like(*answer_of(text))


@pytest.mark.parametrize(
    ("text", "dated"),
    [
        ("12 31 2025", True),
        ("12/31/25", True),
        ("4 27 2025", True),
        ("december 31 2025", True),
        ("twelve thirty one twenty twenty five", True),
        ("twelve twenty twenty seven", False),  # December 2027
        ("april twenty twenty seven", False),
        ("oh four twenty seven", False),
        ("1 2 27", False),
        ("11 27", False),
    ],
)
def test_a_date_with_a_day(text: str, dated: bool) -> None:
    assert full_date(*answer_of(text)) is dated


@pytest.mark.parametrize(
    ("text", "quantity"),
    [
        ("it's $189 total", True),
        ("at 10:30 then", True),
        ("at 123 main street", True),
        ("for 20 minutes", True),
        ("it's 450 dollars", True),
        ("it's unit 204", True),
        ("model 5807 please", True),
        ("it's 123 thanks", False),
        ("and 4567", False),
        ("the 123 [REDACTED CVV] dollars", False),
    ],
)
def test_a_price_a_time_an_address_or_a_quantity(text: str, quantity: bool) -> None:
    tokens = tokenize(text)
    run = next(run for run in runs(tokens, dates=True))
    assert is_quantity(tokens, run) is quantity


# --- properties -----------------------------------------------------------------------------

PARTS = st.sampled_from(
    [
        "4111", "1111", "04", "27", "04/27", "oh", "four", "for", "to", "too", "twenty", "seven",
        "double", "one", "april", "of", "slash", "um", "dash", "then", "last", "the", "card",
        "is", "my", "code", "and", "[REDACTED CARD]", "-", "/", ",", "$", "12:30",
    ]
)  # fmt: skip


@given(parts=st.lists(PARTS, max_size=40), pick=st.integers(0, 40), dates=st.booleans())
def test_replacing_a_run_by_a_marker_moves_no_later_word(
    parts: list[str], pick: int, dates: bool
) -> None:
    text = " ".join(parts)
    tokens = tokenize(text)
    found = runs(tokens, dates)
    if not found:
        return
    run = found[pick % len(found)]
    start, end = tokens[run[0]].start, tokens[run[-1]].end
    replaced = tokenize(text[:start] + "[REDACTED CVV]" + text[end:])
    after = [(t.word, t.plain) for t in tokens[run[-1] + 1 :]]
    assert [(t.word, t.plain) for t in replaced[len(replaced) - len(after) :]] == after
    assert replaced[len(replaced) - len(after) - 1].plain == tokens[run[0]].plain


@given(text=st.text(max_size=200))
def test_any_text_is_read_into_ordered_tokens_that_cover_their_own_words(text: str) -> None:
    tokens = tokenize(text)
    assert all(a.end <= b.start for a, b in itertools.pairwise(tokens))
    assert all(a.plain <= b.plain for a, b in itertools.pairwise(tokens))
    for token in tokens:
        assert text[token.start - len(token.gap) : token.start] == token.gap
        assert " ".join(text[token.start : token.end].lower().split()) == token.word
    for run in runs(tokens, dates=True):
        assert all(said(tokens, i) for i in run)


@pytest.mark.parametrize(
    ("text", "joined"),
    [
        ("4111 okay 1111", True),
        ("4111, Mm-hmm, go on. 1111", True),
        ("four one one one. Uh-huh. One", True),
        ("4111 got it 1111", True),
        ("4111. The 1111", True),
        ("4111 1111", True),
        ("4111 okay yes got it go ahead 1111", False),  # six words: more than a pause
        ("4111 and 1111", False),
        ("4111 or 1111", False),
        ("4111 main street 1111", False),
    ],
)
def test_an_acknowledgement_bridges_two_pieces_of_a_number(text: str, joined: bool) -> None:
    tokens = tokenize(text)
    numbers = [i for i, t in enumerate(tokens) if t.digits]
    assert bridged(tokens, numbers[-2], numbers[-1]) is joined
