"""CallRepository.outcomes: the light projection of a tenant's calls that stats are computed
from, the same on every store."""

from __future__ import annotations

from datetime import timedelta

from domain.call import Call
from domain.results import CrmSyncResult, LeadScore, SyncStatus, Tier
from domain.stages import Stage
from domain.stats import CallOutcome
from ports.repositories import UnitOfWorkFactory
from tests.contract.test_repository_contract import (
    BETA_COMPANY,
    T0,
    T1,
    add_calls,
    add_tenants,
    advance_to,
    make_call,
    make_tenant,
)


def scored(call: Call, tier: Tier) -> Call:
    advance_to(call, Stage.SCORED, T0 + timedelta(seconds=10))
    call.lead_score = LeadScore(score=80, tier=tier, qualified=True, threshold=70, version="1")
    return call


def completed(call: Call, tier: Tier, crm: CrmSyncResult) -> Call:
    scored(call, tier)
    call.crm_sync = crm
    advance_to(call, Stage.COMPLETED, T0 + timedelta(seconds=12, microseconds=5))
    return call


def failed(call: Call, at_stage: Stage) -> Call:
    call.fail(at_stage, "the recording is gone (404)", T0 + timedelta(seconds=3))
    return call


async def outcomes(uow_factory: UnitOfWorkFactory, tenant_id: str) -> dict[str, CallOutcome]:
    async with uow_factory(read_only=True) as uow:
        found = await uow.calls.outcomes(tenant_id, T0)
    return {o.call_id: o for o in found}


async def test_each_call_is_projected_to_what_stats_need(uow_factory: UnitOfWorkFactory) -> None:
    await add_tenants(uow_factory, make_tenant())
    done = completed(
        make_call("acme", "1", T0),
        Tier.HOT,
        CrmSyncResult("hubspot", SyncStatus.SUCCESS, "c1", "a1", attempts=1),
    )
    dead = failed(make_call("acme", "2", T0), Stage.RECORDING_STORED)
    waiting = make_call("acme", "3", T1)
    await add_calls(uow_factory, done, dead, waiting)

    found = await outcomes(uow_factory, "acme")

    assert found == {
        "CAL1": CallOutcome.of(done),
        "CAL2": CallOutcome.of(dead),
        "CAL3": CallOutcome.of(waiting),
    }
    assert found["CAL1"] == CallOutcome(
        "CAL1",
        Stage.COMPLETED,
        T0,
        T0 + timedelta(seconds=12, microseconds=5),
        tier=Tier.HOT,
        crm_type="hubspot",
        crm_status=SyncStatus.SUCCESS,
    )
    assert found["CAL1"].processing_ms == 12_000
    assert found["CAL2"].failed_stage is Stage.RECORDING_STORED
    assert found["CAL3"] == CallOutcome("CAL3", Stage.RECEIVED, T1)


async def test_only_calls_received_since_are_projected(uow_factory: UnitOfWorkFactory) -> None:
    await add_tenants(uow_factory, make_tenant())
    before = make_call("acme", "10", T0 - timedelta(microseconds=1))
    at = make_call("acme", "11", T0)
    after = make_call("acme", "12", T1)
    await add_calls(uow_factory, before, at, after)

    assert set(await outcomes(uow_factory, "acme")) == {"CAL11", "CAL12"}


async def test_another_tenants_calls_are_never_projected(uow_factory: UnitOfWorkFactory) -> None:
    await add_tenants(uow_factory, make_tenant("acme"), make_tenant("beta", BETA_COMPANY))
    await add_calls(uow_factory, make_call("acme", "20", T0))
    await add_calls(uow_factory, make_call("beta", "20", T0, company_id=BETA_COMPANY))
    await add_calls(uow_factory, make_call("beta", "21", T0, company_id=BETA_COMPANY))

    assert set(await outcomes(uow_factory, "acme")) == {"CAL20"}
    assert set(await outcomes(uow_factory, "beta")) == {"CAL20", "CAL21"}


async def test_a_unit_of_work_projects_its_own_writes(uow_factory: UnitOfWorkFactory) -> None:
    await add_tenants(uow_factory, make_tenant())
    await add_calls(uow_factory, make_call("acme", "30", T0), make_call("acme", "31", T0))
    async with uow_factory() as uow:
        call = await uow.calls.get("acme", "CAL30")
        assert call is not None
        await uow.calls.update(failed(call, Stage.TRANSCRIBED))
        assert await uow.calls.add(make_call("acme", "32", T1))
        found = {o.call_id: o for o in await uow.calls.outcomes("acme", T0)}

    assert set(found) == {"CAL30", "CAL31", "CAL32"}
    assert found["CAL30"].stage is Stage.FAILED
    assert found["CAL30"].failed_stage is Stage.TRANSCRIBED
    assert found["CAL31"].stage is Stage.RECEIVED
