"""Health probes that need only the ports, so they serve every database and queue alike, and
one for a service that can say it is reachable (`ping`) without doing any work."""

from __future__ import annotations

from typing import Protocol

from domain.errors import DomainError
from ports.health import ComponentHealth, HealthProbe
from ports.repositories import UnitOfWorkFactory
from ports.system import Clock


class RepositoryProbe(HealthProbe):
    def __init__(self, uow: UnitOfWorkFactory, name: str):
        self._uow = uow
        self._name = name

    async def check(self) -> ComponentHealth:
        try:
            async with self._uow(read_only=True) as uow:
                await uow.tenants.get("health-check")
        except DomainError as exc:
            return ComponentHealth("unhealthy", str(exc))
        return ComponentHealth("healthy", self._name)


class QueueProbe(HealthProbe):
    """Jobs waiting, and how long the oldest has been due."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, name: str):
        self._uow = uow
        self._clock = clock
        self._name = name

    async def check(self) -> ComponentHealth:
        try:
            async with self._uow(read_only=True) as uow:
                depth = await uow.jobs.pending_count()
                oldest = await uow.jobs.oldest_due()
        except DomainError as exc:
            return ComponentHealth("unhealthy", str(exc))
        age = max(0.0, (self._clock.now() - oldest).total_seconds()) if oldest else 0.0
        return ComponentHealth(
            "healthy", self._name, {"depth": depth, "oldest_due_s": round(age, 1)}
        )


class Pingable(Protocol):
    async def ping(self) -> None:
        """Returns when the service answered; raises a port error when it did not."""
        ...


class PingProbe(HealthProbe):
    """A remote service (Cloud Storage, Speech-to-Text, Vertex AI) asked the cheapest question
    it answers, with the credentials and names the work uses."""

    def __init__(self, service: Pingable, name: str):
        self._service = service
        self._name = name

    async def check(self) -> ComponentHealth:
        try:
            await self._service.ping()
        except DomainError as exc:
            return ComponentHealth("unhealthy", f"{self._name}: {exc}")
        except Exception as exc:  # a client library's own error: its kind, never its text
            return ComponentHealth("unhealthy", f"{self._name}: {type(exc).__name__}")
        return ComponentHealth("healthy", self._name)
