from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from adapters.memory.fakes import FixedClock, InMemoryJobQueue, InMemorySecretStore, SequentialIds
from adapters.memory.repositories import InMemoryUnitOfWorkFactory


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 3, 4, 15, 30, tzinfo=UTC))


@pytest.fixture
def ids() -> SequentialIds:
    return SequentialIds()


@pytest.fixture
def memory_uow() -> InMemoryUnitOfWorkFactory:
    return InMemoryUnitOfWorkFactory()


@pytest.fixture
def queue() -> InMemoryJobQueue:
    return InMemoryJobQueue()


@pytest.fixture
def secret_store() -> InMemorySecretStore:
    return InMemorySecretStore()


@pytest.fixture(autouse=True, scope="session")
def recordings_only_from_loopback() -> Iterator[None]:
    """Test services fetch recordings from loopback stand-ins only: a body that names
    CallRail's real host is refused by the guard before any DNS lookup, so no test sends a
    packet beyond this machine. Service processes the tests start inherit this."""
    previous = os.environ.get("PIPELINE_RECORDING_ALLOWED_HOSTS")
    os.environ["PIPELINE_RECORDING_ALLOWED_HOSTS"] = "127.0.0.1"
    yield
    if previous is None:
        del os.environ["PIPELINE_RECORDING_ALLOWED_HOSTS"]
    else:
        os.environ["PIPELINE_RECORDING_ALLOWED_HOSTS"] = previous
