"""RequestGuard and the body helpers: pure, driven with a fake monotonic clock whose sleep moves
time forward, so every wait the guard asks for is visible and costs nothing."""

from __future__ import annotations

import errno
from collections.abc import AsyncIterator

import pytest

from domain.errors import PermanentFailure, RateLimited, TransientFailure
from domain.resilience import (
    Failed,
    RequestGuard,
    Resend,
    ResendPolicy,
    json_or_none,
    read_at_most,
)
from domain.throttle import BreakerState, CircuitBreaker, TokenBucket


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Service:
    """Answers each attempt from a script: a value to return, a Failed, or an exception."""

    def __init__(self, time: FakeTime, *script: object):
        self.time = time
        self.script = list(script)
        self.sent_at: list[float] = []

    async def attempt(self) -> str | Failed:
        self.sent_at.append(self.time.now)
        step = self.script.pop(0)
        if isinstance(step, BaseException):
            raise step
        assert isinstance(step, (str, Failed))
        return step


def guard(
    time: FakeTime,
    *,
    breaker: CircuitBreaker | None = None,
    limiter: TokenBucket | None = None,
    jitter: float = 1.0,
    max_retries: int = 3,
    base_s: float = 0.5,
    cap_s: float = 10.0,
) -> RequestGuard:
    return RequestGuard(
        service="crm",
        limiter=limiter or TokenBucket(1000, 100),
        breaker=breaker or CircuitBreaker(failure_threshold=100),
        monotonic=time.monotonic,
        sleep=time.sleep,
        jitter=lambda: jitter,
        policy=ResendPolicy(max_retries, base_s, cap_s),
        unanswered=(ConnectionError, TimeoutError),
    )


def busy(hint_s: float | None = None) -> Failed:
    return Failed(TransientFailure("crm answered 503", hint_s), hint_s)


def throttled() -> Failed:
    return Failed(RateLimited("crm rate limit"), refused_unprocessed=True)


async def test_an_answer_is_returned_after_one_attempt() -> None:
    time = FakeTime()
    service = Service(time, "ok")

    assert await guard(time).send(service.attempt, what="the search") == "ok"
    assert len(service.sent_at) == 1
    assert time.sleeps == []


async def test_failures_are_resent_with_capped_exponential_backoff_then_raised() -> None:
    time = FakeTime()
    service = Service(time, *[busy() for _ in range(5)])
    resends: list[Resend] = []

    with pytest.raises(TransientFailure, match="503"):
        await guard(time, max_retries=3, base_s=1.0, cap_s=3.0).send(
            service.attempt, what="the search", on_resend=resends.append
        )

    assert len(service.sent_at) == 4  # the first send and three resends
    assert time.sleeps == [1.0, 2.0, 3.0]  # jitter 1.0: the whole ceiling, capped at 3
    assert [(r.number, r.of, r.delay_s) for r in resends] == [(1, 3, 1.0), (2, 3, 2.0), (3, 3, 3.0)]
    assert str(resends[0]) == "crm answered 503; retry 1 of 3 in 1.00s"


async def test_jitter_spreads_the_wait_over_the_upper_half_of_the_ceiling() -> None:
    time = FakeTime()
    service = Service(time, busy(), "ok")

    await guard(time, jitter=0.0, base_s=4.0).send(service.attempt, what="the search")

    assert time.sleeps == [2.0]


async def test_a_request_that_is_not_repeatable_is_not_resent_after_an_unknown_outcome() -> None:
    time = FakeTime()
    service = Service(time, busy(), "ok")

    with pytest.raises(TransientFailure, match="503"):
        await guard(time).send(service.attempt, what="the create", repeatable=False)
    assert len(service.sent_at) == 1


async def test_a_request_refused_unprocessed_is_resent_even_when_not_repeatable() -> None:
    time = FakeTime()
    service = Service(time, throttled(), throttled(), "created")

    result = await guard(time).send(service.attempt, what="the create", repeatable=False)

    assert result == "created"
    assert len(service.sent_at) == 3


