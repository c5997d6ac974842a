"""What ProcessCall and its alert step tell the Metrics port, read off the call at each step
it saves: a stage done, a retry scheduled, a dead end, an alert settled. Kept here so the use
cases say only when."""

from __future__ import annotations

from collections.abc import Sequence

from domain.alerts import AlertRecord
from domain.call import Call
from domain.results import CallAnalysis, SilencedSpan, SyncStatus
from domain.stages import Stage
from domain.usecases.audio_redaction import by_kind
from ports.metrics import Metrics


class PipelineMeter:
    def __init__(self, metrics: Metrics | None):
        self._metrics = metrics

    def stage_done(self, stage: Stage, call: Call, seconds: float, *, skipped: bool) -> None:
        m = self._metrics
        if m is None:
            return
        m.stage_finished(stage, seconds, skipped=skipped)
        if stage is Stage.SCORED and call.lead_score is not None:
            m.lead_scored(call.lead_score.tier, call.lead_score.score)
        if stage is Stage.SYNCED and call.crm_sync is not None:
            m.crm_synced(call.crm_sync.type, call.crm_sync.status)
        if stage is Stage.COMPLETED and call.processing_time_ms is not None:
            m.call_completed(call.processing_time_ms / 1000)

    def retrying(self, stage: Stage, call: Call, reason: str) -> None:
        m = self._metrics
        if m is None:
            return
        m.retry_scheduled(stage, reason)
        if stage is Stage.SYNCED and call.crm_sync is not None:
            m.crm_synced(call.crm_sync.type, SyncStatus.PENDING)

    def silenced(self, spans: Sequence[SilencedSpan]) -> None:
        """What audio redaction silenced in a recording, by kind."""
        if self._metrics is not None:
            for kind, count in by_kind(spans).items():
                self._metrics.audio_silenced(kind, count)

    def discarded(self, analysis: CallAnalysis) -> None:
        """Quotes and custom answers the analysis's checks dropped (counted, never shown)."""
        m = self._metrics
        if m is None:
            return
        for kind, count in (
            ("quote", analysis.dropped_quotes),
            ("answer", analysis.invalid_answers),
        ):
            if count:
                m.analysis_discarded(kind, count)

    def alert_settled(self, record: AlertRecord) -> None:
        """One destination's hot-lead alert, sent or failed after its tries."""
        if self._metrics is not None:
            self._metrics.alert_delivered(record.type, record.status.value)

    def dead_end(self, stage: Stage, call: Call) -> None:
        m = self._metrics
        if m is None:
            return
        m.dead_end(stage)
        if stage is Stage.SYNCED and call.crm_sync is not None:
            m.crm_synced(call.crm_sync.type, SyncStatus.FAILED)
