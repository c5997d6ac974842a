"""Finding words in a transcript: the quote behind a score reason, and when it was said.

A phrase is looked for as whole words, case and punctuation aside ("You're all set." holds
"you're all set"), in each segment, then across the whole text. What is returned is the
transcript's own text for those words, so a quote shown always occurs in the transcript; a
phrase the transcript does not hold gives None (a model's quote it made up is dropped). The
time is the first word's, from the recogniser's word timings when they line up with the
segment's text, else estimated from where in the segment the words are.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

from domain.results import Evidence, Segment, Transcript

_WORD = re.compile(r"[a-z0-9]+(?:'+[a-z0-9]+)*")
# What a model may copy from the prompt's transcript lines: "[01:02] caller: "
_LINE_PREFIX = re.compile(r"^\s*\[\d{1,3}:\d{2}\]\s*(?:[\w ]{1,40}:\s*)?")
MAX_QUOTE_CHARS = 160


@functools.lru_cache(maxsize=512)
def tokens(text: str) -> tuple[tuple[str, int, int], ...]:
    """The words of a text, lower case, with where each starts and ends in it. Kept for the
    texts read last: a call's dozen quotes are each looked for in the same segments."""
    lowered = text.lower().replace("\u2019", "'")
    return tuple((m.group(), m.start(), m.end()) for m in _WORD.finditer(lowered))


def locate(
    transcript: Transcript | None,
    phrase: str,
    *,
    signal: str,
    context_words: int = 0,
    open_end: bool = False,
) -> Evidence | None:
    """The phrase's first occurrence as Evidence for `signal`, with up to `context_words`
    words either side from the same segment; None when the transcript does not hold it.
    `open_end`: the phrase's last word may be the start of a longer one (a pattern's match,
    "back order" of "back ordered"); the quote is still the transcript's whole words."""
    if transcript is None:
        return None
    wanted = [w for w, _, _ in tokens(_LINE_PREFIX.sub("", phrase))]
    if not wanted:
        return None
    find = functools.partial(_find, open_end=open_end)
    for segment in transcript.segments:
        found = find(segment.text, wanted, context_words)
        if found is not None:
            start, end, first_char = found
            return Evidence(signal, _short(segment.text[start:end]), _time(segment, first_char))
    across = _across_segments(transcript, wanted, signal, context_words)
    if across is not None:
        return across
    found = find(transcript.text, wanted, context_words)
    if found is None:
        return None
    start, end, _ = found
    return Evidence(signal, _short(transcript.text[start:end]), None)


def first_located(
    transcript: Transcript | None,
    phrases: Sequence[str],
    *,
    signal: str,
    context_words: int = 0,
    open_end: bool = False,
) -> Evidence | None:
    """The earliest said of several phrases (by time, else by order given)."""
    found = [
        e
        for p in phrases
        if (
            e := locate(
                transcript, p, signal=signal, context_words=context_words, open_end=open_end
            )
        )
        is not None
    ]
    if not found:
        return None
    return min(found, key=lambda e: e.at_s if e.at_s is not None else float("inf"))


def _across_segments(
    transcript: Transcript, wanted: list[str], signal: str, context: int
) -> Evidence | None:
    """Words said across a segment boundary ("and last name," | "renee castillo"), timed by
    the segment their first word is in; only when the quote is in the transcript's text."""
    segments = [s for s in transcript.segments if s.text]
    joined = " ".join(s.text for s in segments)
    found = _find(joined, wanted, context) if len(segments) > 1 else None
    if found is None:
        return None
    start, end, first_char = found
    quote = _short(joined[start:end])
    if quote not in " ".join(transcript.text.split()):
        return None
    offset = 0
    for segment in segments:
        if first_char < offset + len(segment.text):
            return Evidence(signal, quote, _time(segment, first_char - offset))
        offset += len(segment.text) + 1
    return Evidence(signal, quote, None)


def _find(
    text: str, wanted: list[str], context: int, *, open_end: bool = False
) -> tuple[int, int, int] | None:
    said = tokens(text)
    n = len(wanted)
    for i in range(len(said) - n + 1):
        end_word = said[i + n - 1][0]
        if all(said[i + k][0] == wanted[k] for k in range(n - 1)) and (
            end_word == wanted[-1] or (open_end and end_word.startswith(wanted[-1]))
        ):
            first, last = max(0, i - context), min(len(said), i + n + context) - 1
            return said[first][1], said[last][2], said[i][1]
    return None


def _short(quote: str) -> str:
    quote = " ".join(quote.split())
    if len(quote) <= MAX_QUOTE_CHARS:
        return quote
    return quote[:MAX_QUOTE_CHARS].rsplit(" ", 1)[0]


def _time(segment: Segment, char: int) -> float:
    """When the word starting at `char` of the segment's text was said."""
    before = len(tokens(segment.text[:char]))
    if segment.words:
        counts = [len(tokens(w.text)) for w in segment.words]
        if sum(counts) == len(tokens(segment.text)):
            seen = 0
            for word, count in zip(segment.words, counts, strict=True):
                if seen + count > before:
                    return round(word.start_s, 2)
                seen += count
    share = char / max(len(segment.text), 1)
    return round(segment.start_s + share * (segment.end_s - segment.start_s), 2)
