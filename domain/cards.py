"""Payment card numbers in speech-recognition output, and where a call mentions a card.

A long number is read as runs of digits that an acknowledgement may separate ("4111 1111",
"okay", "1111 1111"), across speakers and sentences. Such a read is a card if it has 13+ digits
in a call that mentions a payment card anywhere (or where one was found), however long a
repetition loop ("1-1-1-1-...") made it, or 9+ read one digit at a time; 12+ right beside a
card word, since ASR drops digits;
and in any call, 13-19 of its digits that pass Luhn. Phone numbers (3-3-4 groups, 10 or 11
digits), prices, times, addresses and order or model numbers are never cards, and a gift card
or a business card is no payment card.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Sequence

from domain.pii import CARD, Span, near
from domain.spoken_numbers import Token, bridged, is_quantity, reads, runs, words

_CARD_WORDS = words("card cards card's visa mastercard amex discover credit debit cvv cvc")
_CARD_NOUNS = words("card cards card's")
NOT_PAYMENT = words(
    "gift business insurance library loyalty rewards membership member report greeting"
    " birthday id key sim post"
)  # "... card": no payment card
_LABELS = words("order tracking confirmation invoice reference model serial ticket claim policy")
_CARD_LENGTH, _DICTATED_LENGTH, _LABEL_BEFORE = 13, 9, 4
_KEYWORD_BEFORE, _KEYWORD_AFTER = 7, 3
_PHONE_SHAPE = re.compile(r"(?:(?:1,)?3,3,4|1[01])(?:,(?:(?:1,)?3,3,4|1[01]))*")


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        d = int(char) * (2 if position % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def card_mention(tokens: Sequence[Token], i: int) -> bool | None:
    """Whether token i mentions a payment card ("visa", "credit", "card"), another kind of card
    ("gift card", "business card": False), or none (None)."""
    t = tokens[i]
    before = tokens[i - 1].word if i else ""
    if t.word in _CARD_NOUNS and before in NOT_PAYMENT:
        return False
    if t.word in _CARD_WORDS or (t.word, before) == ("express", "american"):
        return True
    return None


def payment_cards(tokens: Sequence[Token]) -> list[int]:
    """Where a payment card is mentioned, in plain words."""
    return [t.plain for i, t in enumerate(tokens) if card_mention(tokens, i)]


def card_spans(tokens: Sequence[Token], keywords: list[int], card_call: bool) -> list[Span]:
    """In a call about a payment card, any read of 13 or more digits (12 right beside a card
    word: ASR drops digits), however long a repetition loop made it; in any call, 13-19 digits
    of a read that pass the card checksum. A read introduced as an order, tracking, model or
    similar number is none, unless a card word is right beside it."""
    labels = [t.plain for t in tokens if t.word in _LABELS]
    spans: list[Span] = []
    found: list[str] = []  # the digits of each card read
    left: list[list[list[int]]] = []  # the reads that were no card
    for read in _reads(tokens):
        flat = [i for piece in read for i in piece]
        start = tokens[flat[0]].plain
        keyed = near(keywords, start - _KEYWORD_BEFORE, _KEYWORD_BEFORE + _KEYWORD_AFTER)
        if near(labels, start - _LABEL_BEFORE, _LABEL_BEFORE) and not keyed:
            continue
        if _a_phone_said_in_groups(tokens, read):
            continue
        length = sum(len(tokens[i].digits) for i in flat)
        # Digits read one by one ("4-1-1-1-1"): ASR drops some of a card read that way, so in
        # a call about a card nine of them are enough (a truncated card is still card data).
        dictated = all(len(tokens[i].digits) == 1 for i in flat) and length >= _DICTATED_LENGTH
        if (card_call and (length >= _CARD_LENGTH or dictated)) or (
            keyed and length >= _CARD_LENGTH - 1
        ):
            windows = [(0, len(flat) - 1)]
        else:
            windows = _luhn_windows([tokens[i].digits for i in flat])
        for low, high in windows:  # each piece's part of the window, so acknowledgements stay
            found.append("".join(tokens[i].digits for i in flat[low : high + 1]))
            for piece in read:
                inside = [i for i in piece if flat[low] <= i <= flat[high]]
                if inside:
                    spans.append((inside[0], inside[-1], CARD))
        if not windows:
            left.append(read)
    if card_call:  # a read both said again and a half is one span, not two markers
        spans += sorted(set(_read_again(tokens, left, found) + _in_halves(tokens, left)))
    return spans


_PREFIX_DIGITS = 6  # six or more of a card's digits, in its order, said again
_HALVES_WITHIN = 8  # plain words between the halves of a card: "okay, and the rest?"


def _read_again(
    tokens: Sequence[Token], reads: list[list[list[int]]], cards: list[str]
) -> list[Span]:
    """Part of a card read again: its start before the line cut out ("6534 4625 66..." and
    then the whole), or as the agent repeats some of it back."""
    spans: list[Span] = []
    for read in reads:
        digits = "".join(tokens[i].digits for piece in read for i in piece)
        if len(digits) >= _PREFIX_DIGITS and any(digits in card for card in cards):
            spans += [(piece[0], piece[-1], CARD) for piece in read]
    return spans


def _in_halves(tokens: Sequence[Token], reads: list[list[list[int]]]) -> list[Span]:
    """A card read in two halves, the agent asking for the rest between them ("Discover,
    6549 3474." "And the rest?" "0778 4073."): groups of four, and together a card's length
    that passes its checksum."""
    spans: list[Span] = []
    for first, second in itertools.pairwise(reads):
        a = [i for piece in first for i in piece]
        b = [i for piece in second for i in piece]
        if tokens[b[0]].plain - tokens[a[-1]].plain > _HALVES_WITHIN:
            continue
        if not all(len(tokens[i].digits) == 4 for i in a + b):
            continue
        digits = "".join(tokens[i].digits for i in a + b)
        if _CARD_LENGTH <= len(digits) <= 19 and luhn_valid(digits):
            spans += [(piece[0], piece[-1], CARD) for piece in (*first, *second)]
    return spans


def _reads(tokens: Sequence[Token]) -> list[list[list[int]]]:
    """The long numbers of a call as they are read out: each a list of pieces (runs, split
    around the dates in them) that only an acknowledgement separates, "4111 1111" "okay"
    "1111 1111". Once a read is long enough for a card, only a piece too long for an expiry or
    a security code joins it. Phone numbers and prices, times and addresses join nothing and
    are never cards."""

    def joins(length: int, digits: int, last: int, first: int) -> bool:
        return (length < _CARD_LENGTH or digits > 4) and (
            bridged(tokens, last, first) or _misheard_pause(tokens, last, first, length, digits)
        )

    return reads(tokens, _pieces(tokens), joins)


def _pieces(tokens: Sequence[Token]) -> Iterator[list[int]]:
    """The runs, split around the dates in them, but for phone numbers, prices, times and
    addresses: being digits, those are no acknowledgement either, so no read bridges them."""
    for run in runs(tokens):
        for piece in _around_dates(tokens, run):
            shape = ",".join(str(len(tokens[i].digits)) for i in piece)
            if not (_PHONE_SHAPE.fullmatch(shape) or is_quantity(tokens, piece)):
                yield piece


def _a_phone_said_in_groups(tokens: Sequence[Token], read: list[list[int]]) -> bool:
    """Whether a read is a phone number alone, said digit by digit in its groups. Only a whole
    read: "5 4 1, 2 7 5, 3 4 5 6." "okay" "7 8 9 0 1 0" starts like one and is a card."""
    piece = read[0]
    return (
        len(read) == 1
        and len(piece) >= 10  # grouped by its pauses: not a run of ten
        and all(len(tokens[i].digits) == 1 for i in piece)
        and "," in (grouped := _said_in(tokens, piece))
        and _PHONE_SHAPE.fullmatch(grouped) is not None
    )


def _said_in(tokens: Sequence[Token], piece: list[int]) -> str:
    """A piece said digit by digit, by the groups its pauses make: "four oh four, five five
    five, oh one nine two" is "3,3,4", a phone number's shape."""
    groups = [0]
    for n, i in enumerate(piece):
        if n and any(mark in tokens[i].gap for mark in ",.;"):
            groups.append(0)
        groups[-1] += len(tokens[i].digits)
    return ",".join(str(size) for size in groups)


# Short words that join two numbers ("2019 and 2021", "8 to 5") or name the next one ("ssn
# 123-45-6789", "zip 80202"): never a pause.
_CONNECTORS = words(
    "and or to too then plus from at by till until thru thro through ssn cvv cvc code zip exp"
    " unit apt ext po box"
)


def _misheard_pause(
    tokens: Sequence[Token], last: int, first: int, before: int, digits: int
) -> bool:
    """One short word between two long pieces of a read not yet long enough for a card: the
    agent's "hmm" as Whisper writes it on a phone line ("4-1-1-1-1-1. Them. 1-1-1-1-1-1-1"),
    not a word that joins or names numbers."""
    if first - last != 2 or not 4 <= before < _CARD_LENGTH or digits < 4:
        return False
    word = tokens[last + 1].word
    return word.isalpha() and len(word) <= 4 and word not in _CONNECTORS


def _around_dates(tokens: Sequence[Token], run: list[int]) -> list[list[int]]:
    """The run in pieces around the dates in it: a card read straight into its expiry,
    "... 1111 04/27" or "... 1111 four slash twenty seven", ends before the month."""
    pieces: list[list[int]] = [[]]
    n = 0
    while n < len(run):
        after = run[n + 1] if n + 1 < len(run) else run[n] + 1
        slash = after < len(tokens) and (tokens[after].word == "slash" or "/" in tokens[after].gap)
        if slash and len(tokens[run[n]].digits) <= 2:
            pieces.append([])  # the month and the year after the slash are no card's
            n += 2
        else:
            pieces[-1].append(run[n])
            n += 1
    return [piece for piece in pieces if piece]


def _luhn_windows(numbers: list[str]) -> list[tuple[int, int]]:
    """The longest stretches of 13-19 digits, left to right, that pass the card checksum."""
    windows, i = [], 0
    while i < len(numbers):
        best, digits = -1, ""
        for j in range(i, len(numbers)):
            digits += numbers[j]
            if len(digits) > 19:
                break
            if len(digits) >= _CARD_LENGTH and luhn_valid(digits):
                best = j
        if best < 0:
            i += 1
        else:
            windows.append((i, best))
            i = best + 1
    return windows
