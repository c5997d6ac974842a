"""What redaction finds, as its finders (domain.cards, domain.card_details, domain.ssn) share
it: the markers, a span of tokens, and distances counted in plain words (domain.spoken_numbers).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

import attrs

from domain.spoken_numbers import FILLERS, Token

CARD = "[REDACTED CARD]"
EXPIRY = "[REDACTED EXPIRY]"
CVV = "[REDACTED CVV]"
SSN = "[REDACTED SSN]"

Span = tuple[int, int, str]  # first and last token, and the marker


def marked(token: Token, label: str) -> Token:
    """What a later finder sees where an earlier one found something: the marker, as a second
    pass over the redacted text sees it, in the token's place."""
    return attrs.evolve(token, word=label.lower(), digits="")


def near(positions: Sequence[int], low: int, width: int) -> bool:
    """Whether any of the sorted positions lies in [low, low + width]."""
    at = bisect_left(positions, low)
    return at < len(positions) and positions[at] <= low + width


def skip(tokens: Sequence[Token], j: int, lead: frozenset[str]) -> int:
    """Past up to four connecting words ("is", "the", "um") between a cue and its value."""
    for _ in range(4):
        if j < len(tokens) and (tokens[j].word in lead or tokens[j].word in FILLERS):
            j += 1
    return j
