"""Repetition loops in speech-recognition output: a decoder that gets stuck writes one token or
phrase over and over ("1-1-1-1-1-1-1-1-1-1-1-1...", "thank you. thank you. thank you. ..."),
far past anything a person says. A loop is told from real repetition by its count alone:

- one digit (a numeral or a digit word) more than MAX_DIGIT_REPEATS times in a row: no number
  read out on a call is longer than a 16-digit card, and a test card (4111 1111 1111 1111)
  really repeats one digit 15 times. Cutting a run shorter than that would also cut it below
  the 13 digits redaction needs to recognise a card (domain.redaction);
- one other word more than MAX_WORD_REPEATS times ("no no no no" stays);
- a phrase of two to MAX_PHRASE_WORDS words MIN_PHRASE_LOOP times or more.

Words are compared lower-cased, without punctuation or hyphens, so "1-1-1", "1, 1, 1" and
"one one one" are the same run. Dropping a loop keeps as many repetitions as a person might
have said and removes the rest.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence

import attrs

MAX_DIGIT_REPEATS = 16
MAX_WORD_REPEATS = 5
MIN_PHRASE_LOOP = 5
MAX_PHRASE_WORDS = 8
_TOKEN = re.compile(r"[A-Za-z0-9']+")
_DIGIT_WORDS = frozenset(str.split("zero oh one two three four five six seven eight nine"))
_DANGLING = " ,;:-"


@attrs.frozen
class Loop:
    """A loop in a text: characters [start, end) hold the whole run, of which [start, kept)
    is what a person might have said."""

    start: int
    kept: int
    end: int
    unit: tuple[str, ...]
    repeats: int


def _tokens(text: str) -> list[tuple[str, int, int]]:
    return [(m.group().lower().strip("'"), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def _limit(unit: tuple[str, ...]) -> int:
    """The most repetitions of `unit` in a row that are still speech."""
    if len(unit) > 1:
        return MIN_PHRASE_LOOP - 1
    word = unit[0]
    return MAX_DIGIT_REPEATS if word.isdigit() or word in _DIGIT_WORDS else MAX_WORD_REPEATS


def _repeats(words: list[str], at: int, size: int) -> int:
    """How many times words[at:at+size] occurs back to back from `at`."""
    unit, count = words[at : at + size], 1
    while words[at + count * size : at + (count + 1) * size] == unit:
        count += 1
    return count


def find_loops(text: str) -> tuple[Loop, ...]:
    """Every loop in `text`, left to right, none overlapping; the shortest unit wins, so
    "1 1 1 ..." is a loop of "1", not of "1 1"."""
    tokens = _tokens(text)
    words = [word for word, _, _ in tokens]
    loops: list[Loop] = []
    at = 0
    while at < len(words):
        for size in range(1, MAX_PHRASE_WORDS + 1):
            unit = tuple(words[at : at + size])
            if len(unit) < size or (size > 1 and len(set(unit)) == 1):
                continue  # a phrase of one repeated word is that word's run
            count = _repeats(words, at, size)
            limit = _limit(unit)
            if count > limit:
                last = at + count * size - 1
                kept = tokens[at + limit * size - 1][2]
                loops.append(Loop(tokens[at][1], kept, tokens[last][2], unit, count))
                at = last + 1
                break
        else:
            at += 1
    return tuple(loops)


def has_loop(text: str) -> bool:
    return bool(find_loops(text))


def drop_loops(text: str) -> str:
    """`text` without the repetitions past each loop's plausible count."""
    loops = find_loops(text)
    if not loops:
        return text
    out, since = [], 0
    for loop in loops:
        out.append(text[since : loop.kept])
        since = loop.end
    out.append(text[since:])
    return "".join(out).rstrip(_DANGLING)  # a loop cut at the window's end: "1-1-1-"


def looping_pieces(pieces: Sequence[str]) -> tuple[tuple[int, int], ...]:
    """For text written in pieces (a transcript's segments), the first and last piece each loop
    touches: a decoder that writes "1-1-1." as ten segments loops as much as one that writes
    it as one."""
    joined, offsets = _joined(pieces)
    found = []
    for loop in find_loops(joined):
        first = bisect_right(offsets, loop.start) - 1
        last = bisect_right(offsets, loop.end - 1) - 1
        found.append((first, last))
    return tuple(found)


def drop_loops_across(pieces: Sequence[str]) -> list[str]:
    """Each piece without the repetitions past a loop's plausible count, a loop being read
    across pieces; a piece that was all loop comes back empty."""
    joined, offsets = _joined(pieces)
    cuts = [(loop.kept, loop.end) for loop in find_loops(joined)]
    if not cuts:
        return list(pieces)
    out = []
    for piece, offset in zip(pieces, offsets, strict=True):
        end, kept, since = offset + len(piece), [], offset
        for low, high in cuts:
            if high <= since or low >= end:
                continue
            kept.append(joined[since : max(low, since)])
            since = min(high, end)
        kept.append(joined[since:end])
        text = "".join(kept)
        if text != piece:
            text = text.strip().rstrip(_DANGLING)
            text = text if any(c.isalnum() for c in text) else ""  # only the loop's "." left
        out.append(text)
    return out


def _joined(pieces: Sequence[str]) -> tuple[str, list[int]]:
    offsets, at = [], 0
    for piece in pieces:
        offsets.append(at)
        at += len(piece) + 1
    return " ".join(pieces), offsets
