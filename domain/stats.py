"""A tenant's figures over a window: requests, outcomes, timings, CRM syncs, lead tiers,
failures and usage (api.md's stats). Computed from a light projection of each call, so a
store never has to hand over transcripts to count them."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

import attrs

from domain.call import Call
from domain.cost_stats import TenantCost
from domain.questions import Question
from domain.results import Answer, SyncStatus, Tier
from domain.stages import Stage
from domain.usage import DailyUsage, UsageDelta, total


@attrs.frozen
class CallOutcome:
    """What the figures need of one call."""

    call_id: str
    stage: Stage
    received_at: datetime
    completed_at: datetime | None = None
    failed_stage: Stage | None = None  # where a call that has a failure recorded failed
    tier: Tier | None = None
    crm_type: str | None = None
    crm_status: SyncStatus | None = None
    # The tenant's custom questions' text and yes/no answers (what stats count), as stored.
    answers: tuple[Answer, ...] = ()

    @classmethod
    def of(cls, call: Call) -> CallOutcome:
        return cls(
            call_id=call.call_id,
            stage=call.stage,
            received_at=call.received_at,
            completed_at=call.completed_at,
            failed_stage=call.failure.stage if call.failure else None,
            tier=call.lead_score.tier if call.lead_score else None,
            crm_type=call.crm_sync.type if call.crm_sync else None,
            crm_status=call.crm_sync.status if call.crm_sync else None,
            answers=outcome_answers(call.analysis.answers_by_key()) if call.analysis else (),
        )

    @property
    def processing_ms(self) -> int | None:
        if self.completed_at is None:
            return None
        return int((self.completed_at - self.received_at).total_seconds() * 1000)


@attrs.frozen
class Timing:
    """Processing time (received to completed) of the completed calls, in milliseconds."""

    count: int = 0
    mean_ms: int | None = None
    p95_ms: int | None = None


@attrs.frozen
class CrmOutcomes:
    crm_type: str
    counts: Mapping[SyncStatus, int]

    @property
    def success_rate(self) -> float | None:
        """Successes over the syncs that ended (success or failed); None when none did."""
        ended = self.counts.get(SyncStatus.SUCCESS, 0) + self.counts.get(SyncStatus.FAILED, 0)
        return None if ended == 0 else self.counts.get(SyncStatus.SUCCESS, 0) / ended


@attrs.frozen
class TenantStatistics:
    tenant_id: str
    since: datetime
    until: datetime
    requests: int
    completed: int
    failed: int
    in_progress: int
    processing: Timing
    crm: Sequence[CrmOutcomes]
    lead_tiers: Mapping[Tier, int]
    failures_by_stage: Mapping[Stage, int]
    usage: UsageDelta
    usage_by_day: Sequence[DailyUsage]
    # Per choice or boolean question (by key): calls by answer ("yes"/"no" or the choice),
    # and "unanswered" for analysed calls that gave none.
    answers: Mapping[str, Mapping[str, int]] = attrs.field(factory=dict)
    cost: TenantCost = attrs.field(factory=TenantCost)  # money, with a price table

    @property
    def success_rate(self) -> float | None:
        """Completed over finished (completed or failed); None when no call has finished."""
        finished = self.completed + self.failed
        return None if finished == 0 else self.completed / finished


def percentile(values: Sequence[int], fraction: float) -> int | None:
    """Nearest-rank percentile: the smallest value at least `fraction` of them do not exceed."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def _timing(outcomes: Iterable[CallOutcome]) -> Timing:
    times = [
        ms for o in outcomes if o.stage is Stage.COMPLETED and (ms := o.processing_ms) is not None
    ]
    if not times:
        return Timing()
    return Timing(len(times), round(sum(times) / len(times)), percentile(times, 0.95))


def _crm(outcomes: Iterable[CallOutcome]) -> list[CrmOutcomes]:
    by_type: dict[str, Counter[SyncStatus]] = {}
    for o in outcomes:
        if o.crm_type is not None and o.crm_status is not None:
            by_type.setdefault(o.crm_type, Counter())[o.crm_status] += 1
    return [CrmOutcomes(t, dict(by_type[t])) for t in sorted(by_type)]


def outcome_answers(raw: object) -> tuple[Answer, ...]:
    """A stored analysis's `answers` object (codec.analysis_to_dict) as Answers."""
    if not isinstance(raw, Mapping):
        return ()
    return tuple(
        Answer(str(k), v) for k, v in raw.items() if v is None or isinstance(v, str | bool)
    )


def _answers(
    outcomes: Iterable[CallOutcome], questions: Sequence[Question]
) -> dict[str, dict[str, int]]:
    counted = [q for q in questions if q.type in ("choice", "boolean")]
    figures: dict[str, dict[str, int]] = {}
    for q in counted:
        values = ["yes", "no"] if q.type == "boolean" else list(q.choices)
        figures[q.key] = dict.fromkeys([*values, "unanswered"], 0)
    for o in outcomes:
        for answer in o.answers:
            tally = figures.get(answer.key)
            if tally is None:
                continue
            if isinstance(answer.value, bool):
                value = "yes" if answer.value else "no"
            else:
                value = answer.value if isinstance(answer.value, str) else "unanswered"
            if value in tally:
                tally[value] += 1
    return figures


def summarize(
    tenant_id: str,
    since: datetime,
    until: datetime,
    outcomes: Sequence[CallOutcome],
    usage_by_day: Sequence[DailyUsage],
    questions: Sequence[Question] = (),
) -> TenantStatistics:
    stages = Counter(o.stage for o in outcomes)
    failed = [o for o in outcomes if o.stage is Stage.FAILED]
    return TenantStatistics(
        tenant_id=tenant_id,
        since=since,
        until=until,
        requests=len(outcomes),
        completed=stages[Stage.COMPLETED],
        failed=len(failed),
        in_progress=len(outcomes) - stages[Stage.COMPLETED] - len(failed),
        processing=_timing(outcomes),
        crm=_crm(outcomes),
        lead_tiers={tier: sum(o.tier is tier for o in outcomes) for tier in Tier},
        # A call failed before its failure was recorded (none now) still counts, at FAILED.
        failures_by_stage=dict(Counter(o.failed_stage or Stage.FAILED for o in failed)),
        usage=total(list(usage_by_day)),
        usage_by_day=tuple(usage_by_day),
        answers=_answers(outcomes, questions),
    )
