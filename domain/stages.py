"""The call's life: a linear pipeline of stages, FAILED as the one dead end.

A stage that does not apply to a call (no recording, CRM "none") is still passed through and
recorded as skipped, so every call walks the same path and the timeline says why a result is
missing.
"""

from __future__ import annotations

from enum import StrEnum

from domain.errors import IllegalTransition


class Stage(StrEnum):
    RECEIVED = "RECEIVED"
    RECORDING_STORED = "RECORDING_STORED"
    TRANSCRIBED = "TRANSCRIBED"
    ANALYZED = "ANALYZED"
    SCORED = "SCORED"
    SYNCED = "SYNCED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"

    @property
    def terminal(self) -> bool:
        return self in (Stage.COMPLETED, Stage.FAILED)


PIPELINE: tuple[Stage, ...] = (
    Stage.RECEIVED,
    Stage.RECORDING_STORED,
    Stage.TRANSCRIBED,
    Stage.ANALYZED,
    Stage.SCORED,
    Stage.SYNCED,
    Stage.COMPLETED,
)

# Stages a call can be re-run from: the stage named is the first one done again.
RESTARTABLE: tuple[Stage, ...] = PIPELINE[1:-1]


def next_stage(stage: Stage) -> Stage:
    if stage.terminal:
        raise IllegalTransition(f"{stage} is terminal; nothing follows it")
    return PIPELINE[PIPELINE.index(stage) + 1]


def check_transition(source: Stage, target: Stage) -> None:
    """Forward one step at a time, or to FAILED from any stage still in progress."""
    if target is Stage.FAILED and not source.terminal:
        return
    if not source.terminal and target is next_stage(source):
        return
    raise IllegalTransition(f"a call cannot go from {source} to {target}")


def check_restart(source: Stage, first_stage_to_redo: Stage) -> Stage:
    """A finished or failed call can be re-run from a chosen stage; returns the stage the call
    is put back to (the one before the first stage to redo)."""
    if not source.terminal:
        raise IllegalTransition(f"a call at {source} is still in progress; it cannot be restarted")
    if first_stage_to_redo not in RESTARTABLE:
        allowed = ", ".join(RESTARTABLE)
        raise IllegalTransition(
            f"cannot re-run from {first_stage_to_redo}; choose one of {allowed}"
        )
    return PIPELINE[PIPELINE.index(first_stage_to_redo) - 1]


def status_of(stage: Stage) -> str:
    """The coarse status users filter on; the stage says exactly where the call is."""
    if stage is Stage.COMPLETED:
        return "completed"
    if stage is Stage.FAILED:
        return "failed"
    if stage is Stage.RECEIVED:
        return "received"
    return "processing"


STATUSES: tuple[str, ...] = ("received", "processing", "completed", "failed")


def stages_matching(filters: tuple[str, ...] | list[str]) -> frozenset[Stage]:
    """The stages a list of coarse statuses and exact stage names selects."""
    selected: set[Stage] = set()
    for item in filters:
        if item in STATUSES:
            selected.update(s for s in Stage if status_of(s) == item)
        else:
            selected.add(Stage(item))
    return frozenset(selected)
