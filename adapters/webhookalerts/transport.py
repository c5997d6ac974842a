"""One POST to an alert destination, through the SSRF guard.

The URL is approved first (scheme, host, every address it resolves to; the guard is given by
the composition root: the recordings' guard) and the connection then goes to exactly the
approved addresses, through the resolver the approval pinned them in, so a second DNS answer
cannot send it elsewhere. Redirects are not followed. Errors name the destination as
scheme://host[:port] only: a Slack webhook's path is its credential."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import aiohttp
from aiohttp.abc import AbstractResolver

from domain.errors import PermanentFailure, RateLimited, TransientFailure
from domain.resilience import retry_after_s

_NETWORK_ERRORS = (aiohttp.ClientError, OSError)


@dataclass(frozen=True)
class ApprovedUrl:
    url: str  # rebuilt from its checked parts
    shown: str  # scheme://host[:port]: what errors and logs may say
    resolver: AbstractResolver  # answers with the approved addresses only, for the URL's host


class UrlApprover(Protocol):
    async def approve(self, url: str, timeout_s: float) -> ApprovedUrl:
        """Raises PermanentFailure for a URL that may not be used (the message without its
        path), TransientFailure when its host cannot be resolved now."""
        ...


@dataclass(frozen=True)
class Reply:
    status: int
    text: str  # the first 200 characters of the body
    shown: str  # the destination as scheme://host[:port]: all an error may say of it
    retry_after_s: float | None = None

    def raise_for_status(self, what: str = "") -> None:
        """2xx is delivered. 429 waits as told, 408 and 5xx are retried, anything else (a
        redirect, another 4xx) is permanent: sending it again would be refused again. `what`
        is the error's message ("<shown> answered <status>" unless given)."""
        if 200 <= self.status < 300:
            return
        what = what or f"{self.shown} answered {self.status}"
        if self.status == 429:
            raise RateLimited(what, self.retry_after_s)
        if self.status == 408 or self.status >= 500:
            raise TransientFailure(what, self.retry_after_s)
        raise PermanentFailure(what)


def _retry_after(value: str | None) -> float | None:
    return retry_after_s(value, datetime.now(UTC))


class GuardedPoster:
    def __init__(
        self, approver: UrlApprover, timeout_s: float = 10.0, connect_timeout_s: float = 5.0
    ):
        self._approver = approver
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, connect=connect_timeout_s)
        self._connect_timeout_s = connect_timeout_s

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Reply:
        """The receiver's answer, whatever its status; TransientFailure when none came."""
        approved = await self._approver.approve(url, self._connect_timeout_s)
        connector = aiohttp.TCPConnector(resolver=approved.resolver, use_dns_cache=False)
        try:
            async with (
                aiohttp.ClientSession(connector=connector, timeout=self._timeout) as session,
                session.post(
                    approved.url, data=body, headers=dict(headers), allow_redirects=False
                ) as response,
            ):
                text = (await response.content.read(200)).decode("utf-8", "replace")
                retry = _retry_after(response.headers.get("Retry-After"))
                return Reply(response.status, text, approved.shown, retry)
        except TimeoutError:
            raise TransientFailure(f"{approved.shown} did not answer in time") from None
        except _NETWORK_ERRORS as exc:
            raise TransientFailure(f"{approved.shown}: {type(exc).__name__}") from None
