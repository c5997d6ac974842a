"""Applying CallRail's Call Modified to a call already stored (domain/call_changes.py says what
each change does). The webhook's intake comes here when the call exists and the body has a
`changes` list; a modified body for a call never seen is admitted as a new call instead.

Read, change and write are one unit of work, compare-and-set on the call's version: a worker
saving the call meanwhile makes this write fail, and it is done again on what the worker
saved (a few times). Once written, a worker still processing the call finds its own next save
refused and its job resumes from the stage the change put the call back to; a finished call
gets a new job. Either way the call runs again once, and nothing of the change is lost.

The worker's lease is left as it is, so the new run starts only once the old one has stopped:
the CRM activity it may be creating is found by its key and updated. What this cannot rule
out is the old run's alert in flight at that moment: its "sent" is not saved, and the new run
sends it again with the same alert id, as after a crash (domain/usecases/alerting.py)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

import attrs

from domain.call import Call, IncomingCall
from domain.call_changes import Change, apply_change, plan_change
from domain.errors import CallNotFound, ConcurrentUpdate
from domain.jobs import Job
from ports.queue import JobQueue
from ports.repositories import UnitOfWorkFactory
from ports.system import IdGenerator

ATTEMPTS = 5  # writes lost to a worker saving the same call at the same moment


@attrs.frozen
class ModifyCommand:
    tenant_id: str
    incoming: IncomingCall
    received_at: datetime
    trace_context: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen
class CallModified:
    call: Call
    change: Change
    reruns: bool  # the call runs again (a new job, or the one it is still running under)


class ModifyCall:
    def __init__(self, uow: UnitOfWorkFactory, queue: JobQueue, ids: IdGenerator):
        self._uow = uow
        self._queue = queue
        self._ids = ids

    async def __call__(self, command: ModifyCommand) -> CallModified:
        for _ in range(ATTEMPTS - 1):
            try:
                return await self._modify(command)
            except ConcurrentUpdate:
                continue
        return await self._modify(command)

    async def _modify(self, command: ModifyCommand) -> CallModified:
        tenant_id, incoming, now = command.tenant_id, command.incoming, command.received_at
        job = None
        async with self._uow() as uow:
            call = await uow.calls.get(tenant_id, incoming.call_id)
            if call is None:  # erased since the intake found it
                raise CallNotFound(f"no call {incoming.call_id} for tenant {tenant_id}")
            change = plan_change(call, incoming)
            if change is Change.NONE:
                return CallModified(call, change, reruns=False)
            rerun = apply_change(call, incoming, change, now)
            await uow.calls.update(call)
            if rerun:
                context = dict(command.trace_context)
                job = Job(self._ids.new_id(), tenant_id, call.call_id, now, context)
                grace = timedelta(seconds=self._queue.dispatch_grace_s)
                await uow.jobs.add(job, due_at=now + grace)
            await uow.commit()
        if job is not None:
            await self._queue.enqueue(job)
        return CallModified(call, change, reruns=change.reruns)
