"""Operational metrics the pipeline emits. Methods are synchronous on purpose: recording a
number is an in-memory update that never waits and never fails the call it describes.

Labels are bounded sets (stages, tiers, CRM types, outcome names): never a tenant or call id."""

from __future__ import annotations

from typing import Protocol

from domain.results import SyncStatus, Tier
from domain.stages import Stage


class Metrics(Protocol):
    def stage_finished(self, stage: Stage, seconds: float, *, skipped: bool) -> None:
        """A stage's work is done and saved; `seconds` of wall time it took."""
        ...

    def lead_scored(self, tier: Tier, score: int) -> None:
        """A call's lead score (0-100) and tier, once, when the score is saved."""
        ...

    def call_completed(self, seconds: float) -> None:
        """A call reached COMPLETED, `seconds` after its webhook was received."""
        ...

    def crm_synced(self, crm_type: str, outcome: SyncStatus) -> None:
        """One sync attempt's outcome: success, skipped (no CRM), failed (for good), or
        pending (it failed this time and will be retried)."""
        ...

    def retry_scheduled(self, stage: Stage, reason: str) -> None:
        """The call will be delivered again: `reason` is `transient`, `rate_limited` or
        `transcription_pending` (a batch transcription not done yet)."""
        ...

    def dead_end(self, stage: Stage) -> None:
        """The call is FAILED for good at this stage."""
        ...

    def audio_silenced(self, kind: str, spans: int) -> None:
        """Stretches of a recording silenced before it was stored, by what was said there
        (CARD, EXPIRY, CVV, SSN)."""
        ...

    def alert_delivered(self, destination_type: str, outcome: str) -> None:
        """A hot-lead alert to one destination (`slack`, `webhook`) is settled: `sent`, or
        `failed` after its tries."""
        ...

    def analysis_discarded(self, kind: str, count: int) -> None:
        """What checking a model's analysis threw away, never shown: `quote` (a cited quote
        the transcript does not hold) or `answer` (a custom answer not of its type)."""
        ...
