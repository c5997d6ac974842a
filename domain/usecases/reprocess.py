"""Operator tool: run a finished or failed call again from a chosen stage."""

from __future__ import annotations

from datetime import timedelta

import attrs

from domain.call import Call
from domain.errors import CallNotFound, FieldError, ValidationFailed
from domain.jobs import Job
from domain.stages import RESTARTABLE, Stage
from ports.queue import JobQueue
from ports.repositories import UnitOfWorkFactory
from ports.system import Clock, IdGenerator


def parse_stage(text: object) -> Stage | None:
    """`TRANSCRIBED` or `transcribed`; None when not given."""
    if text is None or text == "":
        return None
    if isinstance(text, str) and text.upper() in RESTARTABLE:
        return Stage(text.upper())
    choices = ", ".join(RESTARTABLE)
    raise ValidationFailed([FieldError("from_stage", f"one of {choices}")], "reprocess request")


@attrs.frozen
class ReprocessCommand:
    tenant_id: str
    call_id: str
    from_stage: Stage | None = None  # default: the failed stage, or the whole pipeline


class ReprocessCall:
    def __init__(self, uow: UnitOfWorkFactory, queue: JobQueue, clock: Clock, ids: IdGenerator):
        self._uow = uow
        self._queue = queue
        self._clock = clock
        self._ids = ids

    async def __call__(self, command: ReprocessCommand) -> Call:
        now = self._clock.now()
        async with self._uow() as uow:
            call = await uow.calls.get(command.tenant_id, command.call_id)
            if call is None:
                raise CallNotFound(f"no call {command.call_id} for tenant {command.tenant_id}")
            first = command.from_stage
            if first is None:
                first = call.failure.stage if call.failure else Stage.RECORDING_STORED
            call.restart_from(first, now)
            await uow.calls.update(call)
            job = Job(self._ids.new_id(), call.tenant_id, call.call_id, now)
            await uow.jobs.add(job, due_at=now + timedelta(seconds=self._queue.dispatch_grace_s))
            await uow.commit()
        await self._queue.enqueue(job)
        return call
