"""Operator tool (`calls reanalyze TENANT [--since ISO] [--from-stage ANALYZED]`): analyse,
score and sync a tenant's finished calls again, after it changed its questions, business
context or threshold, without transcribing anything again.

Each completed call is put back before the chosen stage (ANALYZED, SCORED or SYNCED) and run
through ProcessCall here, one at a time. Its CRM activity is found by the sync's idempotency
key and rewritten in place, never made twice; an alert already sent is not sent again.

Resumable: the call's timeline records the run's fingerprint (the tenant's ai_config, the
scoring version and the stage). A completed call that has it was done by an earlier run with
the same settings (`already`); a call an interrupted run left half-way is finished. A call a
reanalyse run left FAILED (an LLM refusal, a bad key) is tried again from the chosen stage, as
an operator reruns to retry once the cause is fixed, unless it failed before reaching that
stage (it has nothing to reanalyse). Any other call not completed is `skipped`. Each call run
is counted by what happened to it in this run: done only if it reached COMPLETED, queued for
the workers on transient trouble (a CRM rate limit), else failed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta

import attrs

from domain.call import Call
from domain.errors import FieldError, ValidationFailed
from domain.jobs import Job
from domain.questions import questions_document
from domain.scoring import SCORING_VERSION
from domain.stages import Stage
from domain.tenant import Tenant
from domain.usecases.calls import every_call
from domain.usecases.processing import Outcome, ProcessCall, ProcessCallCommand, ProcessResult
from ports.queue import JobQueue
from ports.repositories import UnitOfWorkFactory
from ports.system import Clock, IdGenerator

STAGES = (Stage.ANALYZED, Stage.SCORED, Stage.SYNCED)
MARK = "reanalyze "  # every run's timeline note starts so; fingerprint() adds the digest


@attrs.frozen
class ReanalyzeCommand:
    tenant_id: str
    since: datetime | None = None
    from_stage: Stage = Stage.ANALYZED


@attrs.frozen
class ReanalyzeReport:
    done: int  # reached COMPLETED in this run
    already: int  # done by an earlier run with the same settings
    skipped: int  # not completed, so nothing to reanalyse
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
    return f"{MARK}{digest[:12]}"


def why_not_redone(call: Call, from_stage: Stage) -> str | None:
    """Why a FAILED call cannot be reanalysed from `from_stage`, or None if it can: only one
    that failed in a reanalyse run, at or after that stage, has every earlier stage's result
    (a call that failed at TRANSCRIBED has no transcript to analyse)."""
    if not any((e.note or "").startswith(MARK) for e in call.timeline):
        return "FAILED (not completed)"
    failed_at = call.failure.stage if call.failure else None
    if failed_at is None or call.failed_before(from_stage) is not None:
        return f"FAILED at {failed_at}, before {from_stage}: nothing to reanalyse"
    return None


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
        done = already = skipped = queued = 0
        failed: list[tuple[str, str]] = []
        for n, call in enumerate(calls, start=1):
            where = f"{n}/{len(calls)} {call.call_id}"
            marked = any(e.note == mark for e in call.timeline)
            if call.stage is Stage.COMPLETED and marked:
                already += 1
                progress(f"{where}: already reanalysed with these settings")
                continue
            if call.stage is Stage.FAILED:
                why = why_not_redone(call, command.from_stage)
            elif call.stage is Stage.COMPLETED or marked:
                why = None  # to redo, or left half-way by an interrupted run: finished here
            else:
                why = f"{call.stage} (not completed)"
            if why is None and call.stage.terminal:
                why = await self._restart(call, command.from_stage, mark)
            if why is not None:
                skipped += 1
                progress(f"{where}: skipped, {why}")
                continue
            result = await self._process(ProcessCallCommand(tenant.tenant_id, call.call_id, worker))
            if result.outcome is Outcome.DONE and result.stage is Stage.COMPLETED:
                done += 1
                progress(f"{where}: done")
            elif result.outcome in (Outcome.RETRY, Outcome.BUSY):
                await self._queue_again(call, result.retry_after_s)
                queued += 1
                progress(f"{where}: queued for the workers ({result.reason or result.outcome})")
            else:
                stage, reason = await self._why_failed(call, result)
                failed.append((call.call_id, f"{stage}: {reason}"))
                progress(f"{where}: failed at {stage}")
        return ReanalyzeReport(done, already, skipped, queued, tuple(failed))

    async def _restart(self, call: Call, from_stage: Stage, mark: str) -> str | None:
        """Puts the call back before `from_stage`, noting the run's mark; or says why not, as
        the call is now (a worker may have moved it since it was read)."""
        now = self._clock.now()
        async with self._uow() as uow:
            fresh = await uow.calls.get(call.tenant_id, call.call_id)
            if fresh is None:
                return "deleted"
            if fresh.stage is Stage.FAILED:
                why = why_not_redone(fresh, from_stage)
                if why is not None:
                    return why
            elif fresh.stage is not Stage.COMPLETED:
                return f"{fresh.stage} (not completed)"
            fresh.restart_from(from_stage, now, note=mark)
            await uow.calls.update(fresh)
            await uow.commit()
        return None

    async def _why_failed(self, call: Call, result: ProcessResult) -> tuple[Stage | None, str]:
        """The stage and reason of a call not completed: ProcessCall's own, or, for a call it
        found already ended (Outcome.DONE, not COMPLETED), the failure the call records."""
        if result.outcome is not Outcome.DONE:
            return result.stage, f"{result.reason}"
        async with self._uow(read_only=True) as uow:
            fresh = await uow.calls.get(call.tenant_id, call.call_id)
        if fresh is not None and fresh.failure is not None:
            return fresh.failure.stage, fresh.failure.reason
        return result.stage, "not completed"

    async def _queue_again(self, call: Call, after_s: float) -> None:
        now = self._clock.now()
        job = Job(self._ids.new_id(), call.tenant_id, call.call_id, now)
        due = now + timedelta(seconds=max(after_s, self._queue.dispatch_grace_s))
        async with self._uow() as uow:
            await uow.jobs.add(job, due_at=due)
            await uow.commit()
        await self._queue.enqueue(job)
