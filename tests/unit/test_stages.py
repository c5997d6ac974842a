"""The call's state machine: one step forward at a time, FAILED as the only way out early."""

from __future__ import annotations

from itertools import product

import pytest

from domain.errors import IllegalTransition
from domain.stages import Stage, check_restart, check_transition, stages_matching, status_of

S = Stage
# Written out here rather than read from domain.stages, so a change there has to be deliberate.
NEXT = {
    S.RECEIVED: S.RECORDING_STORED,
    S.RECORDING_STORED: S.TRANSCRIBED,
    S.TRANSCRIBED: S.ANALYZED,
    S.ANALYZED: S.SCORED,
    S.SCORED: S.SYNCED,
    S.SYNCED: S.COMPLETED,
}
IN_PROGRESS = set(NEXT)
TERMINAL = {S.COMPLETED, S.FAILED}
RESTART_TO = {  # first stage to redo -> the stage the call is put back to
    S.RECORDING_STORED: S.RECEIVED,
    S.TRANSCRIBED: S.RECORDING_STORED,
    S.ANALYZED: S.TRANSCRIBED,
    S.SCORED: S.ANALYZED,
    S.SYNCED: S.SCORED,
}
ALL_PAIRS = list(product(Stage, Stage))


def test_the_table_covers_every_stage() -> None:
    assert set(Stage) == IN_PROGRESS | TERMINAL
    assert len(ALL_PAIRS) == 64


@pytest.mark.parametrize(("source", "target"), ALL_PAIRS, ids=lambda s: str(s))
def test_transition_table(source: Stage, target: Stage) -> None:
    allowed = NEXT.get(source) is target or (target is S.FAILED and source in IN_PROGRESS)
    if allowed:
        check_transition(source, target)
    else:
        with pytest.raises(IllegalTransition):
            check_transition(source, target)


@pytest.mark.parametrize(("source", "first_to_redo"), ALL_PAIRS, ids=lambda s: str(s))
def test_restart_table(source: Stage, first_to_redo: Stage) -> None:
    if source in TERMINAL and first_to_redo in RESTART_TO:
        assert check_restart(source, first_to_redo) is RESTART_TO[first_to_redo]
    else:
        with pytest.raises(IllegalTransition):
            check_restart(source, first_to_redo)


def test_restart_refusal_names_the_stages_that_can_be_chosen() -> None:
    with pytest.raises(IllegalTransition) as caught:
        check_restart(S.FAILED, S.COMPLETED)
    for stage in RESTART_TO:
        assert str(stage) in str(caught.value)


@pytest.mark.parametrize(
    ("stage", "status"),
    [
        (S.RECEIVED, "received"),
        (S.RECORDING_STORED, "processing"),
        (S.TRANSCRIBED, "processing"),
        (S.ANALYZED, "processing"),
        (S.SCORED, "processing"),
        (S.SYNCED, "processing"),
        (S.COMPLETED, "completed"),
        (S.FAILED, "failed"),
    ],
)
def test_status_of(stage: Stage, status: str) -> None:
    assert status_of(stage) == status


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (["processing"], {S.RECORDING_STORED, S.TRANSCRIBED, S.ANALYZED, S.SCORED, S.SYNCED}),
        (["completed"], {S.COMPLETED}),
        (["failed"], {S.FAILED}),
        (["received"], {S.RECEIVED}),
        (["SCORED"], {S.SCORED}),
        (("received", "failed", "SCORED"), {S.RECEIVED, S.FAILED, S.SCORED}),
        (["processing", "SCORED", "COMPLETED"], set(IN_PROGRESS - {S.RECEIVED}) | {S.COMPLETED}),
        ([], set()),
    ],
)
def test_stages_matching(filters: list[str] | tuple[str, ...], expected: set[Stage]) -> None:
    assert stages_matching(filters) == frozenset(expected)
