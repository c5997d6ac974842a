"""Sweep and reprocess, with the in-memory adapters."""

from __future__ import annotations

import json

import pytest

from adapters.memory.fakes import FixedClock, InMemoryJobQueue, SequentialIds
from adapters.memory.repositories import InMemoryUnitOfWorkFactory
from domain.call import Call
from domain.errors import IllegalTransition, ValidationFailed
from domain.results import CallAnalysis, Intent
from domain.stages import Stage
from domain.tenant import parse_tenant
from domain.usecases.jobs import SweepStalledCalls
from domain.usecases.reprocess import ReprocessCall, ReprocessCommand, parse_stage
from domain.webhook import parse_incoming_call
from tests.support import callrail_body, tenant_document


async def add_call(uow: InMemoryUnitOfWorkFactory, clock: FixedClock, number: str) -> Call:
    call = Call.receive("acme", parse_incoming_call(json.loads(callrail_body(number))), clock.now())
    async with uow() as u:
        if await u.tenants.get("acme") is None:
            await u.tenants.add(parse_tenant(tenant_document(), clock.now()))
        await u.calls.add(call)
        await u.commit()
    return call


async def test_sweep_requeues_only_calls_that_lost_their_job(
    memory_uow: InMemoryUnitOfWorkFactory,
    clock: FixedClock,
    queue: InMemoryJobQueue,
    ids: SequentialIds,
) -> None:
    await add_call(memory_uow, clock, "orphan")
    clock.advance(3600)
    await add_call(memory_uow, clock, "fresh")
    sweep = SweepStalledCalls(memory_uow, queue, clock, ids, stalled_after_s=900)
    report = await sweep()
    assert report.requeued == (("acme", "CALorphan"),)
    assert [(j.tenant_id, j.call_id) for j in queue.enqueued] == [("acme", "CALorphan")]
    async with memory_uow(read_only=True) as uow:
        assert len(await uow.jobs.pending_for("acme", "CALorphan")) == 1
    # Its job is pending now: a second sweep leaves it alone.
    assert (await sweep()).requeued == ()


async def test_reprocess_restarts_a_failed_call_at_its_failed_stage(
    memory_uow: InMemoryUnitOfWorkFactory,
    clock: FixedClock,
    queue: InMemoryJobQueue,
    ids: SequentialIds,
) -> None:
    call = await add_call(memory_uow, clock, "1")
    call.advance(Stage.RECORDING_STORED, clock.now())
    call.advance(Stage.TRANSCRIBED, clock.now())
    call.analysis = CallAnalysis(engine="x", summary="", intent=Intent.OTHER)
    call.fail(Stage.ANALYZED, "the analyzer refused", clock.now())
    async with memory_uow() as uow:
        await uow.calls.update(call)
        await uow.commit()
    again = await ReprocessCall(memory_uow, queue, clock, ids)(ReprocessCommand("acme", "CAL1"))
    assert again.stage is Stage.TRANSCRIBED
    assert again.failure is None
    assert again.analysis is None
    assert [j.call_id for j in queue.enqueued] == ["CAL1"]


async def test_reprocess_of_a_call_in_progress_is_refused(
    memory_uow: InMemoryUnitOfWorkFactory,
    clock: FixedClock,
    queue: InMemoryJobQueue,
    ids: SequentialIds,
) -> None:
    await add_call(memory_uow, clock, "2")
    with pytest.raises(IllegalTransition, match="still in progress"):
        await ReprocessCall(memory_uow, queue, clock, ids)(
            ReprocessCommand("acme", "CAL2", Stage.TRANSCRIBED)
        )
    assert queue.enqueued == []


async def test_a_failed_call_is_not_reprocessed_from_past_the_stage_it_failed_at(
    memory_uow: InMemoryUnitOfWorkFactory,
    clock: FixedClock,
    queue: InMemoryJobQueue,
    ids: SequentialIds,
) -> None:
    call = await add_call(memory_uow, clock, "3")
    call.fail(Stage.RECORDING_STORED, "the recording is gone (404)", clock.now())
    async with memory_uow() as uow:
        await uow.calls.update(call)
        await uow.commit()
    reprocess = ReprocessCall(memory_uow, queue, clock, ids)

    # No recording and no transcript: an analysis from here would be of nothing.
    with pytest.raises(IllegalTransition, match="failed at RECORDING_STORED: re-run it from"):
        await reprocess(ReprocessCommand("acme", "CAL3", Stage.ANALYZED))
    assert queue.enqueued == []
    async with memory_uow(read_only=True) as uow:
        kept = await uow.calls.get("acme", "CAL3")
    assert kept is not None
    assert kept.stage is Stage.FAILED

    again = await reprocess(ReprocessCommand("acme", "CAL3", Stage.RECORDING_STORED))
    assert again.stage is Stage.RECEIVED


def test_parse_stage() -> None:
    assert parse_stage("transcribed") is Stage.TRANSCRIBED
    assert parse_stage(None) is None
    with pytest.raises(ValidationFailed, match="from_stage"):
        parse_stage("COMPLETED")
