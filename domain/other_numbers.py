"""What the words around a number said without its cue make it, other than a card's detail: a
price, a time or a quantity (domain.spoken_numbers.is_quantity), an address ("1817 north laurel
street", the answer to "billing address?"), a year ("since 2015"), a part of a model number
("24ACC636") or a number named as something else ("unit number is 204", "the gate code is 1234").
"""

from __future__ import annotations

from collections.abc import Sequence

from domain.spoken_numbers import Token, is_quantity, words

OTHER_CODES = words(
    "gate door alarm lockbox lock garage access entry building wifi zip postal area promo"
    " promotional discount coupon confirmation reference error tracking booking"
)  # "... code": no card's
_TIME_BEFORE = words("at around by until till between")  # "at 2 30", "at 900 elm"
_DIRECTIONS = words(
    "north south east west n e w ne nw se sw northeast northwest southeast southwest"
)
_STREETS = words("street st avenue ave road rd drive boulevard blvd lane ln parkway pkwy highway")
_YEAR_BEFORE = words("in since from the a an built year back until till around of")
_NAMED = words(
    "unit apartment apt suite room extension ext model zip order invoice house lot building"
    " floor box account job ticket confirmation reference"
)
_NUMBER_LEAD = words("number no is it's its")


def other_number(tokens: Sequence[Token], run: Sequence[int]) -> bool:
    """Whether the run reads as something other than a card's expiry or security code."""
    first, last = run[0], run[-1]
    before = [t.word for t in tokens[max(first - 5, 0) : first]]
    after = [t.word for t in tokens[last + 1 : last + 5]]
    return (
        is_quantity(tokens, list(run))
        or "address" in before
        or (before[-1:] != [] and before[-1] in _TIME_BEFORE)
        or after[:1] == ["of"]  # "250 of them"
        or (after[:1] != [] and after[0] in _DIRECTIONS)
        or any(w in _STREETS for w in after)
        or _glued(tokens, first, last)
        or (len(run) == 1 and _year(tokens[first].word) and before[-1:] != []
            and before[-1] in _YEAR_BEFORE)
        or _named(tokens, first)
    )  # fmt: skip


def _glued(tokens: Sequence[Token], first: int, last: int) -> bool:
    """Whether letters touch the number: part of a model or serial number, "24ACC636"."""
    before = first > 0 and tokens[first].gap == "" and tokens[first - 1].word.isalpha()
    following = tokens[last + 1] if last + 1 < len(tokens) else None
    return before or (following is not None and following.gap == "" and following.word.isalpha())


def _year(word: str) -> bool:
    return len(word) == 4 and word.isdigit() and 1950 <= int(word) <= 2049


def _named(tokens: Sequence[Token], first: int) -> bool:
    """Whether the number is named as something else: "unit number is 204", "the gate code is
    1234"."""
    k = first - 1
    while k >= 0 and first - k <= 2 and tokens[k].word in _NUMBER_LEAD:
        k -= 1
    if k < 0:
        return False
    other_code = k > 0 and tokens[k - 1].word in OTHER_CODES
    return tokens[k].word in _NAMED or (tokens[k].word in ("code", "pin") and other_code)
