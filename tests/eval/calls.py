"""Each labelled call through the pipeline's own stages (redact, analyze, score), and the
figures that compare the verdicts with the labels."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import attrs

from domain.redaction import redact_transcript
from domain.results import CallAnalysis, Intent, LeadScore, Tier
from domain.scoring import score_lead
from ports.analysis import CallAnalyzer
from tests.eval.dataset import EvalCall


@attrs.frozen
class Outcome:
    call: EvalCall
    analysis: CallAnalysis
    score: LeadScore
    gold_score: LeadScore  # the scorer's verdict on the gold analysis

    @property
    def predicted_spam(self) -> bool:
        return self.analysis.is_spam or self.analysis.intent is Intent.SPAM

    @property
    def predicted_existing(self) -> bool:
        return (
            self.analysis.is_existing_customer or self.analysis.intent is Intent.EXISTING_CUSTOMER
        )


async def run_calls(analyzer: CallAnalyzer, calls: Sequence[EvalCall]) -> list[Outcome]:
    """What ProcessCall does from the transcript on (domain/usecases/processing.py), with the
    tenant's default threshold and redaction on."""
    outcomes = []
    for call in calls:
        transcript = redact_transcript(call.transcript)
        analysis = await analyzer.analyze(transcript, call.metadata, call.ai)
        threshold = call.ai.lead_scoring_threshold
        outcomes.append(
            Outcome(
                call=call,
                analysis=analysis,
                score=score_lead(analysis, call.metadata, threshold),
                gold_score=score_lead(call.gold_analysis(), call.metadata, threshold),
            )
        )
    return outcomes


@attrs.frozen
class Fraction:
    hits: int
    total: int

    @property
    def rate(self) -> float:
        return self.hits / self.total if self.total else 1.0

    def __str__(self) -> str:
        return f"{self.hits}/{self.total} ({100 * self.rate:.0f} %)"


@attrs.frozen
class FieldTally:
    """A text field (name, email) against its label: wrong counts a value given where the
    label is different or empty; a wrong value in a CRM is worse than none."""

    exact: int
    partial: int
    wrong: int
    missed: int
    labelled: int

    @property
    def exact_rate(self) -> float:
        return self.exact / self.labelled if self.labelled else 1.0


def _norm(text: str | None) -> str:
    return " ".join((text or "").casefold().split())


def tally(pairs: Sequence[tuple[str | None, str | None]]) -> FieldTally:
    """(gold, predicted) pairs. Partial: one is the other's leading words ("Jenna" for
    "Jenna Price")."""
    counts: Counter[str] = Counter()
    for gold, got in pairs:
        g, p = _norm(gold), _norm(got)
        if not p:
            counts["missed" if g else "none"] += 1
        elif p == g:
            counts["exact"] += 1
        elif g and (g.startswith(p + " ") or p.startswith(g + " ")):
            counts["partial"] += 1
        else:
            counts["wrong"] += 1
    labelled = sum(1 for gold, _ in pairs if _norm(gold))
    return FieldTally(
        counts["exact"], counts["partial"], counts["wrong"], counts["missed"], labelled
    )


def precision_recall(pairs: Sequence[tuple[bool, bool]]) -> tuple[Fraction, Fraction]:
    """(gold, predicted) pairs: precision, recall."""
    true_pos = sum(1 for g, p in pairs if g and p)
    return (
        Fraction(true_pos, sum(1 for _, p in pairs if p)),
        Fraction(true_pos, sum(1 for g, _ in pairs if g)),
    )


@attrs.frozen
class CallFigures:
    intent: Fraction
    spam_precision: Fraction
    spam_recall: Fraction
    solicitations_caught: Fraction
    booked: Fraction
    existing_precision: Fraction
    existing_recall: Fraction
    names: FieldTally
    emails: FieldTally
    urgency: Fraction
    tier: Fraction
    hot_recall: Fraction
    spam_or_solicitation_qualified: int
    wrongly_qualified: int
    gold_tier: Fraction  # the scorer alone, given the gold analysis
    gold_hot_recall: Fraction
    gold_wrongly_qualified: int


def _agree(outcomes: Sequence[Outcome], same: list[bool]) -> Fraction:
    return Fraction(sum(same), len(outcomes))


def figures(outcomes: Sequence[Outcome]) -> CallFigures:
    golds = [o.call.gold for o in outcomes]
    spam_p, spam_r = precision_recall(
        [(g.spam or g.solicitation, o.predicted_spam) for g, o in zip(golds, outcomes, strict=True)]
    )
    exist_p, exist_r = precision_recall(
        [(g.existing_customer, o.predicted_existing) for g, o in zip(golds, outcomes, strict=True)]
    )
    solicitations = [o for o in outcomes if o.call.gold.solicitation]
    hot = [o for o in outcomes if o.call.gold.tier is Tier.HOT]
    return CallFigures(
        intent=_agree(outcomes, [o.analysis.intent is o.call.gold.intent for o in outcomes]),
        spam_precision=spam_p,
        spam_recall=spam_r,
        solicitations_caught=Fraction(
            sum(1 for o in solicitations if o.predicted_spam), len(solicitations)
        ),
        booked=_agree(
            outcomes, [o.analysis.appointment_booked == o.call.gold.booked for o in outcomes]
        ),
        existing_precision=exist_p,
        existing_recall=exist_r,
        names=tally(
            [(g.caller_name, o.analysis.caller_name) for g, o in zip(golds, outcomes, strict=True)]
        ),
        emails=tally(
            [(g.email, o.analysis.caller_email) for g, o in zip(golds, outcomes, strict=True)]
        ),
        urgency=_agree(outcomes, [o.analysis.urgency is o.call.gold.urgency for o in outcomes]),
        tier=_agree(outcomes, [o.score.tier is o.call.gold.tier for o in outcomes]),
        hot_recall=Fraction(sum(1 for o in hot if o.score.tier is Tier.HOT), len(hot)),
        spam_or_solicitation_qualified=sum(
            1
            for o in outcomes
            if o.score.qualified and (o.call.gold.spam or o.call.gold.solicitation)
        ),
        wrongly_qualified=sum(
            1 for o in outcomes if o.score.qualified and not o.call.gold.should_qualify
        ),
        gold_tier=_agree(outcomes, [o.gold_score.tier is o.call.gold.tier for o in outcomes]),
        gold_hot_recall=Fraction(sum(1 for o in hot if o.gold_score.tier is Tier.HOT), len(hot)),
        gold_wrongly_qualified=sum(
            1 for o in outcomes if o.gold_score.qualified and not o.call.gold.should_qualify
        ),
    )
