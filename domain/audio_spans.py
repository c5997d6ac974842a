"""Where in the sound the redacted text was said: the stretches of a recording to silence.

Redaction (domain.redaction) finds card numbers, expiries, security codes and SSNs in the
transcript's text; each segment's words carry when they were said. Whisper's word times are
rough (a few tenths of a second either way, more where it looped), so an item is silenced
from the end of the last word before it that was kept to the start of the first kept word
after it, on the channel that said it: nothing between two words known to be harmless
survives. That stretch reaches at most REACH_S beyond the item's own words (a long silence or
an unrecognised turn beyond is left alone), and at least MARGIN_S, overlapping a kept word's
edge if it must. A segment whose words are missing, or do not spell its text, counts as one
word as long as the segment.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from domain.results import Segment, SilencedSpan, Word

MARGIN_S = 0.3
REACH_S = 5.0
LocalSpan = tuple[int, int, str]  # characters of a segment's text, and the marker put there


@attrs.frozen
class _Said:
    """A word (or a whole segment) on a channel, and whether redaction took it."""

    start_s: float
    end_s: float
    channel: int | None
    taken: bool


def silenced_spans(
    segments: Sequence[Segment], redacted: Sequence[Sequence[LocalSpan]]
) -> tuple[SilencedSpan, ...]:
    """The spans to silence, in the order said: `redacted[i]` is what was redacted in
    `segments[i]`'s text, as characters of it and the marker ("[REDACTED CARD]")."""
    items: list[tuple[list[_Said], str]] = []
    timeline: list[_Said] = []
    for segment, local in zip(segments, redacted, strict=True):
        words = _words(segment)
        taken = [[w for (lo_w, hi_w, w) in words if lo_w < hi and hi_w > lo] for lo, hi, _ in local]
        held = {id(w) for group in taken for w in group}
        timeline += [_Said(w.start_s, w.end_s, segment.channel, id(w) in held) for _, _, w in words]
        for group, (_, _, marker) in zip(taken, local, strict=True):
            kind = marker.removeprefix("[REDACTED ").removesuffix("]")
            items.append(([_Said(w.start_s, w.end_s, segment.channel, True) for w in group], kind))
    spans = [_span(group, kind, timeline) for group, kind in items if group]
    return tuple(sorted(spans, key=lambda s: (s.start_s, s.end_s)))


def _span(group: list[_Said], kind: str, timeline: list[_Said]) -> SilencedSpan:
    first, last = min(s.start_s for s in group), max(s.end_s for s in group)
    channel = group[0].channel
    kept = [
        s for s in timeline if not s.taken and (channel is None or s.channel in (None, channel))
    ]
    before = max((s.end_s for s in kept if s.start_s < first), default=first - MARGIN_S)
    after = min((s.start_s for s in kept if s.end_s > last), default=last + MARGIN_S)
    start = min(max(before, first - REACH_S), first - MARGIN_S)
    end = max(min(after, last + REACH_S), last + MARGIN_S)
    return SilencedSpan(max(start, 0.0), end, kind, channel)


def _words(segment: Segment) -> list[tuple[int, int, Word]]:
    """Each word with the characters of the text it spells; the segment as one word when its
    words are missing or do not spell its text."""
    placed: list[tuple[int, int, Word]] = []
    cursor, lowered = 0, segment.text.lower()
    for word in segment.words:
        piece = word.text.strip().lower()
        if not piece:
            continue
        at = lowered.find(piece, cursor)
        if at < 0:
            placed = []
            break
        placed.append((at, at + len(piece), word))
        cursor = at + len(piece)
    if placed:
        return placed
    return [(0, len(segment.text), Word(segment.start_s, segment.end_s, segment.text))]
