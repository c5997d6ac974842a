"""The Pub/Sub JobQueue on the real emulator: what it publishes comes back intact by pull and by
push, the push envelope the emulator really sends parses, and a publish that cannot succeed
neither raises nor hangs: it is counted and left to the sweep."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from adapters.pubsub.push import parse_push_envelope
from adapters.pubsub.queue import PubSubJobQueue
from domain.jobs import Job
from tests.emulators import free_port, pubsub
from tests.emulators.pubsub import PubSubEmulator, batching_publisher

pytestmark = pytest.mark.slow
pubsub_emulator = pubsub.pubsub_emulator

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
JOB = Job(
    job_id="job-000123",
    tenant_id="acme",
    call_id="CAL1",
    enqueued_at=datetime(2026, 3, 4, 15, 30, 12, 345000, tzinfo=UTC),
    trace_context={"traceparent": TRACEPARENT, "tracestate": "vendor=1"},
)
AiohttpServer = Callable[..., Awaitable[TestServer]]


@pytest.fixture
async def queue_for(
    pubsub_emulator: PubSubEmulator,
) -> AsyncIterator[Callable[[str], PubSubJobQueue]]:
    made: list[PubSubJobQueue] = []

    def make(topic: str, timeout_s: float = 10.0) -> PubSubJobQueue:
        made.append(
            PubSubJobQueue(pubsub_emulator.batching_publisher(), topic, timeout_s=timeout_s)
        )
        return made[-1]

    yield make
    for queue in made:
        await queue.close()


async def test_a_job_round_trips_through_a_pull_subscription(
    pubsub_emulator: PubSubEmulator, queue_for: Callable[[str], PubSubJobQueue]
) -> None:
    topic = await asyncio.to_thread(pubsub_emulator.create_topic)
    subscription = await asyncio.to_thread(pubsub_emulator.create_pull_subscription, topic)
    queue = queue_for(topic)

    await queue.enqueue(JOB)

    [received] = await asyncio.to_thread(pubsub_emulator.pull, subscription)
    assert json.loads(received.message.data) == {
        "tenant_id": "acme",
        "call_id": "CAL1",
        "job_id": "job-000123",
        "enqueued_at": "2026-03-04T15:30:12.345000+00:00",
    }
    assert dict(received.message.attributes) == {
        "tenant_id": "acme",
        "call_id": "CAL1",
        "traceparent": TRACEPARENT,
        "tracestate": "vendor=1",
    }
    assert (queue.published, queue.failed_publishes) == (1, 0)


async def test_the_emulators_push_envelope_parses_back_into_the_job(
    pubsub_emulator: PubSubEmulator,
    queue_for: Callable[[str], PubSubJobQueue],
    aiohttp_server: AiohttpServer,
) -> None:
    bodies: asyncio.Queue[bytes] = asyncio.Queue()

    async def push(request: web.Request) -> web.Response:
        await bodies.put(await request.read())
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/v1/pubsub/push", push)
    server = await aiohttp_server(app, host="127.0.0.1")
    topic = await asyncio.to_thread(pubsub_emulator.create_topic)
    subscription = await asyncio.to_thread(
        pubsub_emulator.create_push_subscription,
        topic,
        f"http://127.0.0.1:{server.port}/v1/pubsub/push",
    )

    await queue_for(topic).enqueue(JOB)

    body = await asyncio.wait_for(bodies.get(), timeout=30)
    pushed = parse_push_envelope(body)
    assert pushed.job == JOB
    assert pushed.subscription == subscription
    assert pushed.message_id
    assert pushed.publish_time.tzinfo is not None
    assert pushed.delivery_attempt is None  # only with a dead-letter policy


async def test_a_publish_to_a_missing_topic_is_counted_not_raised(
    pubsub_emulator: PubSubEmulator,
    queue_for: Callable[[str], PubSubJobQueue],
    caplog: pytest.LogCaptureFixture,
) -> None:
    queue = queue_for(pubsub_emulator.topic_path("never-created"))

    with caplog.at_level(logging.WARNING, logger="ingestion_pipeline.pubsub"):
        await queue.enqueue(JOB)

    assert (queue.published, queue.failed_publishes) == (0, 1)
    [record] = caplog.records
    assert "job-000123" in record.getMessage()
    assert "NotFound" in record.getMessage()
    assert TRACEPARENT not in record.getMessage()


async def test_an_unreachable_pubsub_does_not_hold_the_caller() -> None:
    """The publisher retries UNAVAILABLE on its own; our timeout is what bounds the wait."""
    publisher = batching_publisher(f"127.0.0.1:{free_port()}")
    queue = PubSubJobQueue(publisher, "projects/test-project/topics/jobs", timeout_s=1.0)
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        await queue.enqueue(JOB)
    finally:
        await queue.close()
    assert loop.time() - started < 5
    assert queue.failed_publishes == 1