@pytest.mark.parametrize(("hint", "expected"), [(4.0, 4.0), (60.0, 10.0), (0.1, 0.5)])
async def test_the_services_hint_lengthens_the_wait_up_to_the_cap(
    hint: float, expected: float
) -> None:
    time = FakeTime()
    service = Service(time, busy(hint), "ok")

    await guard(time, base_s=0.5, cap_s=10.0).send(service.attempt, what="the search")

    assert time.sleeps == [pytest.approx(expected)]


async def test_no_answer_is_a_transient_failure_named_by_service_and_request() -> None:
    time = FakeTime()
    service = Service(time, TimeoutError(), ConnectionResetError(), ConnectionResetError())

    with pytest.raises(TransientFailure) as raised:
        await guard(time, max_retries=2).send(service.attempt, what="the search")

    assert str(raised.value) == "crm the search: connection reset (ConnectionResetError)"
    assert not isinstance(raised.value, RateLimited)
    assert len(service.sent_at) == 3
    timed_out = Service(time, TimeoutError())
    with pytest.raises(TransientFailure, match=r"^crm the create: timed out$") as late:
        await guard(time).send(timed_out.attempt, what="the create", repeatable=False)
    assert not isinstance(late.value, RateLimited)


class DriverConnectError(OSError):
    """What an HTTP client raises when it cannot connect: an OSError carrying the errno of the
    socket error underneath (as aiohttp's ClientConnectorError does)."""


async def test_a_refused_connection_is_named_whatever_the_driver_calls_it() -> None:
    time = FakeTime()
    refused = DriverConnectError(errno.ECONNREFUSED, "Connect call failed ('10.0.0.7', 443)")
    service = Service(time, refused)
    g = RequestGuard(
        service="crm",
        limiter=TokenBucket(1000, 100),
        breaker=CircuitBreaker(),
        monotonic=time.monotonic,
        sleep=time.sleep,
        jitter=lambda: 1.0,
        policy=ResendPolicy(0),
        unanswered=(DriverConnectError,),
    )

    with pytest.raises(TransientFailure) as raised:
        await g.send(service.attempt, what="the search")

    assert str(raised.value) == "crm the search: connection refused (DriverConnectError)"
    assert not isinstance(raised.value, RateLimited)


async def test_an_error_it_was_not_told_about_passes_through_untouched() -> None:
    time = FakeTime()
    breaker = CircuitBreaker(failure_threshold=1)
    service = Service(time, KeyError("bug"), "ok")

    with pytest.raises(KeyError):
        await guard(time, breaker=breaker).send(service.attempt, what="the search")
    assert len(service.sent_at) == 1
    assert breaker.state(time.now) is BreakerState.CLOSED


async def test_a_refusal_is_raised_at_once_and_counts_as_the_service_being_up() -> None:
    time = FakeTime()
    breaker = CircuitBreaker(failure_threshold=2)
    g = guard(time, breaker=breaker, max_retries=0)

    with pytest.raises(TransientFailure):
        await g.send(Service(time, busy()).attempt, what="a")
    refusal = Service(time, PermanentFailure("crm refused a (400)"), "never")
    with pytest.raises(PermanentFailure, match="400"):
        await g.send(refusal.attempt, what="b")
    with pytest.raises(TransientFailure):
        await g.send(Service(time, busy()).attempt, what="c")

    assert len(refusal.sent_at) == 1
    # Failure, refusal, failure: the refusal reset the count, so the circuit is still closed.
    assert breaker.state(time.now) is BreakerState.CLOSED


async def test_the_circuit_opens_mid_retries_then_fails_fast_then_lets_one_trial_through() -> None:
    time = FakeTime()
    breaker = CircuitBreaker(failure_threshold=2, reset_after_s=30)
    g = guard(time, breaker=breaker, max_retries=10, base_s=0.5, cap_s=0.5)
    service = Service(time, busy(), busy())

    # Failures, not a rate limit: the call's attempts are spent while the circuit is open.
    with pytest.raises(
        TransientFailure,
        match=r"^crm circuit open after repeated failures \(last: crm answered 503\)$",
    ) as raised:
        await g.send(service.attempt, what="the search")
    assert not isinstance(raised.value, RateLimited)
    assert len(service.sent_at) == 2
    assert raised.value.retry_after_s == pytest.approx(29.5)

    nothing = Service(time)
    with pytest.raises(TransientFailure, match="circuit open") as again:
        await g.send(nothing.attempt, what="the search")
    assert not isinstance(again.value, RateLimited)
    assert nothing.sent_at == []

    time.now += 30
    trial = Service(time, "ok")
    assert await g.send(trial.attempt, what="the search") == "ok"
    assert breaker.state(time.now) is BreakerState.CLOSED


