"""`make eval`'s text: the figures, the matrices, and the calls behind the numbers."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from domain.results import Intent, Tier
from tests.eval.calls import CallFigures, FieldTally, Fraction, Outcome
from tests.eval.redaction import RedactionFigures

INTENT_SHORT = {
    Intent.NEW_SERVICE_REQUEST: "new",
    Intent.QUOTE_REQUEST: "quote",
    Intent.APPOINTMENT: "appt",
    Intent.EXISTING_CUSTOMER: "exist",
    Intent.WRONG_NUMBER: "wrong#",
    Intent.SPAM: "spam",
    Intent.VOICEMAIL: "vmail",
    Intent.OTHER: "other",
}


def matrix(
    outcomes: Sequence[Outcome],
    labels: Sequence[str],
    gold: Callable[[Outcome], str],
    got: Callable[[Outcome], str],
) -> list[str]:
    """Rows are the labels, columns what the pipeline said."""
    width = max(7, *(len(label) + 1 for label in labels))
    lines = ["gold \\ got".ljust(12) + "".join(label.rjust(width) for label in labels)]
    for row in labels:
        cells = [sum(1 for o in outcomes if gold(o) == row and got(o) == col) for col in labels]
        if any(cells):
            lines.append(row.ljust(12) + "".join(str(c or ".").rjust(width) for c in cells))
    return lines


def _field(name: str, t: FieldTally) -> str:
    return (
        f"{name}: exact {t.exact}/{t.labelled}, partial {t.partial}, wrong {t.wrong},"
        f" missed {t.missed}"
    )


def _per_kind(outcomes: Sequence[Outcome]) -> str:
    kinds = sorted({o.call.kind for o in outcomes})
    parts = []
    for kind in kinds:
        mine = [o for o in outcomes if o.call.kind == kind]
        right = sum(1 for o in mine if o.analysis.intent is o.call.gold.intent)
        parts.append(f"{kind} {right}/{len(mine)}")
    return ", ".join(parts)


def _tiers(outcomes: Sequence[Outcome], gold_analysis: bool) -> list[str]:
    labels = [t.value for t in Tier]
    if gold_analysis:
        return matrix(
            outcomes, labels, lambda o: o.call.gold.tier.value, lambda o: o.gold_score.tier.value
        )
    return matrix(outcomes, labels, lambda o: o.call.gold.tier.value, lambda o: o.score.tier.value)


def summary_line(name: str, f: CallFigures) -> str:
    """One labelled set in a line: what `make eval` prints for the sets after the first."""
    return (
        f"{name}: intent {f.intent}; tier {f.tier}; hot {f.hot_recall}; spam caught"
        f" {f.spam_recall}, qualified {f.spam_or_solicitation_qualified}; names exact"
        f" {f.names.exact}/{f.names.labelled}; emails wrong {f.emails.wrong}"
    )


def call_report(outcomes: Sequence[Outcome], f: CallFigures, engine: str) -> list[str]:
    intents = list(INTENT_SHORT.values())
    kinds = len({o.call.kind for o in outcomes})
    lines = [
        f"== calls: {len(outcomes)} across {kinds} kinds of business; analyzer {engine}",
        f"intent accuracy: {f.intent}",
        f"  by business: {_per_kind(outcomes)}",
        *(
            "  " + line
            for line in matrix(
                outcomes,
                intents,
                lambda o: INTENT_SHORT[o.call.gold.intent],
                lambda o: INTENT_SHORT[o.analysis.intent],
            )
        ),
        f"spam (solicitations included): precision {f.spam_precision}, recall {f.spam_recall}",
        f"solicitations marked spam: {f.solicitations_caught};"
        f" spam or solicitation qualified: {f.spam_or_solicitation_qualified}",
        f"booked right: {f.booked}",
        f"existing customer: precision {f.existing_precision}, recall {f.existing_recall}",
        _field("caller name", f.names),
        _field("email", f.emails),
        f"urgency right: {f.urgency}",
        f"tier accuracy: {f.tier}; hot leads rated hot: {f.hot_recall}",
        *("  " + line for line in _tiers(outcomes, gold_analysis=False)),
    ]
    lines += _field_errors(outcomes)
    lines += _qualified(outcomes)
    lines += [
        "",
        "== the scorer alone, given the gold analysis",
        f"tier accuracy: {f.gold_tier}; hot leads rated hot: {f.gold_hot_recall};"
        f" qualified but not a lead: {f.gold_wrongly_qualified}",
        *("  " + line for line in _tiers(outcomes, gold_analysis=True)),
        "  tiers it gets wrong:",
    ]
    lines += [
        f"    {o.call.id}: gold {o.call.gold.tier.value}, scored {o.gold_score.score}"
        f" {o.gold_score.tier.value}"
        for o in outcomes
        if o.gold_score.tier is not o.call.gold.tier
    ]
    return lines


def _field_errors(outcomes: Sequence[Outcome]) -> list[str]:
    lines = ["wrong names and emails (gold -> got):"]
    for o in outcomes:
        g, a = o.call.gold, o.analysis
        for label, want, got in (
            ("name", g.caller_name, a.caller_name),
            ("email", g.email, a.caller_email),
        ):
            if got and got.casefold() != (want or "").casefold():
                lines.append(f"  {o.call.id} {label}: {want!r} -> {got!r}")
    return lines


def _qualified(outcomes: Sequence[Outcome]) -> list[str]:
    qualified = [o for o in outcomes if o.score.qualified]
    should = [o for o in outcomes if o.call.gold.should_qualify]
    leads_qualified = Fraction(sum(o.score.qualified for o in should), len(should))
    lines = [
        f"qualified: {len(qualified)} calls ({sum(o.call.gold.should_qualify for o in qualified)}"
        f" of them leads); leads qualified: {leads_qualified}",
    ]
    for o in qualified:
        verdict = "yes" if o.call.gold.should_qualify else "NO, should not be"
        lines.append(
            f"  {o.call.id}: score {o.score.score} {o.score.tier.value},"
            f" gold {o.call.gold.tier.value} {o.call.gold.intent.value}: {verdict}"
        )
    missed = [o.call.id for o in should if not o.score.qualified]
    lines.append(f"leads not qualified ({len(missed)}): {', '.join(missed)}")
    return lines


def redaction_report(r: RedactionFigures, cases: int) -> list[str]:
    lines = [
        f"== redaction: {cases} cases",
        f"recall (spans redacted entirely): {r.recall}",
        f"false positives (spans that must survive, changed): {r.false_positives}"
        f" of {r.kept.total}",
        f"cases entirely right: {r.cases_right}",
    ]
    for failure in r.failures:
        what = "LEAKED" if failure.must_redact else "over-redacted"
        lines.append(
            f"  {what} {failure.case_id}: {failure.span!r} -> {failure.redacted_segment!r}"
        )
    return lines


def safety_report(f: CallFigures, r: RedactionFigures) -> list[str]:
    checks = [
        ("no spam or solicitation qualified", f.spam_or_solicitation_qualified == 0,
         f"{f.spam_or_solicitation_qualified} qualified"),
        ("zero wrong emails", f.emails.wrong == 0, f"{f.emails.wrong} wrong"),
        ("every card, expiry, code and SSN span redacted", r.recall.hits == r.recall.total,
         f"{r.recall.total - r.recall.hits} leaked"),
    ]  # fmt: skip
    lines = ["", "== safety invariants"]
    lines += [f"  {'PASS' if ok else 'FAIL'}  {name} ({detail})" for name, ok, detail in checks]
    return lines
