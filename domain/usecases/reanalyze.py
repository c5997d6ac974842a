"""Operator tool (`calls reanalyze TENANT [--since ISO] [--from-stage ANALYZED]`): analyse,
score and sync a tenant's finished calls again, after it changed its questions, business
context or threshold, without transcribing anything again.

Each completed call is put back before the chosen stage (ANALYZED, SCORED or SYNCED) and run
through ProcessCall here, one at a time. Its CRM activity is found by the sync's idempotency
key and rewritten in place, never made twice; an alert already sent is not sent again.

Resumable: the call's timeline records the run's fingerprint (the tenant's ai_config, the
scoring version and the stage). A completed call that has it was done by an earlier run with
the same settings and is skipped; a call an interrupted run left half-way is finished. A call
that meets transient trouble (a CRM rate limit) is queued for the workers, as any call is.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta

import attrs

from domain.call import Call, StageEvent
from domain.errors import FieldError, ValidationFailed
from domain.jobs import Job
from domain.questions import questions_document
from domain.scoring import SCORING_VERSION
from domain.stages import Stage
from domain.tenant import Tenant
from domain.usecases.calls import every_call
from domain.usecases.processing import Outcome, ProcessCall, ProcessCallCommand
from ports.queue import JobQueue
from ports.repositories import UnitOfWorkFactory
from ports.system import Clock, IdGenerator

STAGES = (Stage.ANALYZED, Stage.SCORED, Stage.SYNCED)


@attrs.frozen
class ReanalyzeCommand:
    tenant_id: str
    since: datetime | None = None
    from_stage: Stage = Stage.ANALYZED


@attrs.frozen
class ReanalyzeReport:
    done: int
    already: int  # done by an earlier run with the same settings
    queued: int  # transient trouble: left to the workers
    failed: tuple[tuple[str, str], ...]  # (call id, stage and reason)


def fingerprint(tenant: Tenant, from_stage: Stage) -> str:
    """What a run redoes the calls for: the analysis settings, the scoring, the stage."""
    ai = tenant.config.ai
    settings = {
        "threshold": ai.lead_scoring_threshold,
        "model": ai.analysis_model,
        "context": ai.business_context,
        "questions": questions_document(ai.questions),
        "scoring": SCORING_VERSION,
        "from": from_stage.value,
    }
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()
    return f"reanalyze {digest[:12]}"


class ReanalyzeCalls:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        process: ProcessCall,
        queue: JobQueue,
        clock: Clock,
        ids: IdGenerator,
    ):
        self._uow = uow
        self._process = process
        self._queue = queue
        self._clock = clock
        self._ids = ids

    async def __call__(
        self, command: ReanalyzeCommand, progress: Callable[[str], None] = lambda _: None
    ) -> ReanalyzeReport:
        if command.from_stage not in STAGES:
            choices = ", ".join(STAGES)
            raise ValidationFailed([FieldError("from_stage", f"one of {choices}")], "reanalyze")
        tenant, calls = await every_call(self._uow, command.tenant_id, command.since)
        mark = fingerprint(tenant, command.from_stage)
        worker = f"reanalyze-{self._ids.new_id()}"
        done = already = queued = 0
        failed: list[tuple[str, str]] = []
        for n, call in enumerate(calls, start=1):
            where = f"{n}/{len(calls)} {call.call_id}"
            marked = any(e.note == mark for e in call.timeline)
            if marked and call.stage is Stage.COMPLETED:
                already += 1
                progress(f"{where}: already reanalysed with these settings")
                continue
            if not marked:
                if call.stage is not Stage.COMPLETED:
                    already += 1
                    progress(f"{where}: skipped, {call.stage} (not completed)")
                    continue
                await self._restart(call, command.from_stage, mark)
            result = await self._process(ProcessCallCommand(tenant.tenant_id, call.call_id, worker))
            if result.outcome is Outcome.DONE:
                done += 1
                progress(f"{where}: done")
            elif result.outcome in (Outcome.RETRY, Outcome.BUSY):
                await self._queue_again(call, result.retry_after_s)
                queued += 1
                progress(f"{where}: queued for the workers ({result.reason or result.outcome})")
            else:
                failed.append((call.call_id, f"{result.stage}: {result.reason}"))
                progress(f"{where}: failed at {result.stage}")
        return ReanalyzeReport(done, already, queued, tuple(failed))

    async def _restart(self, call: Call, from_stage: Stage, mark: str) -> None:
        now = self._clock.now()
        async with self._uow() as uow:
            fresh = await uow.calls.get(call.tenant_id, call.call_id)
            if fresh is None:
                return
            fresh.restart_from(from_stage, now)
            fresh.timeline.append(StageEvent(fresh.stage, now, note=mark))
            await uow.calls.update(fresh)
            await uow.commit()

    async def _queue_again(self, call: Call, after_s: float) -> None:
        now = self._clock.now()
        job = Job(self._ids.new_id(), call.tenant_id, call.call_id, now)
        due = now + timedelta(seconds=max(after_s, self._queue.dispatch_grace_s))
        async with self._uow() as uow:
            await uow.jobs.add(job, due_at=due)
            await uow.commit()
        await self._queue.enqueue(job)
