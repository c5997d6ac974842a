"""Salesforce's HTTP conversation: OAuth 2.0 client credentials with the token cached (token.py:
shared by the tenant's gateways, kept until it is due to expire), exactly one refresh on
`401 INVALID_SESSION_ID`, timeout, rate limiter, circuit breaker, bounded retries, and
Salesforce's answers (JSON arrays of {message, errorCode, fields}) mapped to the port's
TransientFailure / PermanentFailure.

Neither the access token nor the client secret appears in an exception or a log line."""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any

import aiohttp
import attrs

from adapters.salesforce.token import SalesforceTokenCache, token_lifetime_s
from domain.errors import PermanentFailure, RateLimited, TransientFailure
from domain.resilience import Failed, RequestGuard, ResendPolicy, json_or_none, read_at_most
from domain.throttle import CircuitBreaker, TokenBucket

MAX_BODY_BYTES = 2 * 1024 * 1024
MAX_MESSAGE_CHARS = 300
REJECTED = "salesforce rejected the credentials"
_REFUSED_GRANTS = {"invalid_client", "invalid_grant", "invalid_client_id", "unauthorized_client"}
_log = logging.getLogger("adapters.salesforce")


@attrs.frozen
class Reply:
    status: int
    body: Any  # parsed JSON; None when empty or not JSON


class SalesforceHttp:
    def __init__(
        self,
        *,
        instance_url: str,
        client_id: str,
        client_secret: str,
        api_version: str,
        session: aiohttp.ClientSession,
        limiter: TokenBucket,
        breaker: CircuitBreaker,
        monotonic: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        timeout_s: float,
        retry: ResendPolicy,
        tokens: SalesforceTokenCache,
    ):
        self._instance = instance_url.rstrip("/")
        self._api = f"{self._instance}/services/data/{api_version}"
        self._client_id = client_id
        self._client_secret = client_secret
        self._session = session
        self._guard = RequestGuard(
            service="salesforce",
            limiter=limiter,
            breaker=breaker,
            monotonic=monotonic,
            sleep=sleep,
            jitter=random.random,  # spreads retries, not a secret
            policy=retry,
            unanswered=(aiohttp.ClientError, TimeoutError),
        )
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._tokens = tokens
        self._token: str | None = None  # the latest this client used, to scrub from messages
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
        """A REST API request under /services/data/vXX.X. A rejected session is refreshed once
        and the request sent once more; a second rejection is permanent."""
        token = self._token = await self._tokens.current(self._fetch_token)
        for refreshed in (False, True):
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            request = {"json": body, "params": params, "headers": headers}
            reply = await self._send(method, self._api + path, what, request, repeatable, accept)
            if reply.status != 401:
                return reply
            if refreshed or error_code(reply.body) != "INVALID_SESSION_ID":
                break
            token = self._token = await self._tokens.refresh(token, self._fetch_token)
        raise PermanentFailure(REJECTED)

    async def _fetch_token(self) -> tuple[str, float]:
        """A new access token and how long it may be used."""
        form = {
            "grant_type": "client_credentials",
            "client_id": self._client_id,
            "client_secret": self._client_secret,
        }
        request = {"data": form, "headers": {"Accept": "application/json"}}
        url = f"{self._instance}/services/oauth2/token"
        reply = await self._send("POST", url, "the token request", request, True, (400, 401))
        error = reply.body.get("error") if isinstance(reply.body, Mapping) else None
        if reply.status in (400, 401):
            if error in _REFUSED_GRANTS or reply.status == 401:
                raise PermanentFailure(REJECTED)
            code = f": {error[:60]}" if isinstance(error, str) else ""
            raise PermanentFailure(f"salesforce refused the token request ({reply.status}){code}")
        answer = reply.body if isinstance(reply.body, Mapping) else {}
        token = answer.get("access_token")
        if not isinstance(token, str) or not token or len(token) > 4096:
            raise PermanentFailure(
                "salesforce returned an unexpected response to the token request"
            )
        return token, token_lifetime_s(answer)

    async def _send(
        self,
        method: str,
        url: str,
        what: str,
        request: Mapping[str, Any],
        repeatable: bool,
        accept: Collection[int],
    ) -> Reply:
        """Retries timeouts and 5xx (when `repeatable`) and REQUEST_LIMIT_EXCEEDED (always: it
        was refused before any work), with capped exponential backoff and jitter. 401 is
        returned to the caller, which owns the token."""

        async def attempt() -> Reply | Failed:
            status, payload = await self._exchange(method, url, what, request)
            return self._read(what, status, payload, (*accept, 401))

        return await self._guard.send(
            attempt,
            what=what,
            repeatable=repeatable,
            on_resend=lambda resend: _log.warning("salesforce %s: %s", what, resend),
        )

    def _read(
        self, what: str, status: int, payload: Any, accept: Collection[int]
    ) -> Reply | Failed:
        """Salesforce's answer: the reply, a failure worth waiting out, or a refusal (raised)."""
        code = error_code(payload)
        if (status == 403 and code == "REQUEST_LIMIT_EXCEEDED") or status == 429:
            error = RateLimited(f"salesforce API request limit reached on {what}")
            return Failed(error, refused_unprocessed=True)
        if status >= 500:
            return Failed(TransientFailure(f"salesforce answered {status} to {what}"))
        if 200 <= status < 300 or status in accept:
            return Reply(status, payload)
        raise self.refusal(what, Reply(status, payload))

    def refusal(self, what: str, reply: Reply) -> PermanentFailure:
        """Salesforce said no: the status, its errorCode and message, scrubbed and cut short."""
        code, message = error_code(reply.body), self._scrub(_error_message(reply.body))
        detail = f" {code}" if code else ""
        text = f": {message}" if message else ""
        return PermanentFailure(f"salesforce refused {what} ({reply.status}{detail}){text}")

    async def _exchange(
        self, method: str, url: str, what: str, request: Mapping[str, Any]
    ) -> tuple[int, Any]:
        self.requests_sent += 1
        async with self._session.request(
            method, url, timeout=self._timeout, allow_redirects=False, **request
        ) as response:
            raw = await read_at_most(response.content.iter_chunked(64 * 1024), MAX_BODY_BYTES)
            if raw is None:
                raise PermanentFailure(f"salesforce returned an unexpected response to {what}")
            return response.status, json_or_none(raw)

    def _scrub(self, message: str | None) -> str | None:
        if message is None:
            return None
        for secret in (self._token, self._client_secret):
            if secret:
                message = message.replace(secret, "***")
        return message[:MAX_MESSAGE_CHARS]


def _first_error(payload: Any) -> Mapping[str, Any]:
    if isinstance(payload, list) and payload and isinstance(payload[0], Mapping):
        return payload[0]
    return {}


def error_code(payload: Any) -> str | None:
    code = _first_error(payload).get("errorCode")
    return code[:80] if isinstance(code, str) else None


def _error_message(payload: Any) -> str | None:
    message = _first_error(payload).get("message")
    return message if isinstance(message, str) else None
