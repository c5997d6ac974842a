"""Token bucket, circuit breaker and backoff: pure policies, driven with explicit times."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.throttle import BreakerState, CircuitBreaker, TokenBucket, backoff_s


def schedule(bucket: TokenBucket, arrivals: list[float]) -> list[float]:
    """The time each request is sent: its arrival plus the wait the bucket asks for."""
    return [t + bucket.reserve(t) for t in arrivals]


@pytest.mark.parametrize(
    ("rate", "burst", "arrivals", "expected_sends"),
    [
        # A burst goes at once, the rest one interval apart.
        (10.0, 3, [0, 0, 0, 0, 0], [0, 0, 0, 0.1, 0.2]),
        # No burst: strictly one per interval.
        (2.0, 1, [0, 0, 0], [0, 0.5, 1.0]),
        # Spaced arrivals never wait.
        (1.0, 1, [0, 1, 2, 3], [0, 1, 2, 3]),
        # Idle time refills the burst, but never beyond it.
        (1.0, 2, [0, 0, 10, 10, 10], [0, 0, 10, 10, 11]),
        # Reservations queue: a later arrival waits behind earlier bookings.
        (1.0, 1, [0, 0, 0.5], [0, 1, 2]),
    ],
)
def test_token_bucket_schedules(
    rate: float, burst: int, arrivals: list[float], expected_sends: list[float]
) -> None:
    sends = schedule(TokenBucket(rate, burst), [float(t) for t in arrivals])
    assert sends == pytest.approx(expected_sends)


def test_token_bucket_ignores_a_clock_going_backwards() -> None:
    bucket = TokenBucket(1.0, 1)
    assert bucket.reserve(100.0) == 0
    # A stale reading cannot create a slot in the past.
    assert 100.0 + bucket.reserve(50.0) == pytest.approx(101.0)


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (1, 0)])
def test_token_bucket_rejects_nonsense(rate: float, burst: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        TokenBucket(rate, burst)


@settings(max_examples=300, deadline=None)
@given(
    rate=st.floats(min_value=0.5, max_value=200),
    burst=st.integers(min_value=1, max_value=20),
    gaps=st.lists(st.floats(min_value=0, max_value=2), min_size=1, max_size=60),
)
def test_no_window_admits_more_than_burst_plus_rate_times_its_length(
    rate: float, burst: int, gaps: list[float]
) -> None:
    arrivals = list(itertools.accumulate(gaps))
    sends = sorted(schedule(TokenBucket(rate, burst), arrivals))
    for i, j in itertools.combinations_with_replacement(range(len(sends)), 2):
        window = sends[j] - sends[i]
        assert j - i + 1 <= burst + rate * window + 1e-6


@settings(max_examples=300, deadline=None)
@given(
    rate=st.floats(min_value=0.5, max_value=200),
    burst=st.integers(min_value=1, max_value=20),
    arrivals=st.lists(
        st.tuples(st.integers(min_value=0, max_value=2), st.floats(min_value=0, max_value=2)),
        min_size=1,
        max_size=80,
    ),
)
def test_shares_of_a_budget_spent_apart_stay_within_the_whole_budget(
    rate: float, burst: int, arrivals: list[tuple[int, float]]
) -> None:
    """Three processes, each with its own share and no word between them: whichever process
    each request arrives at, no window admits more than max(burst, 3) + rate * its length."""
    shares = [TokenBucket.one_share(rate, burst, 3) for _ in range(3)]
    clock = 0.0
    sends = []
    for process, gap in arrivals:
        clock += gap
        sends.append(clock + shares[process].reserve(clock))
    sends.sort()
    for i, j in itertools.combinations_with_replacement(range(len(sends)), 2):
        window = sends[j] - sends[i]
        assert j - i + 1 <= max(burst, 3) + rate * window + 1e-6


def test_one_share_divides_the_rate_and_the_burst() -> None:
    share = TokenBucket.one_share(4.0, 4, 3)
    assert share.rate_per_s == pytest.approx(4 / 3)
    assert share.burst == 1
    assert TokenBucket.one_share(5.0, 5, 1).burst == 5
    with pytest.raises(ValueError, match="shares"):
        TokenBucket.one_share(4.0, 4, 0)


@settings(max_examples=200, deadline=None)
@given(
    rate=st.floats(min_value=0.5, max_value=50),
    burst=st.integers(min_value=1, max_value=10),
    gaps=st.lists(st.floats(min_value=0, max_value=2), min_size=1, max_size=40),
)
def test_nobody_waits_longer_than_the_queue_ahead_needs(
    rate: float, burst: int, gaps: list[float]
) -> None:
    """The bucket is not just safe but useful: the n-th request of a queue waits at most
    n / rate seconds, so the limit is used, not wasted."""
    bucket = TokenBucket(rate, burst)
    for n, t in enumerate(itertools.accumulate(gaps), start=1):
        assert bucket.reserve(t) <= n / rate + 1e-6


def test_breaker_opens_after_consecutive_failures_only() -> None:
    breaker = CircuitBreaker(failure_threshold=3, reset_after_s=30)
    breaker.record_failure(0)
    breaker.record_failure(1)
    breaker.record_success()  # the count is of consecutive failures
    breaker.record_failure(2)
    breaker.record_failure(3)
    assert breaker.allow(3)
    breaker.record_failure(4)
    assert breaker.state(4) is BreakerState.OPEN
    assert not breaker.allow(5)
    assert breaker.retry_after_s(5) == pytest.approx(29)


@pytest.mark.parametrize(
    ("trial_succeeds", "state_after", "allowed_after"),
    [(True, BreakerState.CLOSED, [True, True]), (False, BreakerState.OPEN, [False, False])],
)
def test_half_open_lets_one_trial_through(
    trial_succeeds: bool, state_after: BreakerState, allowed_after: list[bool]
) -> None:
    breaker = CircuitBreaker(failure_threshold=1, reset_after_s=10)
    breaker.record_failure(0)
    assert not breaker.allow(9.9)
    assert breaker.state(10) is BreakerState.HALF_OPEN
    assert breaker.allow(10)  # the trial
    assert not breaker.allow(10.5)  # everyone else waits for its outcome
    if trial_succeeds:
        breaker.record_success()
    else:
        breaker.record_failure(11)
    assert breaker.state(11) is state_after
    assert [breaker.allow(12), breaker.allow(13)] == allowed_after


def test_a_failed_trial_restarts_the_wait() -> None:
    breaker = CircuitBreaker(failure_threshold=1, reset_after_s=10)
    breaker.record_failure(0)
    assert breaker.allow(10)
    breaker.record_failure(11)
    assert not breaker.allow(20.9)
    assert breaker.allow(21)


def test_a_trial_that_never_reports_is_given_up() -> None:
    breaker = CircuitBreaker(failure_threshold=1, reset_after_s=10)
    breaker.record_failure(0)
    assert breaker.allow(10)
    assert not breaker.allow(19)
    assert breaker.allow(20)  # the first trial's caller vanished: another one may go


def test_a_breaker_opened_for_a_stated_time_stays_open_that_long() -> None:
    breaker = CircuitBreaker(failure_threshold=5, reset_after_s=30)
    breaker.open_for(100, 3600)  # "come back after midnight"
    assert not breaker.allow(130)
    assert breaker.retry_after_s(130) == pytest.approx(3570)
    assert breaker.allow(3700)  # then one trial, as after any opening
    breaker.record_failure(3701)
    assert not breaker.allow(3702)
    assert breaker.allow(3731)  # a failed trial waits the usual reset_after_s
    breaker.record_success()
    assert breaker.state(3732) is BreakerState.CLOSED


@pytest.mark.parametrize(
    ("attempt", "jitter", "expected"),
    [(1, 0.0, 0.5), (1, 1.0, 1.0), (2, 0.0, 1.0), (3, 0.5, 3.0), (10, 1.0, 8.0), (10, 0.0, 4.0)],
)
def test_backoff_is_exponential_capped_and_jittered(
    attempt: int, jitter: float, expected: float
) -> None:
    assert backoff_s(attempt, base_s=1.0, cap_s=8.0, jitter=jitter) == pytest.approx(expected)


@pytest.mark.parametrize(("attempt", "jitter"), [(0, 0.5), (1, -0.1), (1, 1.1)])
def test_backoff_rejects_nonsense(attempt: int, jitter: float) -> None:
    with pytest.raises(ValueError, match=r"attempt|jitter"):
        backoff_s(attempt, 1.0, 8.0, jitter)


def test_the_breaker_remembers_whether_the_latest_failure_was_a_rate_limit() -> None:
    breaker = CircuitBreaker(failure_threshold=2, reset_after_s=10)
    breaker.record_failure(0, rate_limited=True, cause="429")
    breaker.record_failure(1, cause="connection refused")
    assert breaker.state(1) is BreakerState.OPEN
    assert (breaker.rate_limited, breaker.cause) == (False, "connection refused")

    breaker.open_for(2, 3600, "daily limit")
    assert (breaker.rate_limited, breaker.cause) == (True, "daily limit")

    breaker.record_success()
    assert (breaker.rate_limited, breaker.cause) == (False, None)
