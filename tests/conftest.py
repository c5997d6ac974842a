from __future__ import annotations

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
