"""Throttling policies for calls to rate-limited services: a token bucket, a circuit breaker and
the backoff schedule. Pure: the caller passes the time (a monotonic clock reading, in seconds)
and the jitter, so the adapters own the clock and the randomness and tests own both."""

from __future__ import annotations

from enum import StrEnum


class TokenBucket:
    """At most `burst` requests at once and `rate_per_s` on average: in any window of W seconds
    no more than burst + rate_per_s * W requests are let through.

    Implemented as the generic cell rate algorithm: `reserve` books the next free slot and says
    how long the caller has to wait for it, so concurrent callers queue in arrival order instead
    of polling."""

    def __init__(self, rate_per_s: float, burst: int = 1):
        if not rate_per_s > 0:
            raise ValueError("rate_per_s must be positive")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate_per_s = float(rate_per_s)
        self.burst = burst
        self._interval = 1.0 / self.rate_per_s
        self._tolerance = (burst - 1) * self._interval
        self._theoretical_arrival: float | None = None
        self._last_now: float | None = None

    @classmethod
    def one_share(cls, rate_per_s: float, burst: int, shares: int) -> TokenBucket:
        """One of `shares` equal parts of a budget that as many processes spend without
        talking to each other: rate_per_s / shares, and burst // shares (at least 1). Together
        the shares let through at most max(burst, shares) + rate_per_s * W requests in any
        window of W seconds, however the requests fall among them."""
        if shares < 1:
            raise ValueError("shares must be at least 1")
        return cls(rate_per_s / shares, max(1, burst // shares))

    def reserve(self, now_monotonic_s: float) -> float:
        """Books one request; the seconds to wait before sending it (0 when it may go now)."""
        # A reading earlier than the last one (a caller's stale value) counts as the last one,
        # so a clock going backwards can never hand out extra slots.
        now = now_monotonic_s if self._last_now is None else max(now_monotonic_s, self._last_now)
        self._last_now = now
        arrival = now if self._theoretical_arrival is None else self._theoretical_arrival
        arrival = max(arrival, now)
        send_at = max(now, arrival - self._tolerance)
        self._theoretical_arrival = arrival + self._interval
        return send_at - now


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class CircuitBreaker:
    """Closed: requests go. After `failure_threshold` consecutive failures: open, nothing goes
    for `reset_after_s`. Then half-open: exactly one trial request goes; its success closes the
    circuit, its failure opens it again. A trial that never reports (its caller was cancelled)
    is given up after another `reset_after_s`, so the breaker cannot stay stuck half-open.

    It also remembers what the latest failure was, for the refusals it makes while open:
    `rate_limited` (the service answered "wait", a 429) or not (no answer, a 5xx), and its
    `cause` (a message fit to show)."""

    def __init__(self, failure_threshold: int = 5, reset_after_s: float = 30.0):
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if reset_after_s < 0:
            raise ValueError("reset_after_s must not be negative")
        self.failure_threshold = failure_threshold
        self.reset_after_s = float(reset_after_s)
        self._failures = 0
        self._opened_at: float | None = None
        self._open_for_s = self.reset_after_s
        self._trial_started_at: float | None = None
        self.rate_limited = False
        self.cause: str | None = None

    def state(self, now: float) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._trial_started_at is not None or now - self._opened_at >= self._open_for_s:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def allow(self, now: float) -> bool:
        """Whether a request may go now; in half-open state, True once for the one trial."""
        state = self.state(now)
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.OPEN:
            return False
        trial = self._trial_started_at
        if trial is None or now - trial >= self.reset_after_s:
            self._trial_started_at = now
            return True
        return False

    def retry_after_s(self, now: float) -> float:
        """Seconds until a request may be allowed again (0 when one may go now)."""
        if self._opened_at is None:
            return 0.0
        if self._trial_started_at is not None:
            return max(0.0, self._trial_started_at + self.reset_after_s - now)
        return max(0.0, self._opened_at + self._open_for_s - now)

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._open_for_s = self.reset_after_s
        self._trial_started_at = None
        self.rate_limited = False
        self.cause = None

    def open_for(self, now: float, seconds: float, cause: str | None = None) -> None:
        """Opens the circuit for as long as the service said it will refuse (a daily quota
        spent), whatever the failure count: a rate limit."""
        self._opened_at = now
        self._open_for_s = max(0.0, seconds)
        self._trial_started_at = None
        self.rate_limited = True
        self.cause = cause

    def record_failure(
        self, now: float, *, rate_limited: bool = False, cause: str | None = None
    ) -> None:
        """`rate_limited`: the service asked us to wait (a 429) rather than failing."""
        self.rate_limited = rate_limited
        self.cause = cause
        if self._opened_at is not None:
            # A failed trial, or a request let through before the circuit opened: stay open,
            # and start the wait again from now.
            self._opened_at = now
            self._open_for_s = self.reset_after_s
            self._trial_started_at = None
            return
        self._failures += 1
        if self._failures >= self.failure_threshold:
            self._opened_at = now


def backoff_s(attempt: int, base_s: float, cap_s: float, jitter: float) -> float:
    """The wait before retry number `attempt` (1, 2, ...): exponential from `base_s`, capped at
    `cap_s`, of which the upper half is scaled by `jitter` (a number in [0, 1]) so that
    clients failing together do not retry together."""
    if attempt < 1:
        raise ValueError("attempt counts from 1")
    if not 0.0 <= jitter <= 1.0:
        raise ValueError("jitter must be in [0, 1]")
    ceiling = min(cap_s, base_s * 2.0 ** min(attempt - 1, 62))
    return ceiling / 2 + ceiling / 2 * jitter
