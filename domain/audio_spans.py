"""Where in the sound the redacted text was said: the stretches of a recording to silence.

Redaction (domain.redaction) finds card numbers, expiries, security codes and SSNs in the
transcript's text; each segment's words carry when they were said. A redacted stretch of a
segment's text is silenced from the start of its first word to the end of its last, padded by
MARGIN_S each side so no digit's edge survives, on the channel the segment was heard on. A
segment whose words are missing, or do not spell its text, is silenced whole: without the
words' times nothing narrower is known to hold every digit.
"""

from __future__ import annotations

from collections.abc import Sequence

from domain.results import Segment, SilencedSpan, Word

MARGIN_S = 0.2
LocalSpan = tuple[int, int, str]  # characters of a segment's text, and the marker put there


def silenced_spans(
    segments: Sequence[Segment], redacted: Sequence[Sequence[LocalSpan]]
) -> tuple[SilencedSpan, ...]:
    """The spans to silence, in the order said: `redacted[i]` is what was redacted in
    `segments[i]`'s text, as characters of it and the marker ("[REDACTED CARD]")."""
    spans = []
    for segment, local in zip(segments, redacted, strict=True):
        for lo, hi, marker in local:
            start, end = _said(segment, lo, hi)
            kind = marker.removeprefix("[REDACTED ").removesuffix("]")
            spans.append(
                SilencedSpan(max(start - MARGIN_S, 0.0), end + MARGIN_S, kind, segment.channel)
            )
    return tuple(sorted(spans, key=lambda s: (s.start_s, s.end_s)))


def _said(segment: Segment, lo: int, hi: int) -> tuple[float, float]:
    """When characters lo..hi of the segment's text were said."""
    placed = _placed(segment.text, segment.words)
    held = [word for start, end, word in placed if start < hi and end > lo]
    if not held:
        return segment.start_s, segment.end_s
    return min(w.start_s for w in held), max(w.end_s for w in held)


def _placed(text: str, words: Sequence[Word]) -> list[tuple[int, int, Word]]:
    """Each word with the characters of the text it spells, in order; empty when the words do
    not spell the text (then nothing narrower than the segment is known)."""
    placed, cursor, lowered = [], 0, text.lower()
    for word in words:
        piece = word.text.strip().lower()
        if not piece:
            continue
        at = lowered.find(piece, cursor)
        if at < 0:
            return []
        placed.append((at, at + len(piece), word))
        cursor = at + len(piece)
    return placed
