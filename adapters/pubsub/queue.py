"""Jobs published to a Pub/Sub topic; a push subscription hands them to POST /v1/pubsub/push.

enqueue() runs after the job's transaction has committed. A publish that fails or times out is
therefore logged (ids only) and counted, never raised: the job is a row in the JobRepository,
published again once due (and the sweep finds calls stuck before COMPLETED), so failing the
webhook would only make CallRail think the call was lost."""

from __future__ import annotations

import asyncio
import logging

from google.api_core import exceptions as api
from google.api_core.retry import Retry, if_exception_type
from google.cloud.pubsub_v1 import PublisherClient  # type: ignore[import-untyped]

from adapters.pubsub.message import job_message
from domain.jobs import Job
from ports.queue import JobQueue

log = logging.getLogger("ingestion_pipeline.pubsub")

_RETRYABLE = if_exception_type(
    api.Aborted,
    api.DeadlineExceeded,
    api.InternalServerError,
    api.ResourceExhausted,
    api.ServiceUnavailable,
    api.Unknown,
)


class PubSubJobQueue(JobQueue):
    def __init__(
        self,
        publisher: PublisherClient,
        topic: str,
        *,
        timeout_s: float = 10.0,
        dispatch_grace_s: float = 600.0,
    ):
        """`topic` is the full path, projects/P/topics/T. `timeout_s` bounds one publish,
        retries included: enqueue() never waits longer than that. `dispatch_grace_s` is how
        long a published job may stay unsettled before it is published again: at least the
        push subscription's ack deadline (at most 600 s) plus its redelivery backoff."""
        self.dispatch_grace_s = dispatch_grace_s
        self._publisher = publisher
        self._topic = topic
        self._timeout_s = timeout_s
        self._retry = Retry(
            predicate=_RETRYABLE, initial=0.1, maximum=2.0, multiplier=2.0, timeout=timeout_s
        )
        self._published = 0
        self._failed = 0

    @property
    def published(self) -> int:
        return self._published

    @property
    def failed_publishes(self) -> int:
        """Publishes that failed or timed out since start: those calls wait for the sweep."""
        return self._failed

    async def enqueue(self, job: Job) -> None:
        data, attributes = job_message(job)
        try:
            async with asyncio.timeout(self._timeout_s):
                future = self._publisher.publish(
                    self._topic,
                    data,
                    retry=self._retry,
                    timeout=self._timeout_s,
                    **attributes,
                )
                await asyncio.wrap_future(future)
        except Exception as exc:
            self._failed += 1
            log.warning(
                "publishing job %s (tenant %s, call %s) failed: %s; it is published again when due",
                job.job_id,
                job.tenant_id,
                job.call_id,
                _reason(exc),
            )
            return
        self._published += 1

    async def close(self) -> None:
        """Sends what is batched, then stops the publisher's threads."""
        await asyncio.to_thread(self._publisher.stop)


def _reason(exc: BaseException) -> str:
    """What went wrong, without the message text: a driver's text may carry anything."""
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, api.GoogleAPICallError):
        return f"{type(exc).__name__} ({exc.code})"
    return type(exc).__name__
