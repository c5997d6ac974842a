"""Stats count the custom answers a tenant can chart: per choice question, calls by choice; per
yes/no question, yes and no; and the analysed calls that gave none. Text and number answers
are not counted (each is its own)."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.questions import Question
from domain.results import Answer
from domain.stages import Stage
from domain.stats import CallOutcome, summarize
from entrypoints.presenters import stats_lines, stats_view

T0 = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)
QUESTIONS = (
    Question("fuel", "Which fuel?", "choice", ("gas", "oil", "electric")),
    Question("has_pets", "Pets at home?", "boolean"),
    Question("budget", "What budget?", "number"),
    Question("system_age", "How old is the system?", "text"),
)


def outcome(n: int, *answers: Answer) -> CallOutcome:
    return CallOutcome(f"CAL{n}", Stage.COMPLETED, T0, T0, answers=answers)


def test_choice_and_yes_no_answers_are_counted_by_answer() -> None:
    outcomes = [
        outcome(1, Answer("fuel", "gas"), Answer("has_pets", True), Answer("system_age", "old")),
        outcome(2, Answer("fuel", "gas"), Answer("has_pets", False)),
        outcome(3, Answer("fuel", "oil"), Answer("has_pets", None)),
        outcome(4, Answer("fuel", None), Answer("has_pets", True)),
        outcome(5),  # analysed before the questions were asked
    ]

    stats = summarize("acme", T0, T0, outcomes, [], QUESTIONS)

    assert stats.answers == {
        "fuel": {"gas": 2, "oil": 1, "electric": 0, "unanswered": 1},
        "has_pets": {"yes": 2, "no": 1, "unanswered": 1},
    }
    view = stats_view(stats)
    assert view["answers"]["has_pets"] == {"yes": 2, "no": 1, "unanswered": 1}
    assert "answer fuel     gas 2, oil 1, electric 0, unanswered 1" in stats_lines(view)


def test_a_tenant_without_questions_has_no_answer_figures() -> None:
    stats = summarize("acme", T0, T0, [outcome(1, Answer("fuel", "gas"))], [])
    assert stats.answers == {}
