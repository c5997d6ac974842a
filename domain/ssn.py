"""US social security numbers as callers read them: 3-2-4 digit groups, or 9 digits (4 for
"the last four") after a cue as ASR writes it ("social security", "social", "social's", "ssn",
"s s n", "ss number"), in one breath or in groups with the agent's "okay" between them."""

from __future__ import annotations

from collections.abc import Sequence

from domain.pii import SSN, Span, near
from domain.spoken_numbers import MONTHS, ORDINALS, Token, bridged, reads, runs, words

_SOCIAL = words("social social's ssn ssn's")
_SS_NUMBER = words("number no")  # "ss number", "s s number"
_CUE_BEFORE, _LAST_BEFORE = 15, 12  # plain words back to "social" and to "the last four"


def ssn_spans(tokens: Sequence[Token]) -> list[Span]:
    cues = sorted(tokens[i].plain for i in range(len(tokens)) if _is_cue(tokens, i))
    lasts = [t.plain for t in tokens if t.word == "last"]  # "the last four of my social"
    spans = []
    for read in _reads(tokens):
        flat = [i for run in read for i in run]
        digits = "".join(tokens[i].digits for i in flat)
        shape = [len(tokens[i].digits) for i in flat]
        literal = all(tokens[i].word.isdigit() for i in flat)
        start = tokens[flat[0]].plain
        if _after_a_month(tokens, flat[0]):
            continue  # "april 9th, 1986": a date of birth's year
        last_four = len(digits) == 4 and near(lasts, start - _LAST_BEFORE, _LAST_BEFORE - 1)
        cued = near(cues, start - _CUE_BEFORE, _CUE_BEFORE - 1) and (len(digits) == 9 or last_four)
        if cued or (literal and shape == [3, 2, 4] and _plausible(digits)):
            spans += [(run[0], run[-1], SSN) for run in read]  # the "okay" between them stays
    return spans


def _after_a_month(tokens: Sequence[Token], first: int) -> bool:
    """Whether a read follows a month and at most its day ("may 3rd, 1979"): a date's year.
    A month further back is none ("born in march. social is ...", "you may, it's ...")."""
    for k in range(first - 1, max(first - 5, -1), -1):
        if tokens[k].word in MONTHS:
            return True
        if not (tokens[k].digits or tokens[k].word in ORDINALS or tokens[k].word in _DAYS):
            return False
    return False


_DAYS = words(  # "may the third, 1979", "june twenty first"
    "the first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth"
    " thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth"
    " thirtieth"
)


def _is_cue(tokens: Sequence[Token], i: int) -> bool:
    word = tokens[i].word
    before = [t.word for t in tokens[max(i - 2, 0) : i]]
    following = tokens[i + 1].word if i + 1 < len(tokens) else ""
    return (
        (word in _SOCIAL and following != "media")
        or (word == "n" and before == ["s", "s"])
        or (word in _SS_NUMBER and (before[-1:] == ["ss"] or before == ["s", "s"]))
    )


def _reads(tokens: Sequence[Token]) -> list[list[list[int]]]:
    """The runs of the text, those that only an acknowledgement separates ("621 33", "okay",
    "4401") taken together while they are no longer than an SSN."""
    return reads(
        tokens,
        runs(tokens),
        lambda length, digits, last, first: length + digits <= 9 and bridged(tokens, last, first),
    )


def _plausible(digits: str) -> bool:
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"
