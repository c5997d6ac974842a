"""Metrics kept as a list of what was said, for tests. (No metrics at all: pass None.)"""

from __future__ import annotations

from domain.results import SyncStatus, Tier
from domain.stages import Stage
from ports.metrics import Metrics


class RecordedMetrics(Metrics):
    """Each emission as a tuple: ("stage", stage, skipped), ("tier", tier), ("score", score),
    ("crm", type, outcome), ("retry", stage, reason), ("dead_end", stage), ("silenced", kind,
    spans), ("discarded", kind, count), ("alert", type, outcome), ("completed",). Durations are
    left out."""

    def __init__(self) -> None:
        self.events: list[tuple[object, ...]] = []

    def stage_finished(self, stage: Stage, seconds: float, *, skipped: bool) -> None:
        self.events.append(("stage", stage, skipped))

    def lead_scored(self, tier: Tier, score: int) -> None:
        self.events.append(("tier", tier))
        self.events.append(("score", score))

    def call_completed(self, seconds: float) -> None:
        self.events.append(("completed",))

    def crm_synced(self, crm_type: str, outcome: SyncStatus) -> None:
        self.events.append(("crm", crm_type, outcome))

    def retry_scheduled(self, stage: Stage, reason: str) -> None:
        self.events.append(("retry", stage, reason))

    def dead_end(self, stage: Stage) -> None:
        self.events.append(("dead_end", stage))

    def audio_silenced(self, kind: str, spans: int) -> None:
        self.events.append(("silenced", kind, spans))

    def alert_delivered(self, destination_type: str, outcome: str) -> None:
        self.events.append(("alert", destination_type, outcome))

    def analysis_discarded(self, kind: str, count: int) -> None:
        self.events.append(("discarded", kind, count))