async def test_a_service_closed_for_a_while_fails_fast_until_then() -> None:
    time = FakeTime()
    breaker = CircuitBreaker(failure_threshold=100, reset_after_s=1)
    g = guard(time, breaker=breaker)
    daily = Failed(RateLimited("crm daily limit", retry_after_s=3600), closed_for_s=3600)
    service = Service(time, daily, "never")

    with pytest.raises(RateLimited, match="daily") as raised:
        await g.send(service.attempt, what="the search")
    assert raised.value.retry_after_s == 3600
    assert len(service.sent_at) == 1  # not resent, though it was repeatable
    assert time.sleeps == []

    time.now += 3599
    with pytest.raises(RateLimited, match="circuit open") as again:
        await g.send(service.attempt, what="the search")
    assert again.value.retry_after_s == pytest.approx(1)
    time.now += 1
    assert await g.send(service.attempt, what="the search") == "never"


async def test_a_circuit_opened_by_rate_limits_waits_until_a_failure_reopens_it() -> None:
    time = FakeTime()
    breaker = CircuitBreaker(failure_threshold=2, reset_after_s=30)
    g = guard(time, breaker=breaker, max_retries=10, base_s=0.5, cap_s=0.5)

    # 429s: the service is up and asked us to wait, so the open circuit is a rate limit too.
    with pytest.raises(RateLimited, match=r"^crm circuit open until its rate limit lifts"):
        await g.send(Service(time, throttled(), throttled()).attempt, what="the search")
    with pytest.raises(RateLimited, match=r"\(last: crm rate limit\)$"):
        await g.send(Service(time).attempt, what="the search")

    # The trial meets a refused connection: from now on the open circuit is a failure.
    time.now += 30
    refused = Service(time, ConnectionRefusedError())
    with pytest.raises(TransientFailure, match="connection refused") as raised:
        await g.send(refused.attempt, what="the search")
    assert len(refused.sent_at) == 1
    assert not isinstance(raised.value, RateLimited)
    with pytest.raises(TransientFailure, match="after repeated failures") as again:
        await g.send(Service(time).attempt, what="the search")
    assert not isinstance(again.value, RateLimited)


async def test_every_send_and_resend_waits_for_the_rate_limiter() -> None:
    time = FakeTime()
    g = guard(time, limiter=TokenBucket(rate_per_s=2, burst=1), base_s=0.01, cap_s=0.01)
    first = Service(time, "a")
    second = Service(time, busy(), "b")

    await g.send(first.attempt, what="one")
    await g.send(second.attempt, what="two")

    sent = first.sent_at + second.sent_at
    assert [t - sent[0] for t in sent] == pytest.approx([0.0, 0.5, 1.0])


async def chunks_of(*parts: bytes, consumed: list[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        consumed.append(part)
        yield part


@pytest.mark.parametrize(
    ("parts", "limit", "expected", "read"),
    [
        ((b"ab", b"cd"), 4, b"abcd", 2),
        ((), 4, b"", 0),
        ((b"ab", b"cde", b"never"), 4, None, 2),  # stops at the chunk that passes the limit
    ],
)
async def test_read_at_most_caps_the_body(
    parts: tuple[bytes, ...], limit: int, expected: bytes | None, read: int
) -> None:
    consumed: list[bytes] = []
    assert await read_at_most(chunks_of(*parts, consumed=consumed), limit) == expected
    assert len(consumed) == read


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"id": "1"}', {"id": "1"}),
        (b"[1, 2]", [1, 2]),
        (b"", None),
        (b"<html>busy</html>", None),
        (b"\xff\xfe{", None),
    ],
)
def test_json_or_none(raw: bytes, expected: object) -> None:
    assert json_or_none(raw) == expected
