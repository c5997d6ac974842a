"""One request to a rate-limited, sometimes failing service: ask the circuit breaker, wait for the
rate limiter, make the attempt, record how it went, and send it again a bounded number of times
with backoff.

Pure orchestration. The adapter passes in the attempt (its own I/O and its own reading of the
vendor's answer), the sleep, a monotonic clock, a jitter source and the exception types its
driver raises when no answer came, so the adapter owns the network, the clock and the
randomness, and a test can drive all of them. The helpers at the end read an answer's body
defensively: capped in size, JSON or nothing."""

from __future__ import annotations

import errno
import json
import math
from collections.abc import AsyncIterable, Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import attrs

from domain.errors import PermanentFailure, RateLimited, TransientFailure
from domain.throttle import CircuitBreaker, TokenBucket, backoff_s

T = TypeVar("T")


@attrs.frozen
class ResendPolicy:
    """How many times one request is sent again, and the backoff between (base and cap, s)."""

    max_retries: int = 3
    base_s: float = 0.5
    cap_s: float = 10.0


@attrs.frozen
class Failed:
    """An attempt the service did not answer usefully: a timeout, a 5xx, a rate limit.

    `hint_s`: the service's own wait hint; the backoff waits at least that long, up to its cap.
    `refused_unprocessed`: refused before any work was done (a 429), so sending it again is
    safe even for a request that is not repeatable (a create).
    `closed_for_s`: the service will refuse everything for this long (a daily quota spent): the
    circuit opens for that long and the error is raised at once, without a retry."""

    error: TransientFailure
    hint_s: float | None = None
    refused_unprocessed: bool = False
    closed_for_s: float | None = None


@attrs.frozen
class Resend:
    """The guard is about to send a failed request again (what an adapter logs)."""

    error: TransientFailure
    number: int  # 1 for the first resend
    of: int  # the policy's max_retries
    delay_s: float

    def __str__(self) -> str:
        return f"{self.error}; retry {self.number} of {self.of} in {self.delay_s:.2f}s"


class RequestGuard:
    """The circuit breaker, the rate limiter and the retries around every request to one
    service (one tenant's CRM, say). The breaker and the limiter are shared by whoever shares
    the guard's service budget; the guard keeps no state of its own."""

    def __init__(
        self,
        *,
        service: str,
        limiter: TokenBucket,
        breaker: CircuitBreaker,
        monotonic: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        jitter: Callable[[], float],
        policy: ResendPolicy,
        unanswered: tuple[type[BaseException], ...],
    ):
        """`unanswered`: what the driver raises when no answer came (a timeout, a connection
        lost): the request's outcome is unknown."""
        self._service = service
        self._limiter = limiter
        self._breaker = breaker
        self._monotonic = monotonic
        self._sleep = sleep
        self._jitter = jitter  # a number in [0, 1] per resend
        self._policy = policy
        self._unanswered = unanswered

    async def send(
        self,
        attempt: Callable[[], Awaitable[T | Failed]],
        *,
        what: str,
        repeatable: bool = True,
        on_resend: Callable[[Resend], None] | None = None,
    ) -> T:
        """`attempt` does the I/O once and reads the answer: it returns the result, returns
        Failed, or raises PermanentFailure (the service answered, and said no). `what` names
        the request in messages.

        A request that is not `repeatable` (a create) is not sent again after a failure whose
        outcome is unknown (no answer, a 5xx), only after one refused unprocessed."""
        resends = 0
        while True:
            outcome = await self._attempt(attempt, what)
            if not isinstance(outcome, Failed):
                return outcome
            resends += 1
            safe = repeatable or outcome.refused_unprocessed
            if not safe or resends > self._policy.max_retries:
                raise outcome.error
            policy = self._policy
            delay = backoff_s(resends, policy.base_s, policy.cap_s, self._jitter())
            if outcome.hint_s is not None:
                delay = max(delay, min(outcome.hint_s, policy.cap_s))
            if on_resend is not None:
                on_resend(Resend(outcome.error, resends, policy.max_retries, delay))
            await self._sleep(delay)

    async def _attempt(self, attempt: Callable[[], Awaitable[T | Failed]], what: str) -> T | Failed:
        now = self._monotonic()
        if not self._breaker.allow(now):
            raise self._circuit_open(now)
        wait = self._limiter.reserve(self._monotonic())
        if wait > 0:
            await self._sleep(wait)
        try:
            outcome = await attempt()
        except PermanentFailure:
            # A refusal is an answer: the service is up, whatever it thought of the request.
            self._breaker.record_success()
            raise
        except self._unanswered as exc:
            # No answer is a failure, never a rate limit, however often it happens.
            outcome = Failed(TransientFailure(f"{self._service} {what}: {unanswered_reason(exc)}"))
        if isinstance(outcome, Failed):
            error = outcome.error
            self._breaker.record_failure(
                self._monotonic(), rate_limited=isinstance(error, RateLimited), cause=str(error)
            )
            if outcome.closed_for_s is not None:
                self._breaker.open_for(self._monotonic(), outcome.closed_for_s, str(error))
                raise error
            return outcome
        self._breaker.record_success()
        return outcome

    def _circuit_open(self, now: float) -> TransientFailure:
        """The refusal while the circuit is open. It is a rate limit (a wait that spends no
        attempt) only when the service itself asked us to wait; after failures (refused
        connections, timeouts, 5xx) it is a transient failure, which spends attempts."""
        wait = self._breaker.retry_after_s(now)
        cause = self._breaker.cause
        last = f" (last: {cause})" if cause else ""
        if self._breaker.rate_limited:
            return RateLimited(
                f"{self._service} circuit open until its rate limit lifts{last}", wait
            )
        return TransientFailure(f"{self._service} circuit open after repeated failures{last}", wait)


_UNANSWERED = (
    (ConnectionRefusedError, errno.ECONNREFUSED, "connection refused"),
    (ConnectionResetError, errno.ECONNRESET, "connection reset"),
    (ConnectionAbortedError, errno.ECONNABORTED, "connection aborted"),
)


MAX_RETRY_AFTER_S = 86400.0  # a service that asks for more is asked again after a day


def retry_after_s(value: str | None, now: datetime, unit_s: float = 1.0) -> float | None:
    """The wait a Retry-After header asks for, in seconds: delta-seconds (a decimal read too;
    `unit_s` 0.001 for a header in milliseconds) or an HTTP date, counted from `now`. None when
    absent or unreadable (NaN, infinite, negative, anything else); never more than a day."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        seconds = float(text) * unit_s
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = max(0.0, (when - now).total_seconds())
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return min(seconds, MAX_RETRY_AFTER_S)


def unanswered_reason(exc: BaseException) -> str:
    """Why no answer came, in a few words and the driver's error type; never the driver's
    message, which may hold a URL."""
    if isinstance(exc, TimeoutError):
        return "timed out"
    kind = type(exc).__name__
    number = getattr(exc, "errno", None)
    for cls, code, reason in _UNANSWERED:
        if isinstance(exc, cls) or number == code:
            return f"{reason} ({kind})"
    return kind


async def read_at_most(chunks: AsyncIterable[bytes], max_bytes: int) -> bytes | None:
    """The whole body, or None as soon as it grows past `max_bytes` (the rest is not read)."""
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > max_bytes:
            return None
    return bytes(body)


def json_or_none(raw: bytes) -> Any:
    """The parsed JSON; None for an empty body or one that is not JSON."""
    try:
        return json.loads(raw)
    except ValueError:  # not JSON, or not UTF-8 text
        return None
