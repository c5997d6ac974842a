"""CallRail recordings: the webhook's recording URL, or the one CallRail's API gives for the
call, followed redirect by redirect through the SSRF guard, size-capped, sniffed, and streamed.

Error messages show URLs as scheme://host/path only: CallRail puts access keys in the query.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncGenerator, Sequence
from datetime import UTC, datetime
from typing import Any, NoReturn
from urllib.parse import quote, urljoin

import aiohttp

from adapters.callrail.guard import (
    Approved,
    HostPolicy,
    HostResolver,
    LoopHostResolver,
    PinnedResolver,
    UnapprovedHost,
    UrlGuard,
    display_url,
)
from domain.call import Call
from domain.errors import (
    DomainError,
    PermanentFailure,
    RateLimited,
    RecordingRefused,
    RecordingUnavailable,
    SecretNotFound,
    TransientFailure,
)
from domain.resilience import retry_after_s
from domain.tenant import SecretRef, Tenant
from ports.recording import Download, RecordingSource
from ports.secrets import SecretStore

MiB = 1024 * 1024
CHUNK_SIZE = 64 * 1024
_SNIFF_BYTES = 12
_MAX_API_BODY = MiB
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_TOKEN = re.compile(r'^[^"\\\x00-\x1f\x7f]+$')
# Errors a request or a body read can end with; each is re-raised as a port error.
_NETWORK_ERRORS = (aiohttp.ClientError, TimeoutError, OSError)


def sniff_audio(head: bytes) -> str | None:
    """The content type the first bytes show, whatever the server's header says."""
    if head.startswith(b"ID3") or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "audio/mpeg"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"fLaC"):
        return "audio/flac"
    if head[4:8] == b"ftyp":
        return "audio/mp4"
    return None


class CallRailRecordingSource(RecordingSource):
    def __init__(
        self,
        secrets: SecretStore,
        allowed_hosts: tuple[str, ...],
        allow_http_hosts: tuple[str, ...] = (),
        resolver: HostResolver | None = None,
        max_bytes: int = 200 * MiB,
        connect_timeout_s: float = 5.0,
        total_timeout_s: float = 120.0,
        max_redirects: int = 5,
        api_base: str = "https://api.callrail.com",
        trace_configs: Sequence[aiohttp.TraceConfig] = (),
    ):
        """`trace_configs` go to every aiohttp session (OpenTelemetry's client
        instrumentation, or a test's tripwire)."""
        self._secrets = secrets
        policy = HostPolicy(allowed_hosts, allow_http_hosts)
        self._guard = UrlGuard(policy, resolver or LoopHostResolver())
        self._max_bytes = max_bytes
        self._timeouts = (connect_timeout_s, total_timeout_s)
        self._max_redirects = max_redirects
        self._api_base = api_base.rstrip("/")
        self._trace_configs = list(trace_configs)

    async def open(self, tenant: Tenant, call: Call) -> Download:
        config = tenant.config
        use_api = config.callrail_api_key is not None and config.callrail_account_id is not None
        if not call.recording_url and not use_api:
            raise RecordingUnavailable("the call has no recording")
        fetcher = _Fetcher(self._guard, *self._timeouts, self._trace_configs)
        try:
            url = call.recording_url or await self._url_from_api(fetcher, tenant, call)
            response, shown = await self._follow(fetcher, url)
            try:
                content_type, head = await self._sniff(response, shown)
            except BaseException:
                response.close()
                raise
        except BaseException:
            await fetcher.close()
            raise
        chunks = _stream(fetcher, response, head, self._max_bytes, shown)
        # Runs the generator into its try block: from here on, closing it (or the loop
        # finalising it unfinished) closes the response and the session.
        await anext(chunks)
        return Download(content_type, chunks)

    async def _url_from_api(self, fetcher: _Fetcher, tenant: Tenant, call: Call) -> str:
        """CallRail's recording.json. The API base is the operator's, so its host is trusted;
        the URL it answers is not, and goes through the guard like any other."""
        account = tenant.config.callrail_account_id
        assert account is not None
        key = await self._api_key(tenant)
        url = (
            f"{self._api_base}/v3/a/{quote(account, safe='')}"
            f"/calls/{quote(call.call_id, safe='')}/recording.json"
        )
        headers = {"Authorization": f'Token token="{key}"', "Accept": "application/json"}
        response, approved = await fetcher.get(url, trusted=True, headers=headers)
        shown = f"CallRail's API ({approved.target.display})"
        try:
            if response.status != 200:
                raise _status_error(response, shown)
            body = bytearray()
            while chunk := await _read(response, shown):
                body += chunk
                if len(body) > _MAX_API_BODY:
                    raise PermanentFailure(f"{shown} answered an oversized body")
        finally:
            response.close()
        try:
            document: Any = json.loads(body)
        except ValueError:
            raise PermanentFailure(f"{shown} answered something not JSON") from None
        recording = document.get("url") if isinstance(document, dict) else None
        if recording is None:
            raise RecordingUnavailable(f"CallRail's API has no recording for call {call.call_id}")
        if not isinstance(recording, str):
            raise PermanentFailure(f"{shown} answered a url that is not text")
        return recording

    async def _api_key(self, tenant: Tenant) -> str:
        secret = tenant.config.callrail_api_key
        assert secret is not None
        if isinstance(secret, SecretRef):
            try:
                key = await self._secrets.resolve(secret.name)
            except SecretNotFound as exc:
                raise PermanentFailure(f"the CallRail API key: {exc}") from None
        else:
            key = secret.value
        if not _TOKEN.match(key):
            raise PermanentFailure("the CallRail API key has characters a header cannot carry")
        return key

    async def _follow(self, fetcher: _Fetcher, url: str) -> tuple[aiohttp.ClientResponse, str]:
        """The first 2xx response along the redirect chain, each hop approved by the guard."""
        shown = display_url(url)
        for _ in range(self._max_redirects + 1):
            response, approved = await fetcher.get(url)
            shown = approved.target.display
            if 200 <= response.status < 300:
                return response, shown
            response.close()
            if response.status not in _REDIRECTS:
                raise _status_error(response, shown)
            location = response.headers.get("Location")
            if not location:
                raise RecordingRefused(f"{shown} redirected (HTTP {response.status}) nowhere")
            url = urljoin(approved.target.url, location)
        raise RecordingRefused(f"more than {self._max_redirects} redirects (the last to {shown})")

    async def _sniff(self, response: aiohttp.ClientResponse, shown: str) -> tuple[str, bytes]:
        limit = self._max_bytes
        length = response.content_length
        if length is not None and length > limit:
            raise RecordingRefused(f"{shown} is {length} bytes, over the limit of {limit}")
        head = b""
        while len(head) < _SNIFF_BYTES:
            chunk = await _read(response, shown, CHUNK_SIZE - len(head))
            if not chunk:
                break
            head += chunk
        if len(head) > limit:
            raise RecordingRefused(f"{shown} is over the limit of {limit} bytes")
        content_type = sniff_audio(head)
        if content_type is None:
            raise RecordingRefused(f"{shown} is not audio")
        return content_type, head


