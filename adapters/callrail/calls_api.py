"""CallRail's call list (API v3): `GET /v3/a/{account_id}/calls.json`, page by page, with the
tenant's API key.

CallRail allows 1,000 requests an hour and 10,000 a day per account, and past either answers 429
with no Retry-After. A token bucket per account keeps this client well under the hourly limit,
leaving room for the recording downloads that spend the same key's budget. A 429 all the same
(another user of the key) is raised as RateLimited at once, and the account's circuit stays open
for as long, so the caller comes back later instead of spending requests on refusals.

The key goes into the Authorization header and nowhere else: messages name the account, the
status and CallRail's own error text with the key scrubbed out."""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp

from domain.errors import PermanentFailure, RateLimited, SecretNotFound, TransientFailure
from domain.resilience import (
    Failed,
    RequestGuard,
    ResendPolicy,
    json_or_none,
    read_at_most,
    retry_after_s,
)
from domain.tenant import SecretRef, Tenant
from domain.throttle import CircuitBreaker, TokenBucket
from ports.callrail import CallListPage, CallRailCalls
from ports.secrets import SecretStore

DEFAULT_API_BASE = "https://api.callrail.com"
MAX_PER_PAGE = 250
# At most BURST + RATE_PER_S * 3600 = 740 requests in any hour, of CallRail's 1,000.
RATE_PER_S = 0.2
BURST = 20
# CallRail says nothing of when its limit resets: long enough for an hourly window to move on.
RATE_LIMIT_WAIT_S = 300.0
# A page is worth a second try after a timeout or a 5xx: reading it again changes nothing.
RESEND = ResendPolicy(max_retries=2, base_s=1.0, cap_s=30.0)
MAX_BODY_BYTES = 8 * 1024 * 1024
MAX_MESSAGE_CHARS = 200
# Beyond the list's default fields, all that the intake's parser reads.
FIELDS = (
    "answered",
    "business_phone_number",
    "company_id",
    "customer_name",
    "customer_phone_number",
    "direction",
    "duration",
    "first_call",
    "landing_page_url",
    "recording",
    "source",
    "start_time",
    "tracking_phone_number",
    "voicemail",
)
_HEADER_SAFE = re.compile(r'^[^"\\\x00-\x1f\x7f]+$')
_API_RECORDING = re.compile(r"^/v3/a/[^/]+/calls/[^/]+/recording\.json$")
_log = logging.getLogger("adapters.callrail")


