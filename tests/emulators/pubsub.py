"""The real Pub/Sub emulator (Java 17, from the Google Cloud SDK), once per session.

It sets PUBSUB_EMULATOR_HOST for the session, as the client libraries expect, but the clients
made here are bound to it explicitly over an insecure gRPC channel. A test module makes the
session fixture visible with `pubsub_emulator = tests.emulators.pubsub.pubsub_emulator`."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import attrs
import grpc  # type: ignore[import-untyped]
import pytest
from google.api_core import exceptions as api
from google.cloud.pubsub_v1 import PublisherClient as BatchingPublisher  # type: ignore[import-untyped]
from google.pubsub_v1 import PublisherClient, SubscriberClient
from google.pubsub_v1.services.publisher.transports import PublisherGrpcTransport
from google.pubsub_v1.services.subscriber.transports import SubscriberGrpcTransport
from google.pubsub_v1.types import PushConfig, ReceivedMessage

from tests.emulators import free_port, require, sdk_root, wait_for_port

PROJECT = "test-project"
ENV = "PUBSUB_EMULATOR_HOST"


def batching_publisher(host: str, **kwargs: Any) -> BatchingPublisher:
    """The client the JobQueue adapter takes (publish() returns a future), bound to `host`."""
    channel = grpc.insecure_channel(host)
    return BatchingPublisher(transport=PublisherGrpcTransport(channel=channel), **kwargs)


@attrs.define
class PubSubEmulator:
    host: str  # 127.0.0.1:port
    publisher_admin: PublisherClient
    subscriber: SubscriberClient

    def batching_publisher(self, **kwargs: Any) -> BatchingPublisher:
        return batching_publisher(self.host, **kwargs)

    def topic_path(self, name: str | None = None) -> str:
        return f"projects/{PROJECT}/topics/{name or 'jobs-' + uuid.uuid4().hex[:12]}"

    def create_topic(self) -> str:
        return self.publisher_admin.create_topic(name=self.topic_path(), timeout=30).name

    def create_pull_subscription(self, topic: str) -> str:
        return self._subscribe(topic, None)

    def create_push_subscription(self, topic: str, endpoint: str) -> str:
        """Pushes every message on `topic` to `endpoint` (http://127.0.0.1:PORT/path)."""
        return self._subscribe(topic, PushConfig(push_endpoint=endpoint))

    def pull(
        self, subscription: str, want: int = 1, timeout_s: float = 20
    ) -> list[ReceivedMessage]:
        """Waits for `want` messages (fewer if the time runs out), and acknowledges them."""
        got: list[ReceivedMessage] = []
        deadline = time.monotonic() + timeout_s
        while len(got) < want and time.monotonic() < deadline:
            try:
                response = self.subscriber.pull(
                    subscription=subscription, max_messages=want - len(got), timeout=5
                )
            except api.DeadlineExceeded:
                continue
            got.extend(response.received_messages)
            if response.received_messages:
                self.subscriber.acknowledge(
                    subscription=subscription,
                    ack_ids=[m.ack_id for m in response.received_messages],
                    timeout=10,
                )
        return got

    def _subscribe(self, topic: str, push: PushConfig | None) -> str:
        name = f"projects/{PROJECT}/subscriptions/sub-{uuid.uuid4().hex[:12]}"
        subscription = self.subscriber.create_subscription(
            request={"name": name, "topic": topic, "push_config": push or PushConfig()},
            timeout=30,
        )
        return subscription.name


@pytest.fixture(scope="session")
def pubsub_emulator(request: pytest.FixtureRequest) -> PubSubEmulator:
    """Kept in the config's stash rather than pytest's fixture cache: a session fixture made
    visible in two modules is set up once per module."""
    stash = request.config.stash
    if _FAILED in stash:
        require("the Pub/Sub emulator", False, stash[_FAILED])
    if _EMULATOR not in stash:
        try:
            stash[_EMULATOR] = _start(request.config)
        except _NotStarted as exc:
            stash[_FAILED] = str(exc)
            require("the Pub/Sub emulator", False, str(exc))
    return stash[_EMULATOR]


class _NotStarted(Exception):
    pass


_EMULATOR = pytest.StashKey[PubSubEmulator]()
_FAILED = pytest.StashKey[str]()


def _start(config: pytest.Config) -> PubSubEmulator:
    root = sdk_root()
    script = (
        root / "platform" / "pubsub-emulator" / "bin" / "cloud-pubsub-emulator" if root else None
    )
    if script is None or not script.exists():
        raise _NotStarted("apt-get install google-cloud-cli-pubsub-emulator")
    if shutil.which("java") is None:
        raise _NotStarted("it needs Java 17: apt-get install openjdk-17-jre-headless")
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="pubsub-emulator-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(
        [str(script), "--host=127.0.0.1", f"--port={port}"],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    host = f"127.0.0.1:{port}"
    previous = os.environ.get(ENV)

    def stop() -> None:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)
        log.close()
        Path(log.name).unlink(missing_ok=True)
        if previous is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = previous

    config.add_cleanup(stop)
    try:
        wait_for_port(port, process, timeout_s=90)
        emulator = PubSubEmulator(
            host,
            PublisherClient(transport=PublisherGrpcTransport(channel=grpc.insecure_channel(host))),
            SubscriberClient(
                transport=SubscriberGrpcTransport(channel=grpc.insecure_channel(host))
            ),
        )
        _wait_until_serving(emulator)
    except (RuntimeError, api.GoogleAPIError) as exc:
        tail = Path(log.name).read_text(errors="replace")[-2000:]
        raise _NotStarted(f"it did not start: {exc}\n{tail}") from None
    os.environ[ENV] = host
    return emulator


def _wait_until_serving(emulator: PubSubEmulator, timeout_s: float = 60) -> None:
    """The port opens before the gRPC service answers: list topics until it does."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            list(emulator.publisher_admin.list_topics(project=f"projects/{PROJECT}", timeout=5))
            return
        except (api.ServiceUnavailable, api.DeadlineExceeded):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
