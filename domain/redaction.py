"""PII redaction for call transcripts: payment cards, their expiry and security code, and US
social security numbers, in real speech-recognition output.

ASR output is misheard and often unpunctuated; domain.spoken_numbers reads its numbers ("4111",
"four one one one", "double one", "oh for 27") into runs. Then, in this order:

- card numbers (domain.cards): long reads of digits in a call about a payment card, or that
  pass the card checksum, however an acknowledgement or a repetition loop split or stretched
  them;
- a card's expiry and security code after their cue, within 30 words of a payment card word
  or a card (domain.card_details);
- SSNs (domain.ssn);
- bare expiry dates and security codes within 30 words after a card (domain.card_details).

Each step reads what the earlier ones left, as a second pass reads their markers, and distances
are counted in plain words, which markers do not change: redaction is idempotent.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from domain.audio_spans import LocalSpan, silenced_spans
from domain.card_details import (
    CONTEXT,
    after_card,
    card_questions,
    code_at,
    expiry_at,
    slashed_at,
)
from domain.cards import card_spans, luhn_valid, payment_cards
from domain.pii import CARD, CVV, EXPIRY, SSN, Span, marked, near
from domain.results import Segment, SilencedSpan, Transcript
from domain.spoken_numbers import tokenize
from domain.ssn import ssn_spans

__all__ = [
    "CARD",
    "CVV",
    "EXPIRY",
    "SSN",
    "luhn_valid",
    "redact_text",
    "redact_transcript",
    "redact_with_audio_spans",
]


def redact_text(text: str) -> tuple[str, int]:
    """The text with PII replaced by visible markers, and how many were replaced."""
    spans = _find(text)
    return _apply(text, spans), len(spans)


def redact_transcript(t: Transcript) -> Transcript:
    """A redacted copy. Segments are read as one stream, so a number split across adjacent
    segments (the speaker paused mid-number) is found and each fragment is replaced. The text
    is usually those segments joined: then it is read once, for both."""
    return _redacted(t)[0]


def redact_with_audio_spans(t: Transcript) -> tuple[Transcript, tuple[SilencedSpan, ...]]:
    """The redacted copy, and the stretches of the recording where what it hides was said
    (domain.audio_spans). The copy's segments carry no words: theirs spell what was hidden."""
    redacted, pieces = _redacted(t)
    return redacted, silenced_spans(t.segments, pieces)


def _redacted(t: Transcript) -> tuple[Transcript, list[list[LocalSpan]]]:
    """The redacted copy, and what was hidden in each segment, as characters of its text."""
    joined = " ".join(s.text for s in t.segments)
    spans = _find(joined)
    text = _apply(joined, spans) if t.text == joined else redact_text(t.text)[0]
    pieces = _segment_pieces(t.segments, joined, spans)
    segments = tuple(
        attrs.evolve(segment, text=_apply(segment.text, local) if local else segment.text, words=())
        if local or segment.words
        else segment  # most segments: nothing to hide and no words; segments are values
        for segment, local in zip(t.segments, pieces, strict=True)
    )
    return attrs.evolve(t, text=text, segments=segments, redacted=True), pieces


def _segment_pieces(
    segments: Sequence[Segment], joined: str, spans: Sequence[tuple[int, int, str]]
) -> list[list[LocalSpan]]:
    """The spans found in the joined text, as characters of each segment's own text."""
    result, offset, first = [], 0, 0
    for segment in segments:
        end = offset + len(segment.text)
        local: list[tuple[int, int, str]] = []
        at = first
        while at < len(spans) and spans[at][0] < end:
            start, stop, label = spans[at]
            at += 1
            piece = joined[max(start, offset) : min(stop, end)]
            lo = max(start, offset) + len(piece) - len(piece.lstrip()) - offset
            if piece.strip():
                local.append((lo, lo + len(piece.strip()), label))
        while first < len(spans) and spans[first][1] <= end:
            first += 1
        result.append(local)
        offset = end + 1
    return result


def _apply(text: str, spans: Sequence[tuple[int, int, str]]) -> str:
    parts, cursor = [], 0
    for start, stop, label in spans:
        parts += [text[cursor:start], label]
        cursor = stop
    return "".join([*parts, text[cursor:]])


def _find(text: str) -> list[tuple[int, int, str]]:
    tokens = tokenize(text)
    scan = list(tokens)  # what is left: each step sees the earlier ones' spans as markers
    found: list[Span] = []

    def take(spans: list[Span]) -> None:
        for first, last, label in spans:
            found.append((first, last, label))
            scan[first : last + 1] = [marked(t, label) for t in scan[first : last + 1]]

    keywords = sorted(payment_cards(tokens) + card_questions(tokens))
    markers = [i for i, t in enumerate(tokens) if t.word == CARD.lower()]  # an earlier pass
    card_call = bool(keywords or markers)
    take(card_spans(scan, keywords, card_call))
    if found and not card_call:  # a number that passes the checksum: the call is about a card
        take(card_spans(scan, keywords, True))
    cards = sorted(markers + [f for f, *_ in found])
    context = sorted(keywords + [tokens[i].plain for i in cards])
    within = [i for i, t in enumerate(tokens) if near(context, t.plain - CONTEXT, 2 * CONTEXT)]
    # "04/27" first, then what the cues ask for, expiries before codes: each cue's answer is
    # then read as a second pass reads it, with what the others took already marked.
    for finder in (slashed_at, expiry_at, code_at):
        for i in within:
            take(finder(scan, i))
    for i in sorted(set(range(len(scan))) - set(within)):  # "the three digits on the back?"
        take(code_at(scan, i, near_card=False))
    take(ssn_spans(scan))
    take(after_card(tokens, scan, cards))
    # "The code is $903": asked for a code, Whisper may write it as a price; the "$" goes too
    return [
        (tokens[first].start - tokens[first].gap.endswith("$"), tokens[last].end, label)
        for first, last, label in sorted(found)
    ]
