"""HubSpot's HTTP conversation: bearer token, timeout, rate limiter, circuit breaker, bounded
retries, and HubSpot's answers mapped to the port's TransientFailure / PermanentFailure.

The token never appears in an exception or a log line: messages name the operation, the status
and HubSpot's own `message` (with the token scrubbed out should HubSpot ever echo it)."""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Awaitable, Callable, Collection, Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import aiohttp
import attrs

from domain.errors import PermanentFailure, RateLimited, TransientFailure
from domain.resilience import (
    Failed,
    RequestGuard,
    ResendPolicy,
    json_or_none,
    read_at_most,
    retry_after_s,
)
from domain.throttle import CircuitBreaker, TokenBucket

MAX_BODY_BYTES = 2 * 1024 * 1024
MAX_MESSAGE_CHARS = 300
HUBSPOT_ID = re.compile(r"^[0-9]{1,30}$")
_log = logging.getLogger("adapters.hubspot")


@attrs.frozen
class Reply:
    status: int
    body: Any  # parsed JSON; None when empty or not JSON


class HubSpotHttp:
    def __init__(
        self,
        *,
        base_url: str,
        token: str,
        session: aiohttp.ClientSession,
        limiter: TokenBucket,
        breaker: CircuitBreaker,
        monotonic: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        timeout_s: float,
        retry: ResendPolicy,
        now_utc: Callable[[], datetime],
        daily_reset_zone: str,
    ):
        self._base_url = base_url.rstrip("/")
        self._token = token
        self._session = session
        self._guard = RequestGuard(
            service="hubspot",
            limiter=limiter,
            breaker=breaker,
            monotonic=monotonic,
            sleep=sleep,
            jitter=random.random,  # spreads retries, not a secret
            policy=retry,
            unanswered=(aiohttp.ClientError, TimeoutError),
        )
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._now_utc = now_utc
        self._zone_name = daily_reset_zone
        self.requests_sent = 0

    async def call(
        self,
        method: str,
        path: str,
        what: str,
        body: Mapping[str, Any] | None = None,
        *,
        params: Mapping[str, str] | None = None,
        repeatable: bool = True,
        accept: Collection[int] = (),
    ) -> Reply:
        """One logical request. `repeatable=False` (a create) is not re-sent after a timeout or a
        5xx, whose outcome is unknown: the caller's idempotency lookup settles it next time.
        A 429 is always re-sent: HubSpot refused it before doing anything."""

        async def attempt() -> Reply | Failed:
            status, headers, payload = await self._send(method, path, what, body, params)
            return self._read(what, status, headers, payload, accept)

        return await self._guard.send(
            attempt,
            what=what,
            repeatable=repeatable,
            on_resend=lambda resend: _log.warning("hubspot %s %s: %s", method, path, resend),
        )

    def _read(
        self,
        what: str,
        status: int,
        headers: Mapping[str, str],
        payload: Any,
        accept: Collection[int],
    ) -> Reply | Failed:
        """HubSpot's answer: the reply, a failure worth waiting out, or a refusal (raised)."""
        if status == 429:
            policy = _text(payload, "policyName") or "unknown"
            if policy == "DAILY":
                # Every request until the reset would be refused: fail fast until then.
                until_reset = self._until_daily_reset()
                error = RateLimited(
                    "hubspot daily API limit reached; waiting for its reset at midnight "
                    f"({self._zone_name})",
                    retry_after_s=until_reset,
                )
                return Failed(error, closed_for_s=until_reset)
            hint = _rate_limit_hint(headers)
            error = RateLimited(f"hubspot rate limit ({policy}) on {what}", hint)
            return Failed(error, hint, refused_unprocessed=True)
        if status >= 500:
            hint = retry_after_s(headers.get("Retry-After"), datetime.now(UTC))
            return Failed(TransientFailure(f"hubspot answered {status} to {what}", hint), hint)
        if 200 <= status < 300 or status in accept:
            return Reply(status, payload)
        if status == 401:
            raise PermanentFailure("hubspot rejected the token")
        raise self.refusal(what, Reply(status, payload))

    def refusal(self, what: str, reply: Reply) -> PermanentFailure:
        """HubSpot said no: the status and its own message, scrubbed and cut short."""
        message = self._message(reply.body)
        detail = f": {message}" if message else ""
        return PermanentFailure(f"hubspot refused {what} ({reply.status}){detail}")

    async def _send(
        self,
        method: str,
        path: str,
        what: str,
        body: Mapping[str, Any] | None,
        params: Mapping[str, str] | None,
    ) -> tuple[int, Mapping[str, str], Any]:
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        self.requests_sent += 1
        async with self._session.request(
            method,
            self._base_url + path,
            json=body,
            params=params,
            headers=headers,
            timeout=self._timeout,
            allow_redirects=False,
        ) as response:
            raw = await read_at_most(response.content.iter_chunked(64 * 1024), MAX_BODY_BYTES)
            if raw is None:
                raise unexpected(what)
            return response.status, response.headers, json_or_none(raw)

    def _message(self, payload: Any) -> str | None:
        message = _text(payload, "message")
        if message is None:
            return None
        return message.replace(self._token, "***")[:MAX_MESSAGE_CHARS]

    def _until_daily_reset(self) -> float:
        """HubSpot resets the daily limit at midnight in the account's time zone (a tenant
        setting; UTC when unset or unknown)."""
        try:
            zone: tzinfo = ZoneInfo(self._zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            zone = UTC
        now = self._now_utc().astimezone(zone)
        midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), zone)
        return max(1.0, (midnight - now).total_seconds())


