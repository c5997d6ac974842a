"""The UsageRepository's contract: every store (memory, SQLite, Spanner on its emulator) keeps
per-tenant, per-day totals that only add up, inside the unit of work's transaction."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest

from domain.errors import TenantNotFound
from domain.usage import DailyUsage, UsageDelta
from ports.repositories import UnitOfWorkFactory
from tests.contract.test_repository_contract import (
    BETA_COMPANY,
    T0,
    add_tenants,
    make_call,
    make_tenant,
    read_call,
)

MAR_3, MAR_4, MAR_5 = date(2026, 3, 3), date(2026, 3, 4), date(2026, 3, 5)
STORED = UsageDelta(stored_bytes=48_213)
TRANSCRIBED = UsageDelta(audio_seconds=13.4)
ANALYZED = UsageDelta(llm_tokens_in=1_200, llm_tokens_out=340)
SYNCED = UsageDelta(crm_api_calls=4)


async def add(
    uow_factory: UnitOfWorkFactory, tenant_id: str, day: date, *deltas: UsageDelta
) -> None:
    async with uow_factory() as uow:
        for delta in deltas:
            await uow.usage.add(tenant_id, day, delta)
        await uow.commit()


async def usage(uow_factory: UnitOfWorkFactory, tenant_id: str, since: date) -> list[DailyUsage]:
    async with uow_factory(read_only=True) as uow:
        return list(await uow.usage.for_tenant(tenant_id, since))


async def test_a_tenant_with_no_usage_has_no_days(uow_factory: UnitOfWorkFactory) -> None:
    await add_tenants(uow_factory, make_tenant())
    assert await usage(uow_factory, "acme", MAR_3) == []


async def test_deltas_add_up_within_and_across_units_of_work(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await add_tenants(uow_factory, make_tenant())
    await add(uow_factory, "acme", MAR_4, STORED, TRANSCRIBED)
    await add(uow_factory, "acme", MAR_4, ANALYZED, SYNCED)
    await add(uow_factory, "acme", MAR_4, SYNCED, STORED)

    expected = UsageDelta(
        audio_seconds=13.4,
        llm_tokens_in=1_200,
        llm_tokens_out=340,
        crm_api_calls=8,
        stored_bytes=96_426,
    )
    assert await usage(uow_factory, "acme", MAR_4) == [DailyUsage(MAR_4, expected)]


async def test_audio_seconds_sum_exactly_to_the_millisecond(uow_factory: UnitOfWorkFactory) -> None:
    await add_tenants(uow_factory, make_tenant())
    for seconds in (0.1, 0.2, 179.5, 0.001):
        await add(uow_factory, "acme", MAR_4, UsageDelta(audio_seconds=seconds))

    [day] = await usage(uow_factory, "acme", MAR_4)
    assert day.totals.audio_seconds == 179.801


async def test_days_from_since_on_oldest_first(uow_factory: UnitOfWorkFactory) -> None:
    await add_tenants(uow_factory, make_tenant())
    await add(uow_factory, "acme", MAR_5, SYNCED)
    await add(uow_factory, "acme", MAR_3, STORED)
    await add(uow_factory, "acme", MAR_4, ANALYZED)

    assert await usage(uow_factory, "acme", MAR_4) == [
        DailyUsage(MAR_4, ANALYZED),
        DailyUsage(MAR_5, SYNCED),
    ]
    assert [d.day for d in await usage(uow_factory, "acme", MAR_3)] == [MAR_3, MAR_4, MAR_5]
    assert await usage(uow_factory, "acme", date(2026, 3, 6)) == []


async def test_a_tenant_never_sees_another_tenants_usage(uow_factory: UnitOfWorkFactory) -> None:
    await add_tenants(uow_factory, make_tenant("acme"), make_tenant("beta", BETA_COMPANY))
    await add(uow_factory, "acme", MAR_4, STORED)
    await add(uow_factory, "beta", MAR_4, ANALYZED)

    assert await usage(uow_factory, "acme", MAR_3) == [DailyUsage(MAR_4, STORED)]
    assert await usage(uow_factory, "beta", MAR_3) == [DailyUsage(MAR_4, ANALYZED)]


async def test_usage_not_committed_is_not_counted(uow_factory: UnitOfWorkFactory) -> None:
    await add_tenants(uow_factory, make_tenant())
    await add(uow_factory, "acme", MAR_4, STORED)
    async with uow_factory() as uow:
        await uow.usage.add("acme", MAR_4, SYNCED)
        # The unit of work reads its own writes, added to what is stored.
        assert await uow.usage.for_tenant("acme", MAR_4) == [DailyUsage(MAR_4, STORED + SYNCED)]
        async with uow_factory(read_only=True) as reader:
            assert await reader.usage.for_tenant("acme", MAR_4) == [DailyUsage(MAR_4, STORED)]

    assert await usage(uow_factory, "acme", MAR_4) == [DailyUsage(MAR_4, STORED)]


async def test_usage_of_an_unknown_tenant_is_refused(uow_factory: UnitOfWorkFactory) -> None:
    await add_tenants(uow_factory, make_tenant())

    # Some stores check when the delta is added, others when the unit of work commits.
    with pytest.raises(TenantNotFound):
        await add(uow_factory, "nobody", MAR_4, STORED)

    assert await usage(uow_factory, "nobody", MAR_3) == []


async def test_usage_commits_with_the_other_writes_of_its_unit_of_work(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await uow.tenants.add(make_tenant("acme"))
        await uow.usage.add("acme", MAR_4, STORED)
        await uow.commit()

    assert await usage(uow_factory, "acme", MAR_4) == [DailyUsage(MAR_4, STORED)]


async def test_concurrent_writers_to_one_day_both_count(uow_factory: UnitOfWorkFactory) -> None:
    await add_tenants(uow_factory, make_tenant())

    async def write(delta: UsageDelta) -> None:
        async with uow_factory() as uow:
            await uow.usage.add("acme", MAR_4, delta)
            await asyncio.sleep(0.01)  # yield mid-transaction, so the writers really interleave
            await uow.commit()

    async with asyncio.timeout(20):
        await asyncio.gather(*(write(SYNCED) for _ in range(6)))

    assert await usage(uow_factory, "acme", MAR_4) == [
        DailyUsage(MAR_4, UsageDelta(crm_api_calls=24))
    ]


async def test_usage_a_call_has_not_yet_recorded_is_never_stored_with_it(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await add_tenants(uow_factory, make_tenant())
    call = make_call("acme", "9001", T0)
    call.consumed(STORED)
    async with uow_factory() as uow:
        assert await uow.calls.add(call)
        call.consumed(SYNCED)
        await uow.calls.update(call)
        again = await uow.calls.get("acme", "CAL9001")
        assert again is not None
        assert not again.unsaved_usage
        await uow.commit()

    stored = await read_call(uow_factory, "acme", "CAL9001")
    assert stored is not None
    assert not stored.unsaved_usage
    assert call.unsaved_usage == STORED + SYNCED, "the caller's own object is left alone"
