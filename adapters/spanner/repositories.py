"""The Spanner unit of work. A read-only one reads strongly (or, if asked, listings and queue
metrics a bounded time in the past); a write one buffers its writes and commits them at once,
in one Commit or one read-write transaction (see commit.py)."""

from __future__ import annotations

from datetime import timedelta
from types import TracebackType
from typing import Self

from adapters.spanner.buffer import Known
from adapters.spanner.calls import SpannerCallRepository
from adapters.spanner.database import SpannerDatabase
from adapters.spanner.deletions import SpannerDeletionRepository
from adapters.spanner.jobs import SpannerJobRepository
from adapters.spanner.staging import Session
from adapters.spanner.tenants import SpannerApiKeyRepository, SpannerTenantRepository
from adapters.spanner.usage import SpannerUsageRepository
from ports.repositories import UnitOfWork, UnitOfWorkFactory

__all__ = [
    "SpannerApiKeyRepository",
    "SpannerCallRepository",
    "SpannerJobRepository",
    "SpannerTenantRepository",
    "SpannerUnitOfWork",
    "SpannerUnitOfWorkFactory",
    "SpannerUsageRepository",
]


class SpannerUnitOfWork(UnitOfWork):
    def __init__(
        self,
        db: SpannerDatabase,
        read_only: bool,
        staleness: timedelta | None = None,
        known: Known | None = None,
    ):
        self._session = Session(db, read_only, staleness, known or Known())
        self.tenants = SpannerTenantRepository(self._session)
        self.calls = SpannerCallRepository(self._session)
        self.api_keys = SpannerApiKeyRepository(self._session)
        self.jobs = SpannerJobRepository(self._session)
        self.usage = SpannerUsageRepository(self._session)
        self.deletions = SpannerDeletionRepository(self._session)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Nothing was sent: what commit() did not take is dropped.
        self._session.discard()

    async def commit(self) -> None:
        await self._session.commit()


class SpannerUnitOfWorkFactory(UnitOfWorkFactory):
    def __init__(self, db: SpannerDatabase, *, listing_staleness: timedelta | None = None):
        """`listing_staleness`: read-only listings and queue metrics may read this far in the
        past (cheaper, never blocked by writers); None reads them strongly."""
        self._db = db
        self._staleness = listing_staleness
        self._known = Known()  # shared by this factory's units of work

    def __call__(self, *, read_only: bool = False) -> UnitOfWork:
        return SpannerUnitOfWork(self._db, read_only, self._staleness, self._known)