def _text(payload: Any, field: str) -> str | None:
    value = payload.get(field) if isinstance(payload, Mapping) else None
    return value if isinstance(value, str) else None


def _seconds(value: str | None) -> float | None:
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and 0 <= seconds < 86400 else None


def _rate_limit_hint(headers: Mapping[str, str]) -> float | None:
    """Retry-After when HubSpot sends it; otherwise the rolling window's length, the longest a
    TEN_SECONDLY_ROLLING refusal can last."""
    retry_after = retry_after_s(headers.get("Retry-After"), datetime.now(UTC))
    if retry_after is not None:
        return retry_after
    interval_ms = _seconds(headers.get("X-HubSpot-RateLimit-Interval-Milliseconds"))
    return interval_ms / 1000 if interval_ms is not None else None


# --- answers, checked before use ---------------------------------------------------------


def field_of(body: Any, key: str) -> Any:
    return body.get(key) if isinstance(body, Mapping) else None


def text_or_empty(value: Any) -> str:
    return value if isinstance(value, str) else ""


def unexpected(what: str) -> PermanentFailure:
    return PermanentFailure(f"hubspot returned an unexpected response to {what}")


def object_id(body: Any, what: str) -> str:
    value = field_of(body, "id")
    if not isinstance(value, str) or not HUBSPOT_ID.match(value):
        raise unexpected(what)
    return value


def search_results(reply: Reply, what: str) -> list[tuple[str, Mapping[str, Any]]]:
    """A search answer's (id, properties) pairs, each checked."""
    results = field_of(reply.body, "results")
    if not isinstance(results, list):
        raise unexpected(what)
    checked = []
    for item in results:
        properties = field_of(item, "properties")
        if not isinstance(properties, Mapping):
            raise unexpected(what)
        checked.append((object_id(item, what), properties))
    return checked


def first_associated(body: Any) -> str | None:
    contacts = field_of(field_of(field_of(body, "associations"), "contacts"), "results")
    if not isinstance(contacts, list):
        return None
    ids = [
        c["id"]
        for c in contacts
        if isinstance(field_of(c, "id"), str) and HUBSPOT_ID.match(c["id"])
    ]
    return min(ids, key=int) if ids else None
