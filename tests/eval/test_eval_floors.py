"""The labelled set through the rules analyzer, inside `make test`.

Floors sit just below today's figures, so a change that makes the verdicts worse fails here;
whoever improves the analyzer, the scorer or the redaction raises them. The safety invariants
(no spam qualified, no wrong email, no card detail left) are plain assertions.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.eval.calls import figures, run_calls
from tests.eval.dataset import OTHER_CALLS, OTHER_REDACTION, load_calls, load_redaction_cases
from tests.eval.redaction import evaluate_redaction
from tests.eval.run import Evaluation, configured_analyzer, evaluate

# The figures at the last raise (6782468: scoring version 4, after the other authors' sets
# were read) in the comments; at 48cafe0 (scoring version 2) intent was 66/164, hot 6/43.
FLOORS = {
    "intent": 0.90,  # 154/164
    "spam_precision": 0.95,  # 23/23
    "spam_recall": 0.95,  # 23/23
    "solicitations_caught": 0.93,  # 15/15
    "booked": 0.95,  # 160/164
    "existing_precision": 0.88,  # 32/35
    "existing_recall": 0.90,  # 32/34
    "urgency": 0.75,  # 127/164
    "tier": 0.94,  # 159/164
    "hot_recall": 0.95,  # 42/43
    "gold_tier": 0.97,  # 162/164, the scorer given the gold analysis
    "gold_hot_recall": 0.95,  # 42/43
}
NAMES_EXACT, EMAILS_EXACT = 0.80, 0.85  # 97/118, 17/19
REDACTION_RECALL = 0.98  # 65/65 (58/65 at 48cafe0)
MAX_REDACTION_FALSE_POSITIVES = 1  # 0 of 63 (2 at 48cafe0); the issue allows at most one
# 0 today; 1 at 48cafe0 (an SEO pitch) of 10 qualified.
MAX_WRONGLY_QUALIFIED = 1


# The sets by other authors (data/README.md): (intent, hot-lead recall) floors, just under
# today's figures, and the safety invariants for each.
OTHER_FLOORS = {
    "author2_calls.jsonl": (0.92, 0.85),  # 77/80, 19/21
    "author3_calls.jsonl": (0.88, 0.82),  # 73/80, 20/23
    "author4_calls.jsonl": (0.90, 0.90),  # 76/80, 21/22 (59/80, 15/22 before it was read)
    "author5_calls.jsonl": (0.88, 0.85),  # 74/80, 16/18 (55/80, 12/18 before it was read)
    "author6_calls.jsonl": (0.80, 0.95),  # 66/80, 21/21 (62/80, 14/21 before it was read)
    "author7_calls.jsonl": (0.82, 0.90),  # 68/80, 18/19 (64/80, 15/19 on its first run)
    "author8_calls.jsonl": (0.85, 0.95),  # 70/80, 19/19 (69/80, 15/19 on its first run)
    "author9_calls.jsonl": (0.86, 0.90),  # 70/80, 19/20 (68/80, 19/20 on its first run)
    "author10_calls.jsonl": (0.86, 0.90),  # 70/80, 28/30 (66/80, 23/30 on its first run)
    "author11_calls.jsonl": (0.76, 0.95),  # 62/80, 29/30 (54/80, 27/30 on its first run)
    "author12_calls.jsonl": (0.80, 0.85),  # 65/80, 26/30; 64/80 on its first run: unread
}


@pytest.mark.parametrize("path", OTHER_CALLS, ids=lambda p: p.name)
def test_the_other_authors_sets_stay_above_their_floors_and_safe(path: Path) -> None:
    analyzer = configured_analyzer({"PIPELINE_ANALYZER": "rules"})
    found = figures(asyncio.run(run_calls(analyzer, load_calls(path))))
    intent, hot = OTHER_FLOORS[path.name]
    assert found.intent.rate >= intent, found.intent
    assert found.hot_recall.rate >= hot, found.hot_recall
    assert found.spam_or_solicitation_qualified == 0
    assert found.emails.wrong == 0


@pytest.fixture(scope="module")
def evaluation() -> Evaluation:
    return asyncio.run(evaluate(configured_analyzer({"PIPELINE_ANALYZER": "rules"})))


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_call_figures_stay_above_their_floors(evaluation: Evaluation, name: str) -> None:
    fraction = getattr(evaluation.calls, name)
    assert fraction.rate >= FLOORS[name], f"{name}: {fraction}, floor {FLOORS[name]:.0%}"


def test_names_and_emails_stay_above_their_floors(evaluation: Evaluation) -> None:
    names, emails = evaluation.calls.names, evaluation.calls.emails
    assert names.exact_rate >= NAMES_EXACT, names
    assert emails.exact_rate >= EMAILS_EXACT, emails


# Redaction sets by other authors: recall floor, and no number that must stay changed.
OTHER_REDACTION_RECALL = {
    "redaction2.jsonl": 0.95,  # 61/63; 57/63 on its first run, before it was read
    "redaction3.jsonl": 0.97,  # 82/83; 79/83 and 5 false positives on its first run
}
# Numbers a redaction set's author kept that the redactor hides, by decision: the last four of
# a social, asked for as such, is redacted as an SSN (redaction3's r3-neg-ssn-lastfour-01).
OTHER_REDACTION_OVER = {"redaction2.jsonl": 0, "redaction3.jsonl": 1}


@pytest.mark.parametrize("path", OTHER_REDACTION, ids=lambda p: p.name)
def test_the_other_authors_redaction_sets_stay_above_their_floors(path: Path) -> None:
    found = evaluate_redaction(load_redaction_cases(path))
    assert found.recall.rate >= OTHER_REDACTION_RECALL[path.name], found.recall
    assert found.false_positives <= OTHER_REDACTION_OVER[path.name], found.failures


def test_redaction_stays_above_its_floors(evaluation: Evaluation) -> None:
    redaction = evaluation.redaction
    assert redaction.recall.rate >= REDACTION_RECALL, redaction.recall
    assert redaction.false_positives <= MAX_REDACTION_FALSE_POSITIVES, redaction.failures


def test_no_more_non_leads_qualified_than_today(evaluation: Evaluation) -> None:
    assert evaluation.calls.wrongly_qualified <= MAX_WRONGLY_QUALIFIED


def test_the_scorer_given_a_right_analysis_qualifies_only_leads(evaluation: Evaluation) -> None:
    assert evaluation.calls.gold_wrongly_qualified == 0


def test_no_spam_or_solicitation_is_ever_qualified(evaluation: Evaluation) -> None:
    assert evaluation.calls.spam_or_solicitation_qualified == 0


def test_no_email_is_ever_wrong(evaluation: Evaluation) -> None:
    assert evaluation.calls.emails.wrong == 0


def test_every_card_expiry_code_and_ssn_is_redacted(evaluation: Evaluation) -> None:
    assert evaluation.redaction.recall.hits == evaluation.redaction.recall.total
