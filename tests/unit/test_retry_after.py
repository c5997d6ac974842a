"""Retry-After as every adapter reads it (domain.resilience.retry_after_s): the two forms RFC
9110 gives it, OpenAI's milliseconds, and whatever else a server sends, which must never become
a wait of NaN, infinity, a negative time or a month."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from adapters.memory.fakes import FixedClock, InMemoryRecordingSource
from domain.call import Call
from domain.errors import RateLimited
from domain.jobs import Job
from domain.resilience import MAX_RETRY_AFTER_S, retry_after_s
from domain.tenant import Tenant
from domain.usecases.jobs import DeliverJob
from domain.usecases.processing import Outcome
from ports.recording import Download
from tests.unit.test_process_call import Harness

NOW = datetime(2026, 12, 6, 20, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("Sun, 06 Dec 2026 20:01:30 GMT", 90.0),  # an HTTP date, counted from now
        ("Sun, 06 Dec 2026 19:00:00 GMT", 0.0),  # a date gone by: at once
        ("31536000", MAX_RETRY_AFTER_S),  # a year: asked again after a day
        (None, None),
        ("", None),
        ("soon", None),
        ("nan", None),
        ("inf", None),
        ("-infinity", None),
        ("-5", None),
        ("1e400", None),  # overflows to infinity
    ],
)
def test_retry_after_is_read_or_refused(value: str | None, seconds: float | None) -> None:
    assert retry_after_s(value, NOW) == seconds


def test_a_header_in_milliseconds() -> None:
    assert retry_after_s("2500", NOW, unit_s=0.001) == 2.5


async def test_a_nan_wait_from_a_service_still_reschedules_the_call(clock: FixedClock) -> None:
    """Defence in depth for a hint no adapter should pass on: the job is due again at a real
    time (timedelta(seconds=nan) would have raised in the middle of settling it)."""

    class Throttled(InMemoryRecordingSource):
        async def open(self, tenant: Tenant, call: Call) -> Download:
            raise RateLimited("429 from the recording host", float("nan"))

    h = Harness(clock, recordings=Throttled())
    await h.setup()
    deliver = DeliverJob(h.process, h.uow, clock)

    result = await deliver(Job("job-1", "acme", "CALc1", clock.now()), "w1")

    assert result.outcome is Outcome.RETRY
    assert math.isfinite(result.retry_after_s)
    assert result.retry_after_s >= 1.0
