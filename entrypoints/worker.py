"""The in-process worker pool that drains the local durable queue.

Jobs live in the database, so nothing is held only in memory: a worker that dies leaves its
claimed jobs to lapse and be claimed again, and retries are rows with a due time, not sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence

from domain.errors import DomainError
from domain.jobs import Job
from domain.usecases.jobs import SweepReport
from domain.usecases.processing import ProcessResult
from ports.queue import LocalJobQueue
from ports.telemetry import NoTracing, Span, Tracer

log = logging.getLogger("ingestion_pipeline.worker")

Deliver = Callable[[Job, str], Awaitable[ProcessResult]]
Sweep = Callable[[], Awaitable[SweepReport]]


class LocalWorkerPool:
    def __init__(
        self,
        queue: LocalJobQueue,
        deliver: Deliver,
        sweep: Sweep,
        *,
        concurrency: int = 2,
        poll_s: float = 1.0,
        sweep_every_s: float = 60.0,
        claim_s: float = 60.0,
        tracer: Tracer | None = None,
    ):
        self.worker_id = f"local-{uuid.uuid4().hex[:12]}"
        self._tracer = tracer or NoTracing()
        self._queue = queue
        self._deliver_job = deliver
        self._sweep = sweep
        self._claim_s = claim_s
        self._running: dict[asyncio.Task[None], Job] = {}
        self._slot_free = asyncio.Event()
        self._concurrency = concurrency
        self._poll_s = poll_s
        self._sweep_every_s = sweep_every_s
        self._loops: list[asyncio.Task[None]] = []
        self._stopping = False

    def start(self) -> None:
        self._loops = [
            asyncio.create_task(self._drain(), name="worker-drain"),
            asyncio.create_task(self._sweep_periodically(), name="worker-sweep"),
            asyncio.create_task(self._heartbeat(), name="worker-claims"),
        ]

    async def stop(self, grace_s: float = 10.0) -> None:
        """Stops claiming, lets calls in flight finish for `grace_s`, then cancels them (their
        claims lapse and another start picks them up, resuming at the stage they reached)."""
        self._stopping = True
        for task in self._loops:
            task.cancel()
        for task in self._loops:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._running:
            _, pending = await asyncio.wait(list(self._running), timeout=grace_s)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def _drain(self) -> None:
        while not self._stopping:
            free = self._concurrency - len(self._running)
            jobs: Sequence[Job] = []
            if free > 0:
                try:
                    jobs = await self._queue.claim(self.worker_id, free)
                except DomainError as exc:
                    log.warning("could not claim jobs: %s", exc)
            for job in jobs:
                task = asyncio.create_task(self._handle(job), name=f"call-{job.call_id}")
                self._running[task] = job
                task.add_done_callback(self._finished)
            if not jobs or free <= len(jobs):
                await self._idle()

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.pop(task, None)
        self._slot_free.set()

    async def _idle(self) -> None:
        """Until a job may have been enqueued, a slot is free, or poll_s has passed."""
        waits = [
            asyncio.ensure_future(self._queue.wait(self._poll_s)),
            asyncio.ensure_future(self._slot_free.wait()),
        ]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
        self._slot_free.clear()

    async def _handle(self, job: Job) -> None:
        """One delivery, in the trace the job was enqueued in."""
        context = {"tenant_id": job.tenant_id, "call_id": job.call_id}
        with (
            self._tracer.extract(job.trace_context),
            self._tracer.span("deliver.local", context, kind="consumer") as span,
        ):
            await self._deliver(job, context, span)

    async def _deliver(self, job: Job, context: dict[str, str], span: Span) -> None:
        # Each delivery is its own lease owner: a second delivery of the same call, even in this
        # process, finds the lease held and waits instead of working alongside.
        owner = f"{self.worker_id}/{uuid.uuid4().hex[:8]}"
        try:
            result = await self._deliver_job(job, owner)
        except DomainError as exc:
            # The database went away mid-way: the claim lapses and the job comes back.
            span.record_error(type(exc).__name__)
            log.warning("job left for a later delivery: %s", exc, extra=context)
            return
        except Exception as exc:
            span.record_error(type(exc).__name__)
            log.exception("job crashed; its claim will lapse and it will be retried", extra=context)
            return
        span.set_attribute("outcome", result.outcome.value)
        log.info(
            "call %s: %s at %s",
            job.call_id,
            result.outcome,
            result.stage,
            extra={**context, "stage": str(result.stage), "event": result.outcome.value},
        )

    async def _heartbeat(self) -> None:
        """Keeps the claims of jobs in progress (a long transcription) from lapsing."""
        while not self._stopping:
            await asyncio.sleep(self._claim_s / 3)
            job_ids = [job.job_id for job in self._running.values()]
            if not job_ids:
                continue
            try:
                await self._queue.keep(job_ids, self.worker_id)
            except DomainError as exc:
                log.warning("could not extend job claims: %s", exc)

    async def _sweep_periodically(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self._sweep_every_s)
            try:
                report = await self._sweep()
            except DomainError as exc:
                log.warning("sweep failed: %s", exc)
                continue
            if report.requeued:
                log.warning("sweep re-queued %d stalled call(s)", len(report.requeued))


class OutboxDispatcher:
    """The Pub/Sub shape's worker-side loop: publish the jobs that are due (retries whose time
    has come, deliveries that were lost) and sweep calls that lost their job."""

    def __init__(
        self,
        dispatch: Callable[[], Awaitable[int]],
        sweep: Sweep,
        *,
        every_s: float = 5.0,
        sweep_every_s: float = 60.0,
    ):
        self._dispatch = dispatch
        self._sweep = sweep
        self._every_s = every_s
        self._sweep_every_s = sweep_every_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-dispatcher")

    async def stop(self, grace_s: float = 10.0) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        since_sweep = 0.0
        while True:
            try:
                published = await self._dispatch()
                if published:
                    log.info("dispatched %d due job(s)", published)
                since_sweep += self._every_s
                if since_sweep >= self._sweep_every_s:
                    since_sweep = 0.0
                    report = await self._sweep()
                    if report.requeued:
                        log.warning("sweep re-queued %d stalled call(s)", len(report.requeued))
            except DomainError as exc:
                log.warning("dispatch failed: %s", exc)
            await asyncio.sleep(self._every_s)