class CallRailCallsApi(CallRailCalls):
    def __init__(
        self,
        secrets: SecretStore,
        api_base: str = DEFAULT_API_BASE,
        *,
        per_page: int = MAX_PER_PAGE,
        rate_per_s: float = RATE_PER_S,
        burst: int = BURST,
        rate_limit_wait_s: float = RATE_LIMIT_WAIT_S,
        timeout_s: float = 30.0,
        retry: ResendPolicy = RESEND,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ):
        """The API base is the operator's setting, trusted like the recording source's."""
        if not 1 <= per_page <= MAX_PER_PAGE:
            raise ValueError(f"per_page must be from 1 to {MAX_PER_PAGE}")
        self._secrets = secrets
        self._api_base = api_base.rstrip("/")
        self._per_page = per_page
        self._bucket = (rate_per_s, burst)
        self._rate_limit_wait_s = rate_limit_wait_s
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, sock_connect=min(10.0, timeout_s))
        self._retry = retry
        self._monotonic = monotonic
        self._sleep = sleep
        self._guards: dict[str, RequestGuard] = {}  # one budget per CallRail account

    async def list_calls(
        self, tenant: Tenant, since: datetime, page_token: str | None
    ) -> CallListPage:
        account = tenant.config.callrail_account_id
        if not account:
            raise PermanentFailure(f"tenant {tenant.tenant_id} has no CallRail account id")
        key = await self._api_key(tenant)
        page = _page_number(page_token)
        what = f"the call list of account {account}"
        url = f"{self._api_base}/v3/a/{quote(account, safe='')}/calls.json"
        params = {
            # In UTC with a Z: a "+" in a query string may be read back as a space.
            "start_date": since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "company_id": tenant.config.callrail_company_id,
            "sorting": "start_time",
            "order": "asc",  # new calls join the end: the pages already read do not shift
            "page": str(page),
            "per_page": str(self._per_page),
            "fields": ",".join(FIELDS),
        }
        headers = {"Authorization": f'Token token="{key}"', "Accept": "application/json"}

        async with aiohttp.ClientSession(timeout=self._timeout) as session:

            async def attempt() -> Mapping[str, Any] | Failed:
                async with session.get(
                    url, params=params, headers=headers, allow_redirects=False
                ) as response:
                    chunks = response.content.iter_chunked(64 * 1024)
                    raw = await read_at_most(chunks, MAX_BODY_BYTES)
                    if raw is None:
                        raise PermanentFailure(f"CallRail answered {what} with an oversized body")
                    return self._read(what, key, response.status, response.headers, raw)

            document = await self._guard(account).send(
                attempt,
                what=what,
                on_resend=lambda resend: _log.warning("callrail %s: %s", what, resend),
            )
        return _page(document, page, what)

    def _read(
        self, what: str, key: str, status: int, headers: Mapping[str, str], raw: bytes
    ) -> Mapping[str, Any] | Failed:
        """CallRail's answer: the document, a failure to wait out, or a refusal (raised)."""
        if status == 200:
            try:
                document = json_or_none(raw)
            except RecursionError:
                document = None
            if not isinstance(document, Mapping):
                raise _unexpected(what, "not a JSON object")
            return document
        if status == 429:
            wait = _retry_after(headers) or self._rate_limit_wait_s
            error = RateLimited(
                f"CallRail's API limit is spent for {what} (HTTP 429); try again in {wait:.0f} s",
                retry_after_s=wait,
            )
            return Failed(error, closed_for_s=wait)
        if status == 408 or status >= 500:
            hint = _retry_after(headers)
            return Failed(
                TransientFailure(f"CallRail answered HTTP {status} to {what}", hint), hint
            )
        if status in (401, 403):
            raise PermanentFailure(f"CallRail refused the API key for {what} (HTTP {status})")
        raise PermanentFailure(f"CallRail refused {what} (HTTP {status}){_detail(raw, key)}")

    async def _api_key(self, tenant: Tenant) -> str:
        secret = tenant.config.callrail_api_key
        if secret is None:
            raise PermanentFailure(f"tenant {tenant.tenant_id} has no CallRail API key")
        try:
            key = (
                await self._secrets.resolve(secret.name)
                if isinstance(secret, SecretRef)
                else secret.value
            )
        except SecretNotFound as exc:
            raise PermanentFailure(f"the CallRail API key: {exc}") from None
        if not _HEADER_SAFE.match(key):
            raise PermanentFailure("the CallRail API key has characters a header cannot carry")
        return key

    def _guard(self, account: str) -> RequestGuard:
        guard = self._guards.get(account)
        if guard is None:
            rate, burst = self._bucket
            guard = self._guards[account] = RequestGuard(
                service="callrail",
                limiter=TokenBucket(rate, burst),
                breaker=CircuitBreaker(),
                monotonic=self._monotonic,
                sleep=self._sleep,
                jitter=random.random,  # spreads retries, not a secret
                policy=self._retry,
                unanswered=(aiohttp.ClientError, TimeoutError),
            )
        return guard


def _page_number(token: str | None) -> int:
    if token is None:
        return 1
    if not token.isdigit() or not 1 <= int(token) <= 1_000_000:
        raise PermanentFailure("not a page token of CallRail's call list")
    return int(token)


def _page(document: Mapping[str, Any], requested: int, what: str) -> CallListPage:
    """The answer checked before use: the calls a list of objects, the paging whole numbers."""
    calls = document.get("calls")
    if not isinstance(calls, list) or not all(isinstance(c, Mapping) for c in calls):
        raise _unexpected(what, "calls is not a list of objects")
    page, total = document.get("page"), document.get("total_pages")
    if not _whole(page) or not _whole(total):
        raise _unexpected(what, "page and total_pages are not whole numbers")
    if page != requested:
        raise _unexpected(what, f"page {page} came for page {requested}")
    next_token = str(page + 1) if page < total else None
    return CallListPage(
        tuple(_recording_link_set_aside(c) for c in calls), next_token, page=page, total_pages=total
    )


def _recording_link_set_aside(call: Mapping[str, Any]) -> Mapping[str, Any]:
    """The list's `recording` is an API link (recording.json: it wants the key and answers
    JSON), not the link to the audio that a webhook's `recording` is. It is kept under
    `recording_api_url`, so the recording source asks the API for the audio's URL instead of
    fetching this one as if it were audio."""
    link = call.get("recording")
    if not isinstance(link, str) or not _API_RECORDING.match(urlsplit(link).path):
        return call
    moved = {k: v for k, v in call.items() if k != "recording"}
    moved["recording_api_url"] = link
    return moved


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _retry_after(headers: Mapping[str, str]) -> float | None:
    return retry_after_s(headers.get("Retry-After"), datetime.now(UTC)) or None  # 0: no hint


def _detail(raw: bytes, key: str) -> str:
    try:
        body = json_or_none(raw)
    except RecursionError:
        body = None
    message = body.get("error") if isinstance(body, Mapping) else None
    if not isinstance(message, str) or not message.strip():
        return ""
    shown = "".join(c if c.isprintable() else " " for c in message.replace(key, "***"))
    return ": " + shown.strip()[:MAX_MESSAGE_CHARS]


def _unexpected(what: str, why: str) -> PermanentFailure:
    return PermanentFailure(f"CallRail answered {what} with an unexpected document: {why}")
