"""One Salesforce org's OAuth access token, kept between syncs until it is due to expire.

Salesforce's token answer carries `issued_at` (milliseconds since the epoch, by Salesforce's
clock) but no `expires_in`: a session lasts the org's session timeout, 15 minutes to 24 hours
(2 hours unless the org changed it), and longer while in use. So a token is kept for
`expires_in` when an answer has it, otherwise for the shortest timeout an org can set, counted
from before the request was sent by the local monotonic clock (issued_at would bring in the
distance between two clocks). A session that ends sooner (revoked, or logged out) answers
401 INVALID_SESSION_ID; the client then asks for a new token once.

The token is a credential: it never appears in a repr, an exception or a log line."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

SHORTEST_SESSION_S = 15 * 60.0
# Kept out of the token's last minute: a request sent just before the expiry may arrive after.
EXPIRY_MARGIN_S = 60.0
_MAX_EXPIRES_IN_S = 24 * 3600.0


def token_lifetime_s(answer: Mapping[str, Any]) -> float:
    """How long a token from this answer may be used: its `expires_in` when it has a sensible
    one, otherwise the shortest session timeout; less the margin."""
    expires_in = answer.get("expires_in")
    lifetime = SHORTEST_SESSION_S
    if isinstance(expires_in, int | float | str) and not isinstance(expires_in, bool):
        try:
            seconds = float(expires_in)
        except ValueError:
            seconds = 0.0
        if 0 < seconds <= _MAX_EXPIRES_IN_S:
            lifetime = seconds
    return max(0.0, lifetime - EXPIRY_MARGIN_S)


Fetch = Callable[[], Awaitable[tuple[str, float]]]  # a new token and its lifetime in seconds


class SalesforceTokenCache:
    """Shared by every gateway of one tenant's org (the composition root keeps one per tenant),
    so concurrent and successive syncs ask Salesforce for a token once, and requests rejected
    together share one refresh."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic):
        self._monotonic = monotonic
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"SalesforceTokenCache(held={self._token is not None})"

    async def current(self, fetch: Fetch) -> str:
        """The token held, or a new one when none is held or it is due to expire."""
        async with self._lock:
            if self._token is None or self._monotonic() >= self._expires_at:
                await self._renew(fetch)
            assert self._token is not None
            return self._token

    async def refresh(self, rejected: str, fetch: Fetch) -> str:
        """A new token after Salesforce rejected `rejected`; when another request already
        replaced that token, the replacement."""
        async with self._lock:
            if self._token in (None, rejected):
                await self._renew(fetch)
            assert self._token is not None
            return self._token

    async def _renew(self, fetch: Fetch) -> None:
        self._token = None
        asked_at = self._monotonic()
        token, lifetime_s = await fetch()
        self._token, self._expires_at = token, asked_at + lifetime_s
