"""The tenant's figures: how they are counted from the calls' outcomes and the usage totals, and
the use case that reads both in one unit of work."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from adapters.memory.fakes import FixedClock
from adapters.memory.repositories import InMemoryUnitOfWorkFactory
from domain.call import Call
from domain.errors import TenantNotFound, ValidationFailed
from domain.results import SyncStatus, Tier
from domain.stages import Stage
from domain.stats import CallOutcome, percentile, summarize
from domain.tenant import parse_tenant
from domain.usage import DailyUsage, UsageDelta, usage_day
from domain.usecases.stats import StatsQuery, TenantStats
from domain.webhook import parse_incoming_call
from tests.support import tenant_document

T0 = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


def done(call_id: str, ms: int, tier: Tier, crm: str, status: SyncStatus) -> CallOutcome:
    return CallOutcome(
        call_id, Stage.COMPLETED, T0, T0 + timedelta(milliseconds=ms), None, tier, crm, status
    )


def failed(call_id: str, at: Stage | None, crm: SyncStatus | None = None) -> CallOutcome:
    completed = T0 + timedelta(seconds=1)
    crm_type = "hubspot" if crm else None
    return CallOutcome(call_id, Stage.FAILED, T0, completed, at, None, crm_type, crm)


@pytest.mark.parametrize(
    ("values", "p95"),
    [([], None), ([100], 100), ([5, 1, 3], 5), (list(range(1, 21)), 19), ([7] * 40, 7)],
)
def test_the_95th_percentile_is_nearest_rank(values: list[int], p95: int | None) -> None:
    assert percentile(values, 0.95) == p95


def test_outcomes_are_counted_into_the_figures() -> None:
    outcomes = [
        done("a", 1_000, Tier.HOT, "hubspot", SyncStatus.SUCCESS),
        done("b", 3_000, Tier.WARM, "hubspot", SyncStatus.SUCCESS),
        done("c", 8_000, Tier.HOT, "none", SyncStatus.SKIPPED),
        failed("d", Stage.RECORDING_STORED),
        failed("e", Stage.SYNCED, SyncStatus.FAILED),
        CallOutcome("f", Stage.TRANSCRIBED, T0),
        CallOutcome("g", Stage.SCORED, T0, tier=Tier.SPAM),
    ]
    usage = [DailyUsage(date(2026, 3, 4), UsageDelta(stored_bytes=10, crm_api_calls=2))]
    usage.append(DailyUsage(date(2026, 3, 5), UsageDelta(audio_seconds=1.5, crm_api_calls=3)))

    stats = summarize("acme", T0, T0 + timedelta(days=1), outcomes, usage)

    assert (stats.requests, stats.completed, stats.failed, stats.in_progress) == (7, 3, 2, 2)
    assert stats.success_rate == 3 / 5
    assert stats.processing.count == 3
    assert stats.processing.mean_ms == 4_000
    assert stats.processing.p95_ms == 8_000
    assert stats.lead_tiers == {Tier.HOT: 2, Tier.WARM: 1, Tier.COLD: 0, Tier.SPAM: 1}
    assert stats.failures_by_stage == {Stage.RECORDING_STORED: 1, Stage.SYNCED: 1}
    crm = {c.crm_type: c for c in stats.crm}
    assert list(crm) == ["hubspot", "none"]
    assert crm["hubspot"].counts == {SyncStatus.SUCCESS: 2, SyncStatus.FAILED: 1}
    assert crm["hubspot"].success_rate == 2 / 3
    assert crm["none"].success_rate is None  # skipped syncs neither succeed nor fail
    assert stats.usage == UsageDelta(audio_seconds=1.5, crm_api_calls=5, stored_bytes=10)
    assert stats.usage_by_day == tuple(usage)


def test_no_calls_is_no_rates_rather_than_zero() -> None:
    stats = summarize("acme", T0, T0, [], [])
    assert stats.requests == 0
    assert stats.success_rate is None
    assert stats.processing.mean_ms is None
    assert stats.processing.p95_ms is None
    assert stats.crm == []
    assert not stats.usage


def test_a_failed_call_without_a_recorded_stage_still_counts_as_a_failure() -> None:
    stats = summarize("acme", T0, T0, [failed("x", None)], [])
    assert stats.failures_by_stage == {Stage.FAILED: 1}


def test_the_usage_day_is_the_utc_date() -> None:
    denver = timezone(timedelta(hours=-7))
    assert usage_day(datetime(2026, 3, 4, 20, 0, tzinfo=denver)) == date(2026, 3, 5)
    with pytest.raises(ValueError, match="timezone"):
        usage_day(datetime(2026, 3, 4, 20, 0))  # noqa: DTZ001 - the point of the test


def test_usage_amounts_cannot_be_negative_and_add_up() -> None:
    with pytest.raises(ValueError, match="crm_api_calls"):
        UsageDelta(crm_api_calls=-1)
    total = UsageDelta(audio_seconds=0.1) + UsageDelta(audio_seconds=0.2, stored_bytes=3)
    assert total == UsageDelta(audio_seconds=0.3, stored_bytes=3)
    assert total
    assert not UsageDelta()


async def stats_of(clock: FixedClock) -> TenantStats:
    uow = InMemoryUnitOfWorkFactory()
    async with uow() as w:
        await w.tenants.add(parse_tenant(tenant_document(), clock.now()))
        for n, days_ago in enumerate((1, 10, 40)):
            at = clock.now() - timedelta(days=days_ago)
            incoming = parse_incoming_call({"resource_id": f"CAL{n}", "company_id": "155920786"})
            await w.calls.add(Call.receive("acme", incoming, at))
            await w.usage.add("acme", usage_day(at), UsageDelta(crm_api_calls=days_ago))
        await w.commit()
    return TenantStats(uow, clock)


async def test_the_default_window_is_the_last_30_days(clock: FixedClock) -> None:
    stats = await (await stats_of(clock))(StatsQuery("acme"))
    assert stats.since == clock.now() - timedelta(days=30)
    assert stats.until == clock.now()
    assert stats.requests == 2
    assert stats.usage.crm_api_calls == 11


async def test_since_counts_the_calls_received_from_then_and_its_whole_first_day(
    clock: FixedClock,
) -> None:
    use_case = await stats_of(clock)
    # An hour after the call of 10 days ago: that call is out, its day's usage is in.
    stats = await use_case(StatsQuery("acme", clock.now() - timedelta(days=10, hours=-1)))
    assert stats.requests == 1
    assert stats.usage.crm_api_calls == 1 + 10
    stats = await use_case(StatsQuery("acme", clock.now() - timedelta(days=10, hours=1)))
    assert stats.requests == 2
    stats = await use_case(StatsQuery("acme", clock.now() - timedelta(days=9)))
    assert stats.requests == 1
    assert stats.usage.crm_api_calls == 1


async def test_an_unknown_tenant_and_a_future_since_are_refused(clock: FixedClock) -> None:
    use_case = await stats_of(clock)
    with pytest.raises(TenantNotFound):
        await use_case(StatsQuery("nobody"))
    with pytest.raises(ValidationFailed):
        await use_case(StatsQuery("acme", clock.now() + timedelta(seconds=1)))
