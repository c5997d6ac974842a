"""One evaluation: the labelled calls and redaction cases through a given analyzer."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from pathlib import Path

import attrs

from entrypoints.config import load_settings
from entrypoints.container import build_container
from ports.analysis import CallAnalyzer
from tests.eval.calls import CallFigures, Outcome, figures, run_calls
from tests.eval.dataset import CALLS, load_calls, load_redaction_cases
from tests.eval.redaction import RedactionFigures, evaluate_redaction
from tests.eval.report import call_report, redaction_report, safety_report, summary_line


def configured_analyzer(env: Mapping[str, str]) -> CallAnalyzer:
    """The CallAnalyzer the service would run with these settings."""
    analyzer: CallAnalyzer = build_container(load_settings(env)).analyzer()
    return analyzer


@attrs.frozen
class Evaluation:
    outcomes: tuple[Outcome, ...]
    calls: CallFigures
    redaction: RedactionFigures
    lines: tuple[str, ...]


async def evaluate(
    analyzer: CallAnalyzer, sample: int | None = None, path: Path = CALLS
) -> Evaluation:
    """`sample`: that many calls spread over the set (every k-th), for a slow analyzer;
    `path`: another file of labelled calls in the same form."""
    calls = load_calls(path)
    if sample is not None and 0 < sample < len(calls):
        calls = calls[:: len(calls) // sample][:sample]
    try:
        outcomes = await run_calls(analyzer, calls)
    finally:
        await _close(analyzer)
    cases = load_redaction_cases()
    call_figures = figures(outcomes)
    redaction = evaluate_redaction(cases)
    engine = outcomes[0].analysis.engine if outcomes else type(analyzer).__name__
    lines = call_report(outcomes, call_figures, engine)
    lines += ["", *redaction_report(redaction, len(cases))]
    lines += safety_report(call_figures, redaction)
    return Evaluation(tuple(outcomes), call_figures, redaction, tuple(lines))


async def summaries(analyzer: CallAnalyzer, paths: tuple[Path, ...]) -> list[str]:
    """A line of figures for each further labelled set."""
    lines = []
    try:
        for path in paths:
            outcomes = await run_calls(analyzer, load_calls(path))
            lines.append(summary_line(path.name, figures(outcomes)))
    finally:
        await _close(analyzer)
    return lines


def redaction_summaries(paths: tuple[Path, ...]) -> list[str]:
    """The redaction report of each further labelled set of redaction cases."""
    lines: list[str] = []
    for path in paths:
        cases = load_redaction_cases(path)
        lines += [f"-- {path.name}", *redaction_report(evaluate_redaction(cases), len(cases))]
    return lines


async def _close(analyzer: CallAnalyzer) -> None:
    for name in ("aclose", "close"):
        close = getattr(analyzer, name, None)
        if callable(close):
            result = close()
            if inspect.isawaitable(result):
                await result
            return
