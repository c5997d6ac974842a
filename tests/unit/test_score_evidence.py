"""The words behind every score reason, from the rules analyzer: on every labelled call (the
eval sets by nine authors, 724 calls, and the development corpus) each reason read from the
analysis quotes words that occur in the call's transcript, with a time inside the call, and
each reason read from the metadata quotes nothing. And the finder itself: whole words, case
and punctuation aside, the transcript's own text returned, nothing made up."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import attrs
import pytest

from adapters.rules.analyzer import analyze_call
from domain.call import Call, CallMetadata
from domain.crm import build_sync_request
from domain.evidence import locate
from domain.results import Segment, Transcript, Word
from domain.scoring import score_lead
from domain.tenant import parse_tenant
from tests.eval.dataset import EvalCall, load_calls
from tests.support import tenant_document

DATA = Path(__file__).parents[1] / "eval" / "data"
METADATA_FACTORS = {
    "answered_call", "missed_call", "first_call", "repeat_caller", "duration", "paid_source",
    "clamp", "voicemail",
}  # fmt: skip
EVAL_SETS = sorted(DATA.glob("*calls.jsonl"))
NOW = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)


def calls() -> list[EvalCall]:
    return [c for path in EVAL_SETS for c in load_calls(path)]


def test_the_eval_sets_are_there() -> None:
    assert len(EVAL_SETS) >= 9
    assert len(calls()) >= 700


@pytest.mark.parametrize("path", EVAL_SETS, ids=lambda p: p.stem)
def test_every_reason_from_the_analysis_quotes_the_transcript(path: Path) -> None:
    quoted = 0
    for call in load_calls(path):
        analysis = analyze_call(call.transcript, call.metadata, call.ai)
        score = score_lead(analysis, call.metadata, 70)
        end = call.transcript.segments[-1].end_s if call.transcript.segments else 0.0
        for reason in score.reasons:
            where = f"{call.id} {reason.factor}"
            if reason.factor in METADATA_FACTORS and not (
                reason.factor == "voicemail" and not call.metadata.voicemail
            ):
                assert reason.quote is None, where
                assert reason.at_s is None, where
                continue
            assert reason.quote, where
            assert reason.quote in call.transcript.text, where
            assert reason.at_s is not None, where
            assert 0.0 <= reason.at_s <= end, where
            quoted += 1
    assert quoted > 0


def test_a_reason_without_evidence_in_the_analysis_still_scores_the_same() -> None:
    """The points never depend on the quotes: the scorer given the analysis without them."""
    for call in calls()[:200]:
        analysis = analyze_call(call.transcript, call.metadata, call.ai)
        with_quotes = score_lead(analysis, call.metadata, 70)
        without = score_lead(attrs.evolve(analysis, evidence=()), call.metadata, 70)
        assert [(r.factor, r.points) for r in with_quotes.reasons] == [
            (r.factor, r.points) for r in without.reasons
        ]
        assert (with_quotes.score, with_quotes.tier) == (without.score, without.tier)


CALLER_SAYS = "Hi, our furnace is blowing COLD air, and we've got a baby."
SEGMENTS = (
    Segment("agent", 0.0, 3.0, "Peak Comfort, this is Josh."),
    Segment(
        "caller",
        3.0,
        9.0,
        CALLER_SAYS,
        words=tuple(
            Word(3.0 + i * 0.5, 3.4 + i * 0.5, w) for i, w in enumerate(CALLER_SAYS.split())
        ),
    ),
    Segment("agent", 9.0, 12.0, "We can have someone out today at 2."),
)
TRANSCRIPT = Transcript("x", "en", " ".join(s.text for s in SEGMENTS), SEGMENTS)


def test_a_phrase_is_found_as_the_transcript_says_it_with_its_words_time() -> None:
    found = locate(TRANSCRIPT, "furnace is blowing cold air", signal="intent")
    assert found is not None
    assert found.quote == "furnace is blowing COLD air"
    assert found.at_s == 4.0  # the third word's start
    with_context = locate(TRANSCRIPT, "blowing cold", signal="intent", context_words=2)
    assert with_context is not None
    assert with_context.quote == "furnace is blowing COLD air, and"


def test_without_word_times_the_time_is_estimated_within_the_segment() -> None:
    found = locate(TRANSCRIPT, "today at 2", signal="booking")
    assert found is not None
    assert found.quote == "today at 2"
    assert 9.0 < (found.at_s or 0) < 12.0


@pytest.mark.parametrize(
    "phrase", ["furnace is blowing hot air", "furn", "", "we can have someone out tomorrow"]
)
def test_words_not_said_are_not_found(phrase: str) -> None:
    assert locate(TRANSCRIPT, phrase, signal="intent") is None


def test_the_crm_activity_lists_each_reason_with_its_quote() -> None:
    metadata = CallMetadata(caller="+13035550142", answered=True, first_call=True, duration_s=95)
    analysis = analyze_call(TRANSCRIPT, metadata, parse_tenant(tenant_document(), NOW).config.ai)
    score = score_lead(analysis, metadata, 70)
    call = Call(
        tenant_id="acme",
        call_id="CAL1",
        received_at=NOW,
        metadata=metadata,
        transcript=TRANSCRIPT,
        analysis=analysis,
        lead_score=score,
    )
    body = build_sync_request(call, parse_tenant(tenant_document(), NOW)).activity.body
    quoted = [r for r in score.reasons if r.quote]
    assert quoted
    for reason in quoted:
        assert f'{reason.factor}: {reason.detail} \u2014 "{reason.quote}"' in body
    assert "+5 first_call: a first-time caller\n" in body + "\n"  # metadata: no quote
