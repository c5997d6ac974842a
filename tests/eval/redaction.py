"""The domain's redaction on the labelled snippets: which spans that must go were hidden,
which that must stay were kept. A span counts as redacted only when every digit and number
word in it was replaced: half a card is a leaked card."""

from __future__ import annotations

import re
from collections.abc import Sequence
from difflib import SequenceMatcher

import attrs

from domain.redaction import redact_transcript
from domain.results import Segment
from tests.eval.calls import Fraction
from tests.eval.dataset import RedactionCase

_SPOKEN_NUMBERS = (
    "zero oh o one two three four five six seven eight nine ten eleven twelve thirteen fourteen"
    " fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty"
    " ninety hundred thousand double triple january february march april may june july august"
    " september october november december"
)
_NUMBER_WORDS = frozenset(_SPOKEN_NUMBERS.split())
_TOKEN = re.compile(r"\S+")


def _sensitive(token: str) -> bool:
    bare = token.strip(".,;:!?\"'()").casefold()
    return any(c.isdigit() for c in bare) or bare in _NUMBER_WORDS


@attrs.frozen
class SpanResult:
    case_id: str
    span: str
    must_redact: bool
    ok: bool
    redacted_segment: str


@attrs.frozen
class RedactionFigures:
    recall: Fraction  # spans that had to go and went entirely
    false_positives: int  # spans that had to stay and were changed
    kept: Fraction
    cases_right: Fraction
    failures: tuple[SpanResult, ...]


def _kept_tokens(before: str, after: str) -> tuple[list[tuple[int, int]], set[int]]:
    """The original's token spans, and the indexes of the tokens redaction left alone."""
    tokens = [(m.start(), m.end()) for m in _TOKEN.finditer(before)]
    words = [before[a:b] for a, b in tokens]
    matcher = SequenceMatcher(None, words, after.split(), autojunk=False)
    kept = {block.a + k for block in matcher.get_matching_blocks() for k in range(block.size)}
    return tokens, kept


def _check_span(
    case: RedactionCase,
    redacted: Sequence[Segment],
    span: str,
    must_redact: bool,
    used: set[tuple[int, int]],
) -> SpanResult:
    for index, (segment, after) in enumerate(zip(case.transcript.segments, redacted, strict=True)):
        start = segment.text.find(span)
        while start >= 0 and (index, start) in used:
            start = segment.text.find(span, start + 1)
        if start < 0:
            continue
        used.add((index, start))
        tokens, kept = _kept_tokens(segment.text, after.text)
        inside = [i for i, (a, b) in enumerate(tokens) if a < start + len(span) and b > start]
        if must_redact:
            ok = all(i not in kept for i in inside if _sensitive(segment.text[slice(*tokens[i])]))
        else:
            ok = all(i in kept for i in inside)
        return SpanResult(case.id, span, must_redact, ok, after.text)
    raise ValueError(f"{case.id}: {span!r} is not in its segments")


def evaluate_redaction(cases: Sequence[RedactionCase]) -> RedactionFigures:
    results: list[SpanResult] = []
    right = 0
    for case in cases:
        used: set[tuple[int, int]] = set()
        redacted = redact_transcript(case.transcript).segments
        mine = [_check_span(case, redacted, s, True, used) for s in case.redact]
        mine += [_check_span(case, redacted, s, False, used) for s in case.keep]
        right += all(r.ok for r in mine)
        results += mine
    redact = [r for r in results if r.must_redact]
    keep = [r for r in results if not r.must_redact]
    return RedactionFigures(
        recall=Fraction(sum(r.ok for r in redact), len(redact)),
        false_positives=sum(not r.ok for r in keep),
        kept=Fraction(sum(r.ok for r in keep), len(keep)),
        cases_right=Fraction(right, len(cases)),
        failures=tuple(r for r in results if not r.ok),
    )
