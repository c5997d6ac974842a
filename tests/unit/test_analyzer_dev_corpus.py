"""The rules analyzer and the scorer measured on a development corpus of calls to local
businesses, as Whisper tiny.en writes them (tests/unit/data/analyzer_dev.jsonl, hand-labelled).

This is the corpus the analyzer is developed against, so its figures flatter it; the held-out
evaluation set is what says whether a change generalises. The floors here only stop a
regression. `python -m tests.unit.test_analyzer_dev_corpus` prints the figures and the misses.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from adapters.rules.analyzer import analyze_call
from domain.call import CallMetadata
from domain.results import CallAnalysis, Intent, Segment, Tier, Transcript, Urgency
from domain.scoring import score_lead
from domain.tenant import AiConfig

CORPUS = Path(__file__).parent / "data" / "analyzer_dev.jsonl"
THRESHOLD = 70


@attrs.frozen
class Case:
    id: str
    transcript: Transcript
    metadata: CallMetadata
    ai: AiConfig
    gold: dict[str, Any]


def cases() -> Iterator[Case]:
    for line in CORPUS.read_text().splitlines():
        row = json.loads(line)
        segments = tuple(
            Segment(speaker, 5.0 * i, 5.0 * i + 4.5, text)
            for i, (speaker, text) in enumerate(row["segments"])
        )
        text = " ".join(s.text for s in segments)
        meta = row["metadata"]
        metadata = CallMetadata(
            caller="+15555550100",
            duration_s=meta["duration_s"],
            answered=meta["answered"],
            first_call=meta["first_call"],
            voicemail=meta["voicemail"],
            source=meta["source"],
        )
        yield Case(
            row["id"],
            Transcript("whisper-tiny.en", "en-US", text, segments),
            metadata,
            AiConfig(business_context=row["business_context"]),
            row["gold"],
        )


def gold_analysis(case: Case) -> CallAnalysis:
    """What a perfect analyzer would say: the labels, for calibrating the scorer alone."""
    gold = case.gold
    intent = Intent(gold["intent"])
    return CallAnalysis(
        engine="gold",
        summary="",
        intent=intent,
        # A perfect analyzer names the service a lead or a voicemail asks for.
        service_requested="the service asked for" if intent in _ASKING else None,
        key_phrases=("shopping around",) if gold.get("price_shopper") else (),
        urgency=Urgency(gold["urgency"]),
        appointment_booked=gold["appointment_booked"],
        caller_name=gold["caller_name"],
        caller_email=gold["caller_email"],
        is_spam=gold["is_spam"],
        is_existing_customer=gold["is_existing_customer"],
    )


_ASKING = (
    Intent.NEW_SERVICE_REQUEST,
    Intent.APPOINTMENT,
    Intent.QUOTE_REQUEST,
    Intent.VOICEMAIL,
)


def _same_name(found: str | None, gold: str) -> bool:
    return found is not None and found.lower() == gold.lower()


def measure() -> dict[str, Any]:
    tally: Counter[str] = Counter()
    misses: list[str] = []
    confusion: Counter[tuple[str, str]] = Counter()
    for case in cases():
        gold = case.gold
        found = analyze_call(case.transcript, case.metadata, case.ai)
        score = score_lead(found, case.metadata, THRESHOLD)
        perfect = score_lead(gold_analysis(case), case.metadata, THRESHOLD)
        tally["calls"] += 1
        confusion[(gold["intent"], found.intent.value)] += 1
        checks = {
            "intent": found.intent.value == gold["intent"],
            "booked": found.appointment_booked == gold["appointment_booked"],
            "existing": found.is_existing_customer == gold["is_existing_customer"],
            "urgency": found.urgency.value == gold["urgency"],
            "tier": score.tier.value == gold["tier"],
            "gold_tier": perfect.tier.value == gold["tier"],
        }
        for name, right in checks.items():
            tally[name] += right
            if not right and name != "gold_tier":
                misses.append(
                    f"{case.id}: {name} {_found(name, found, score)} != {_gold(name, gold)}"
                )
            elif not right:
                misses.append(
                    f"{case.id}: tier from the gold analysis {perfect.tier.value}"
                    f" ({perfect.score}) != {gold['tier']}"
                )
        if gold["tier"] == "hot":
            tally["hot"] += 1
            tally["hot_found"] += score.tier is Tier.HOT
        if gold["is_spam"]:
            tally["spam"] += 1
            tally["spam_found"] += found.is_spam
            tally["spam_qualified"] += score.qualified
        tally["spam_flagged"] += found.is_spam
        tally["spam_flagged_right"] += found.is_spam and gold["is_spam"]
        if gold["caller_name"]:
            tally["names"] += 1
            right = _same_name(found.caller_name, gold["caller_name"])
            tally["names_right"] += right
            tally["names_missed"] += found.caller_name is None
            if not right:
                misses.append(f"{case.id}: name {found.caller_name!r} != {gold['caller_name']!r}")
        elif found.caller_name:
            tally["names_invented"] += 1
            misses.append(f"{case.id}: name {found.caller_name!r} but none was given")
        email = found.caller_email
        if gold["caller_email"]:
            tally["emails"] += 1
            tally["emails_exact"] += email == gold["caller_email"]
            tally["emails_missed"] += email is None
        if email and email != gold["caller_email"]:
            tally["emails_wrong"] += 1
        if email != gold["caller_email"]:
            misses.append(f"{case.id}: email {email!r} != {gold['caller_email']!r}")
    return {"tally": tally, "misses": misses, "confusion": confusion}


def _found(name: str, found: CallAnalysis, score: Any) -> str:
    return {
        "intent": found.intent.value,
        "booked": str(found.appointment_booked),
        "existing": str(found.is_existing_customer),
        "urgency": found.urgency.value,
        "tier": f"{score.tier.value} ({score.score})",
    }[name]


def _gold(name: str, gold: dict[str, Any]) -> str:
    key = {"booked": "appointment_booked", "existing": "is_existing_customer"}.get(name, name)
    return str(gold[key])


def report(figures: dict[str, Any]) -> str:
    t = figures["tally"]
    n = t["calls"]

    def pct(part: int, whole: int) -> str:
        return f"{part}/{whole} ({100 * part / max(whole, 1):.0f} %)"

    lines = [
        f"calls {n}",
        f"intent {pct(t['intent'], n)}",
        f"tier {pct(t['tier'], n)}; with the gold analysis {pct(t['gold_tier'], n)}",
        f"hot-lead recall {pct(t['hot_found'], t['hot'])}",
        f"spam recall {pct(t['spam_found'], t['spam'])}, precision"
        f" {pct(t['spam_flagged_right'], t['spam_flagged'])}, qualified {t['spam_qualified']}",
        f"booked {pct(t['booked'], n)}; existing customer {pct(t['existing'], n)};"
        f" urgency {pct(t['urgency'], n)}",
        f"names {pct(t['names_right'], t['names'])}, missed {t['names_missed']},"
        f" invented {t['names_invented']}",
        f"emails exact {t['emails_exact']}/{t['emails']}, wrong {t['emails_wrong']},"
        f" missed {t['emails_missed']}",
        "intent confusion (gold -> found): "
        + ", ".join(
            f"{g}->{f} {c}" for (g, f), c in sorted(figures["confusion"].items()) if g != f
        ),
        *figures["misses"],
    ]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def figures() -> dict[str, Any]:
    return measure()


def test_the_corpus_is_big_and_varied_enough() -> None:
    rows = [json.loads(line) for line in CORPUS.read_text().splitlines()]
    assert len(rows) >= 140
    assert len({r["business"] for r in rows}) >= 13
    assert {r["gold"]["intent"] for r in rows} == set(Intent)


def test_intent_floor(figures: dict[str, Any]) -> None:
    t = figures["tally"]
    assert t["intent"] / t["calls"] >= FLOORS["intent"], report(figures)


def test_hot_leads_are_found(figures: dict[str, Any]) -> None:
    t = figures["tally"]
    assert t["hot_found"] / t["hot"] >= FLOORS["hot_recall"], report(figures)


def test_no_spam_or_solicitation_is_ever_qualified(figures: dict[str, Any]) -> None:
    assert figures["tally"]["spam_qualified"] == 0, report(figures)


def test_names_floor(figures: dict[str, Any]) -> None:
    t = figures["tally"]
    assert t["names_right"] / t["names"] >= FLOORS["names"], report(figures)
    assert t["names_invented"] <= FLOORS["names_invented"], report(figures)


def test_no_email_is_ever_wrong(figures: dict[str, Any]) -> None:
    t = figures["tally"]
    assert t["emails_wrong"] == 0, report(figures)
    assert t["emails_exact"] / t["emails"] >= FLOORS["emails"], report(figures)


def test_existing_customers_are_recognised(figures: dict[str, Any]) -> None:
    t = figures["tally"]
    assert t["existing"] / t["calls"] >= FLOORS["existing"], report(figures)


def test_tiers_floor(figures: dict[str, Any]) -> None:
    t = figures["tally"]
    assert t["tier"] / t["calls"] >= FLOORS["tier"], report(figures)
    assert t["gold_tier"] / t["calls"] >= FLOORS["gold_tier"], report(figures)


# A little under the figures of the analyzer on this corpus (149 calls: intent 99 %, hot recall
# 100 %, names 98 %, none invented, existing customers 99 %, tiers 96 %, 99 % from the gold
# analysis): a regression fails.
FLOORS = {
    "intent": 0.95,
    "hot_recall": 0.95,
    "names": 0.95,
    "names_invented": 0,
    "emails": 1.0,
    "existing": 0.95,
    "tier": 0.92,
    "gold_tier": 0.95,
}

if __name__ == "__main__":
    print(report(measure()))