class _Fetcher:
    """One download's HTTP client. It connects only to the addresses the guard approved (pinned
    in its connector's resolver), and every step shares the download's one deadline."""

    def __init__(
        self,
        guard: UrlGuard,
        connect_timeout_s: float,
        total_timeout_s: float,
        trace_configs: list[aiohttp.TraceConfig],
    ):
        self._guard = guard
        self._connect_timeout_s = connect_timeout_s
        self._total_timeout_s = total_timeout_s
        self._deadline = asyncio.get_running_loop().time() + total_timeout_s
        self._pins = PinnedResolver()
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(resolver=self._pins, use_dns_cache=False, limit=4),
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,
            trace_configs=trace_configs or None,
        )

    async def get(
        self, url: str, *, trusted: bool = False, headers: dict[str, str] | None = None
    ) -> tuple[aiohttp.ClientResponse, Approved]:
        connect = min(self._connect_timeout_s, self._remaining())
        approved = await self._guard.approve(url, connect, trusted=trusted)
        self._pins.pin(approved)
        remaining = self._remaining()
        connect = min(self._connect_timeout_s, remaining)
        # `total` also bounds reading the body: aiohttp stops that timer only once the
        # connection is released.
        timeout = aiohttp.ClientTimeout(total=remaining, connect=connect, sock_connect=connect)
        try:
            response = await self._session.get(
                approved.target.url, headers=headers, allow_redirects=False, timeout=timeout
            )
        except _NETWORK_ERRORS as exc:
            _raise_network_error(exc, approved.target.display)
        return response, approved

    async def close(self) -> None:
        await self._session.close()

    def _remaining(self) -> float:
        remaining = self._deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            raise TransientFailure(f"the download took longer than {self._total_timeout_s} s")
        return remaining


async def _stream(
    fetcher: _Fetcher,
    response: aiohttp.ClientResponse,
    head: bytes,
    max_bytes: int,
    shown: str,
) -> AsyncGenerator[bytes, None]:
    try:
        yield b""  # the priming step open() takes; never reaches the consumer
        received = len(head)
        yield head
        while chunk := await _read(response, shown):
            received += len(chunk)
            if received > max_bytes:
                raise RecordingRefused(f"{shown} grew past the limit of {max_bytes} bytes")
            yield chunk
    finally:
        response.close()
        await fetcher.close()


async def _read(response: aiohttp.ClientResponse, shown: str, size: int = CHUNK_SIZE) -> bytes:
    try:
        return await response.content.read(size)
    except _NETWORK_ERRORS as exc:
        _raise_network_error(exc, shown)


def _raise_network_error(exc: BaseException, shown: str) -> NoReturn:
    """Re-raises a driver error as a port error. The driver's own message is left out: it may
    hold the whole URL."""
    if isinstance(exc, aiohttp.ClientConnectorError) and isinstance(exc.os_error, UnapprovedHost):
        raise RecordingRefused(
            f"refused {shown}: the connection was not to an approved host"
        ) from None
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        raise RecordingRefused(f"refused {shown}: its TLS certificate is not valid") from None
    if isinstance(exc, aiohttp.InvalidURL):
        raise RecordingRefused(f"refused {shown}: the URL is not valid") from None
    if isinstance(exc, TimeoutError):
        raise TransientFailure(f"fetching {shown} timed out") from None
    raise TransientFailure(f"fetching {shown} failed: {type(exc).__name__}") from None


def _status_error(response: aiohttp.ClientResponse, shown: str) -> DomainError:
    status = response.status
    if status in (404, 410):
        return RecordingUnavailable(f"{shown} answered HTTP {status}: the recording is gone")
    if status in (401, 403):
        return PermanentFailure(
            f"{shown} answered HTTP {status}: the credentials or access key are not accepted"
        )
    if status == 429:
        # CallRail's hourly and daily API limits: back off without spending the call's attempts.
        retry_after = _retry_after(response.headers.get("Retry-After"))
        return RateLimited(f"{shown} answered HTTP 429 (rate limited)", retry_after or 60.0)
    if status == 408 or status >= 500:
        retry_after = _retry_after(response.headers.get("Retry-After"))
        return TransientFailure(f"{shown} answered HTTP {status}", retry_after)
    return PermanentFailure(f"{shown} answered HTTP {status}")


def _retry_after(value: str | None) -> float | None:
    return retry_after_s(value, datetime.now(UTC))
