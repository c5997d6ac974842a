"""CallRailRecordingSource against real aiohttp servers on 127.0.0.0/8.

Every SSRF case that names a non-loopback address is decided by the injected resolver and the
guard's own check: no packet leaves loopback, and a `tripwire` trace config fails the test
loudly should a request ever start."""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import traceback
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pytest_aiohttp import AiohttpServer

from adapters.callrail.guard import (
    HostPolicy,
    PinnedResolver,
    UnapprovedHost,
    UrlGuard,
    display_url,
)
from adapters.callrail.recording_source import CallRailRecordingSource
from adapters.memory.fakes import InMemorySecretStore
from domain.call import Call, CallMetadata
from domain.errors import (
    PermanentFailure,
    RateLimited,
    RecordingRefused,
    RecordingUnavailable,
    TransientFailure,
)
from domain.tenant import Secret, SecretRef, SecretValue, Tenant, TenantConfig
from ports.recording import Download

LOOPBACK = ("127.0.0.1",)
API_KEY = "cr-key-0123456789abcdef"
EXPECTED_AUTH = f'Token token="{API_KEY}"'


def varied(size: int, seed: bytes = b"") -> bytes:
    out = bytearray()
    while len(out) < size:
        out += hashlib.sha256(seed + len(out).to_bytes(8, "big")).digest()
    return bytes(out[:size])


def mp3(size: int) -> bytes:
    """An ID3v2 header, then MPEG-1 Layer III frame headers (sync 0xFFFB) with payloads."""
    frame = b"\xff\xfb\x90\x64" + varied(413)
    body = b"ID3\x04\x00\x00\x00\x00\x00\x00" + frame * (size // len(frame) + 1)
    return body[:size]


RECORDING = mp3(300_000)


def tenant(api_key: Secret | None = None, account: str | None = None) -> Tenant:
    at = datetime(2026, 3, 4, tzinfo=UTC)
    config = TenantConfig(
        callrail_company_id="COM1",
        webhook_secret=SecretValue("signing-key"),
        callrail_account_id=account,
        callrail_api_key=api_key,
    )
    return Tenant("acme", "Acme", "active", config, at, at)


def call(url: str | None) -> Call:
    at = datetime(2026, 3, 4, tzinfo=UTC)
    return Call("acme", "CAL1", at, CallMetadata(answered=True), recording_url=url)


def source(**overrides: Any) -> CallRailRecordingSource:
    settings: dict[str, Any] = {
        "secrets": InMemorySecretStore({"callrail/acme": API_KEY}),
        "allowed_hosts": LOOPBACK,
        "allow_http_hosts": LOOPBACK,
        "total_timeout_s": 10.0,
        **overrides,
    }
    return CallRailRecordingSource(**settings)


async def read_all(download: Download) -> list[bytes]:
    return [chunk async for chunk in download.chunks]


def every_message(error: BaseException) -> str:
    """What a log of the error could show: its message and those of its causes and context."""
    messages: list[str] = []
    current: BaseException | None = error
    while current is not None:
        messages.append("".join(traceback.format_exception_only(current)))
        current = current.__cause__ or current.__context__
    return "\n".join(messages)


def tripwire(fail: bool = True) -> tuple[aiohttp.TraceConfig, list[str]]:
    """A trace config that records each request as it starts and, armed, stops it there."""
    started: list[str] = []

    async def on_request_start(
        session: aiohttp.ClientSession, context: SimpleNamespace, params: Any
    ) -> None:
        started.append(str(params.url.host))
        if fail:
            raise AssertionError(f"a request to {params.url.host} was started")

    config = aiohttp.TraceConfig()
    config.on_request_start.append(on_request_start)
    return config, started


class FakeCallRail:
    """CallRail's recording redirects, its API and a storage host, recording every request."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        self.disconnected = asyncio.Event()
        self.release = asyncio.Event()
        self.server: TestServer | None = None
        self.app = web.Application(middlewares=[self._record])
        self.app.router.add_get("/v3/a/{account}/calls/{call}/recording.json", self.api)
        self.app.router.add_get("/calls/{call}/recording", self.redirect_to_storage)
        self.app.router.add_get("/storage/{name}", self.redirect_relative)
        self.app.router.add_get("/recordings/call.mp3", self.recording)
        self.app.router.add_get("/recordings/chunked.mp3", self.chunked)
        self.app.router.add_get("/status/{status}", self.status)
        self.app.router.add_get("/stall", self.stall)
        self.app.router.add_get("/stall-body", self.stall_body)
        self.app.router.add_get("/declared-big", self.declared_big)
        self.app.router.add_get("/endless", self.endless)
        self.app.router.add_get("/page.html", self.html)
        self.app.router.add_get("/audio/{kind}", self.audio)
        self.app.router.add_get("/loop", self.loop)
        self.app.router.add_get("/to", self.redirect_to)

    def url(self, path: str) -> str:
        assert self.server is not None
        return str(self.server.make_url(path))

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.hits.append(request.path_qs)
        response: web.StreamResponse = await handler(request)
        return response

    async def api(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != EXPECTED_AUTH:
            return web.json_response({"error": "Access denied"}, status=401)
        call_id = request.match_info["call"]
        return web.json_response({"url": self.url(f"/calls/{call_id}/recording?access_key=K1")})

    async def redirect_to_storage(self, request: web.Request) -> web.Response:
        location = self.url("/storage/call.mp3?Signature=S3SIG")
        return web.Response(status=302, headers={"Location": location})

    async def redirect_relative(self, request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": "/recordings/call.mp3"})

    async def recording(self, request: web.Request) -> web.Response:
        assert "Authorization" not in request.headers, "the API key followed a redirect"
        return web.Response(body=RECORDING, content_type="application/octet-stream")

    async def chunked(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        for i in range(0, len(RECORDING), 10_000):
            await response.write(RECORDING[i : i + 10_000])
        await response.write_eof()
        return response

    async def status(self, request: web.Request) -> web.Response:
        status = int(request.match_info["status"])
        headers = {"Retry-After": "7"} if status == 503 else {}
        return web.Response(status=status, text="no", headers=headers)

    async def stall(self, request: web.Request) -> web.Response:
        await asyncio.wait_for(self.release.wait(), 30)
        return web.Response(body=RECORDING)

    async def stall_body(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(RECORDING[:1000])
        await asyncio.wait_for(self.release.wait(), 30)
        return response

    async def declared_big(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_length = 10_000_000
        await response.prepare(request)
        await response.write(RECORDING[:1000])
        await asyncio.wait_for(self.release.wait(), 30)
        return response

    async def endless(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        try:
            await response.write(RECORDING[:65536])
            while not self.release.is_set():
                await response.write(b"\xff\xfb\x90\x64" * 16384)
                await asyncio.sleep(0.01)
        except (ConnectionError, asyncio.CancelledError):
            self.disconnected.set()
            raise
        return response

    async def html(self, request: web.Request) -> web.Response:
        return web.Response(text="<!doctype html><p>Sign in</p>", content_type="audio/mpeg")

    async def audio(self, request: web.Request) -> web.Response:
        heads = {
            "wav": b"RIFF\x24\x08\x00\x00WAVEfmt ",
            "ogg": b"OggS\x00\x02" + bytes(20),
            "flac": b"fLaC\x00\x00\x00\x22",
            "m4a": b"\x00\x00\x00\x20ftypM4A \x00\x00\x02\x00",
            "sync": b"\xff\xfb\x90\x64",
            "empty": b"",
        }
        head = heads[request.match_info["kind"]]
        return web.Response(body=head + (varied(5000) if head else b""), content_type="audio/mpeg")

    async def loop(self, request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": "/loop?again=1"})

    async def redirect_to(self, request: web.Request) -> web.Response:
        return web.Response(status=302, headers={"Location": request.query["target"]})


@pytest.fixture
async def callrail(aiohttp_server: AiohttpServer) -> AsyncIterator[FakeCallRail]:
    fake = FakeCallRail()
    fake.server = await aiohttp_server(fake.app, host="127.0.0.1")
    yield fake
    fake.release.set()


# --- downloads ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/recordings/call.mp3", "/recordings/chunked.mp3"])
async def test_an_mp3_streams_exactly_in_chunks_of_at_most_64_kib(
    callrail: FakeCallRail, path: str
) -> None:
    watch, started = tripwire(fail=False)
    download = await source(trace_configs=[watch]).open(tenant(), call(callrail.url(path)))
    chunks = await read_all(download)
    assert download.content_type == "audio/mpeg"
    assert b"".join(chunks) == RECORDING
    assert max(len(c) for c in chunks) <= 64 * 1024
    assert len(chunks) > 1
    assert started == ["127.0.0.1"]


async def test_the_callrail_redirect_chain_is_followed(callrail: FakeCallRail) -> None:
    url = callrail.url("/calls/CAL1/recording?access_key=K1")
    download = await source().open(tenant(), call(url))
    assert b"".join(await read_all(download)) == RECORDING
    assert callrail.hits == [
        "/calls/CAL1/recording?access_key=K1",
        "/storage/call.mp3?Signature=S3SIG",
        "/recordings/call.mp3",
    ]


@pytest.mark.parametrize("key", [SecretRef("callrail/acme"), SecretValue(API_KEY)])
async def test_without_a_url_the_api_gives_it(callrail: FakeCallRail, key: Secret) -> None:
    recordings = source(api_base=callrail.url(""))
    download = await recordings.open(tenant(key, "ACC1"), call(None))
    assert b"".join(await read_all(download)) == RECORDING
    assert callrail.hits[0] == "/v3/a/ACC1/calls/CAL1/recording.json"
    assert callrail.hits[-1] == "/recordings/call.mp3"


async def test_a_rejected_api_key_is_permanent_and_not_shown(callrail: FakeCallRail) -> None:
    recordings = source(api_base=callrail.url(""))
    with pytest.raises(PermanentFailure, match="401") as caught:
        await recordings.open(tenant(SecretValue("wrong-key-SECRET"), "ACC1"), call(None))
    assert "SECRET" not in every_message(caught.value)
    assert not isinstance(caught.value, RecordingUnavailable)


async def test_a_call_with_neither_url_nor_api_key_has_no_recording(
    callrail: FakeCallRail,
) -> None:
    with pytest.raises(RecordingUnavailable, match="the call has no recording"):
        await source(api_base=callrail.url("")).open(tenant(None, "ACC1"), call(None))
    assert callrail.hits == []


@pytest.mark.parametrize(
    ("kind", "content_type"),
    [
        ("wav", "audio/wav"),
        ("ogg", "audio/ogg"),
        ("flac", "audio/flac"),
        ("m4a", "audio/mp4"),
        ("sync", "audio/mpeg"),
    ],
)
async def test_the_content_type_comes_from_the_bytes(
    callrail: FakeCallRail, kind: str, content_type: str
) -> None:
    download = await source().open(tenant(), call(callrail.url(f"/audio/{kind}")))
    assert download.content_type == content_type
    assert len(b"".join(await read_all(download))) > 5000


@pytest.mark.parametrize("path", ["/page.html", "/audio/empty"])
async def test_what_is_not_audio_is_refused(callrail: FakeCallRail, path: str) -> None:
    with pytest.raises(RecordingRefused, match="not audio"):
        await source().open(tenant(), call(callrail.url(path)))


# --- statuses, time and size ---------------------------------------------------------------


@pytest.mark.parametrize("status", [404, 410])
async def test_a_missing_recording_is_unavailable(callrail: FakeCallRail, status: int) -> None:
    with pytest.raises(RecordingUnavailable, match=str(status)):
        await source().open(tenant(), call(callrail.url(f"/status/{status}")))


@pytest.mark.parametrize("status", [401, 403])
async def test_refused_credentials_are_permanent(callrail: FakeCallRail, status: int) -> None:
    with pytest.raises(PermanentFailure, match=str(status)) as caught:
        await source().open(tenant(), call(callrail.url(f"/status/{status}")))
    assert not isinstance(caught.value, RecordingUnavailable | RecordingRefused)


@pytest.mark.parametrize(("status", "hint"), [(503, 7.0), (500, None)])
async def test_busy_servers_are_transient(
    callrail: FakeCallRail, status: int, hint: float | None
) -> None:
    with pytest.raises(TransientFailure, match=str(status)) as caught:
        await source().open(tenant(), call(callrail.url(f"/status/{status}")))
    assert not isinstance(caught.value, RateLimited)
    assert caught.value.retry_after_s == hint


async def test_callrail_rate_limit_waits_without_spending_an_attempt(
    callrail: FakeCallRail,
) -> None:
    # CallRail's 429 has no Retry-After (facts.md): back off a minute, as a rate limit.
    with pytest.raises(RateLimited, match="429") as caught:
        await source().open(tenant(), call(callrail.url("/status/429")))
    assert caught.value.retry_after_s == 60.0


async def test_a_stalled_server_times_out_as_transient(callrail: FakeCallRail) -> None:
    started = asyncio.get_running_loop().time()
    with pytest.raises(TransientFailure, match="timed out"):
        await source(total_timeout_s=0.5).open(tenant(), call(callrail.url("/stall")))
    assert asyncio.get_running_loop().time() - started < 3


async def test_a_body_that_stalls_times_out_while_streaming(callrail: FakeCallRail) -> None:
    download = await source(total_timeout_s=0.5).open(tenant(), call(callrail.url("/stall-body")))
    with pytest.raises(TransientFailure, match="timed out"):
        await read_all(download)


async def test_a_declared_length_over_the_cap_is_refused_before_reading(
    callrail: FakeCallRail,
) -> None:
    # The body never completes: reading it would end in a timeout, not this refusal.
    recordings = source(max_bytes=100_000, total_timeout_s=5.0)
    with pytest.raises(RecordingRefused, match="10000000 bytes"):
        await recordings.open(tenant(), call(callrail.url("/declared-big")))


async def test_a_body_growing_past_the_cap_is_refused_mid_stream(callrail: FakeCallRail) -> None:
    download = await source(max_bytes=200_000).open(tenant(), call(callrail.url("/endless")))
    received: list[int] = []

    async def drain() -> None:
        async for chunk in download.chunks:
            received.append(len(chunk))

    with pytest.raises(RecordingRefused, match="limit of 200000"):
        await drain()
    assert 0 < sum(received) <= 200_000
    await asyncio.wait_for(callrail.disconnected.wait(), 5)


async def test_closing_the_stream_early_closes_the_connection(callrail: FakeCallRail) -> None:
    download = await source().open(tenant(), call(callrail.url("/endless")))
    assert await anext(download.chunks)
    await download.chunks.aclose()  # type: ignore[attr-defined]
    await asyncio.wait_for(callrail.disconnected.wait(), 5)


@pytest.mark.parametrize(
    "path", ["/status/404", "/status/503", "/stall", "/page.html", "/declared-big"]
)
async def test_errors_never_show_the_query_string(callrail: FakeCallRail, path: str) -> None:
    url = callrail.url(path) + "?access_key=SECRET"
    recordings = source(max_bytes=100_000, total_timeout_s=0.5)
    with pytest.raises((PermanentFailure, TransientFailure)) as caught:
        await recordings.open(tenant(), call(url))
    assert path in str(caught.value)
    assert "SECRET" not in every_message(caught.value)


# --- redirects and the guard on the wire -----------------------------------------------------


async def test_a_redirect_loop_is_cut_at_max_redirects(callrail: FakeCallRail) -> None:
    with pytest.raises(RecordingRefused, match="more than 3 redirects"):
        await source(max_redirects=3).open(tenant(), call(callrail.url("/loop")))
    assert len(callrail.hits) == 4


async def test_plain_http_needs_its_host_listed(callrail: FakeCallRail) -> None:
    recordings = source(allow_http_hosts=())
    with pytest.raises(RecordingRefused, match="plain http"):
        await recordings.open(tenant(), call(callrail.url("/recordings/call.mp3")))
    assert callrail.hits == []


@pytest.fixture
async def other_loopback(aiohttp_server: AiohttpServer) -> AsyncIterator[FakeCallRail]:
    """A server on 127.0.0.2, not on the allow-list, that records every request."""
    fake = FakeCallRail()
    fake.server = await aiohttp_server(fake.app, host="127.0.0.2")
    yield fake
    fake.release.set()


async def test_an_unlisted_loopback_address_is_never_contacted(
    other_loopback: FakeCallRail,
) -> None:
    url = other_loopback.url("/recordings/call.mp3")
    assert url.startswith("http://127.0.0.2:")
    with pytest.raises(RecordingRefused, match=r"host 127\.0\.0\.2 is not allowed"):
        await source().open(tenant(), call(url))
    assert other_loopback.hits == []


async def test_a_redirect_to_an_unlisted_host_is_refused_before_it_is_contacted(
    callrail: FakeCallRail, other_loopback: FakeCallRail
) -> None:
    target = other_loopback.url("/recordings/call.mp3")
    url = callrail.url("/to") + "?target=" + quote(target, safe="")
    with pytest.raises(RecordingRefused, match=r"host 127\.0\.0\.2 is not allowed"):
        await source().open(tenant(), call(url))
    assert len(callrail.hits) == 1
    assert other_loopback.hits == []


async def test_an_api_url_to_an_unlisted_host_is_refused(callrail: FakeCallRail) -> None:
    async def api(request: web.Request) -> web.Response:
        return web.json_response({"url": "https://metadata.internal/computeMetadata/v1/"})

    app = web.Application()
    app.router.add_get("/v3/a/ACC1/calls/CAL1/recording.json", api)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        recordings = source(api_base=str(server.make_url("")))
        with pytest.raises(RecordingRefused, match=r"metadata\.internal is not allowed"):
            await recordings.open(tenant(SecretValue(API_KEY), "ACC1"), call(None))
    finally:
        await server.close()


async def test_the_connection_goes_to_the_address_the_guard_checked(
    aiohttp_server: AiohttpServer,
) -> None:
    """DNS rebinding: the name is resolved once, by the guard. `localhost` as the system
    resolves it (127.0.0.1, ::1) has nothing on this port; only the checked 127.0.0.3 does."""
    fake = FakeCallRail()
    fake.server = await aiohttp_server(fake.app, host="127.0.0.3")
    asked: list[tuple[str, int]] = []

    class OnceResolver:
        async def resolve(self, host: str, port: int) -> list[str]:
            asked.append((host, port))
            return ["127.0.0.3"] if len(asked) == 1 else ["10.0.0.5"]

    url = f"http://localhost:{fake.server.port}/recordings/call.mp3"
    recordings = source(
        allowed_hosts=("localhost",), allow_http_hosts=("localhost",), resolver=OnceResolver()
    )
    download = await recordings.open(tenant(), call(url))
    assert b"".join(await read_all(download)) == RECORDING
    assert asked == [("localhost", fake.server.port)]
    assert fake.hits == ["/recordings/call.mp3"]
    fake.release.set()


# --- the guard, decided without a connection ---------------------------------------------------

LISTED = ("recordings.example",)
INWARD = [
    "10.0.0.5",
    "172.20.1.1",
    "192.168.1.10",
    "169.254.169.254",
    "100.64.0.1",
    "::1",
    "fe80::1",
    "fc00::1",
    "::ffff:10.0.0.1",
]
ALSO_INWARD = [
    "127.0.0.1",
    "0.0.0.0",  # noqa: S104 - an address the guard refuses, nothing binds it
    "224.0.0.1",
    "240.0.0.1",
    "255.255.255.255",
    "::",
    "ff02::1",
    "fd12:3456::1",
    "::ffff:127.0.0.1",
    "64:ff9b::a00:1",
    "2002:a00:1::1",
]
PUBLIC = ["34.120.0.1", "2606:4700::1111", "::ffff:34.120.0.1", "64:ff9b::2278:1"]


class ScriptedResolver:
    """Answers every name with the given addresses, recording what it was asked."""

    def __init__(self, *addresses: str, error: Exception | None = None, delay_s: float = 0):
        self.addresses = list(addresses)
        self.error = error
        self.delay_s = delay_s
        self.asked: list[tuple[str, int]] = []

    async def resolve(self, host: str, port: int) -> list[str]:
        self.asked.append((host, port))
        await asyncio.sleep(self.delay_s)
        if self.error is not None:
            raise self.error
        return list(self.addresses)


def guard(
    resolver: ScriptedResolver, allowed: tuple[str, ...] = LISTED, http: tuple[str, ...] = ()
) -> UrlGuard:
    return UrlGuard(HostPolicy(allowed, http), resolver)


@pytest.mark.parametrize("address", INWARD + ALSO_INWARD)
async def test_a_listed_name_resolving_inward_is_refused(address: str) -> None:
    resolver = ScriptedResolver(address)
    with pytest.raises(RecordingRefused, match="resolves to") as caught:
        await guard(resolver).approve("https://recordings.example/r.mp3?access_key=SECRET", 1)
    assert resolver.asked == [("recordings.example", 443)]
    assert "SECRET" not in str(caught.value)


@pytest.mark.parametrize("address", INWARD)
async def test_a_download_resolving_inward_never_starts_a_request(address: str) -> None:
    armed, started = tripwire()
    resolver = ScriptedResolver(address)
    recordings = source(
        allowed_hosts=LISTED, allow_http_hosts=(), resolver=resolver, trace_configs=[armed]
    )
    with pytest.raises(RecordingRefused, match="resolves to"):
        await recordings.open(tenant(), call("https://recordings.example/calls/CAL1.mp3"))
    assert resolver.asked == [("recordings.example", 443)]
    assert started == []


async def test_one_inward_address_among_public_ones_is_enough_to_refuse() -> None:
    with pytest.raises(RecordingRefused, match=r"10\.0\.0\.5"):
        await guard(ScriptedResolver(*PUBLIC, "10.0.0.5")).approve(
            "https://recordings.example/r.mp3", 1
        )


async def test_public_addresses_are_approved_and_pinned() -> None:
    approved = await guard(ScriptedResolver(*PUBLIC)).approve(
        "https://Recordings.Example./r.mp3?access_key=K#frag", 1
    )
    assert approved.addresses == tuple(str(ipaddress.ip_address(a)) for a in PUBLIC)
    assert approved.target.url == "https://recordings.example/r.mp3?access_key=K"
    assert approved.target.display == "https://recordings.example/r.mp3"
    pins = PinnedResolver()
    pins.pin(approved)
    answers = await pins.resolve("recordings.example", 443)
    assert [a["host"] for a in answers] == list(approved.addresses)
    assert {a["hostname"] for a in answers} == {"recordings.example"}
    for host, port in [("recordings.example", 80), ("other.example", 443)]:
        with pytest.raises(UnapprovedHost):
            await pins.resolve(host, port)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://evil.example/r.mp3", "not allowed"),
        ("https://recordings.example.evil.net/r.mp3", "not allowed"),
        ("https://127.0.0.1/r.mp3", "not allowed"),
        ("https://[::1]/r.mp3", "not allowed"),
        ("https://169.254.169.254/latest/meta-data/", "not allowed"),
        ("https://2130706433/r.mp3", "not allowed"),
        ("https://10.0.0.5/r.mp3", "not allowed"),
        ("http://recordings.example/r.mp3", "plain http"),
        ("ftp://recordings.example/r.mp3", "only https"),
        ("file:///etc/passwd", "only https"),
        ("https://user:pw@recordings.example/r.mp3", "credentials"),
        ("https://recordings.example\\@10.0.0.5/r.mp3", "backslashes"),
        ("https://recordings.example /r.mp3", "spaces"),
        ("https://recordings.example:99999/r.mp3", "cannot be parsed"),
        ("https:///r.mp3", "not a valid host"),
        ("/calls/CAL1/recording", "only https"),
    ],
)
async def test_urls_outside_the_policy_are_refused_without_a_lookup(url: str, reason: str) -> None:
    resolver = ScriptedResolver("34.120.0.1")
    with pytest.raises(RecordingRefused, match=reason):
        await guard(resolver).approve(url, 1)
    assert resolver.asked == []


async def test_a_listed_ip_literal_is_the_operators_choice() -> None:
    resolver = ScriptedResolver("10.9.9.9")
    approved = await guard(resolver, allowed=("127.0.0.1", "::1")).approve(
        "https://127.0.0.1:8443/r.mp3", 1
    )
    assert approved.addresses == ("127.0.0.1",)
    assert approved.target.port == 8443
    v6 = await guard(resolver, allowed=("127.0.0.1", "[::1]")).approve("https://[::1]/r.mp3", 1)
    assert v6.addresses == ("::1",)
    assert v6.target.url == "https://[::1]/r.mp3"
    assert resolver.asked == []


async def test_a_listed_localhost_may_resolve_to_loopback_only() -> None:
    approved = await guard(ScriptedResolver("127.0.0.1", "::1"), ("localhost",)).approve(
        "https://localhost/r.mp3", 1
    )
    assert approved.addresses == ("127.0.0.1", "::1")
    with pytest.raises(RecordingRefused, match="private"):
        await guard(ScriptedResolver("10.0.0.5"), ("localhost",)).approve(
            "https://localhost/r.mp3", 1
        )


def test_suffix_entries_match_names_below_them_only() -> None:
    policy = HostPolicy(("*.callrail.com", "api.example"))
    assert policy.allows("app.callrail.com")
    assert policy.allows("a.b.callrail.com")
    assert policy.allows("APP.CallRail.COM.")
    assert policy.allows("Api.Example")
    for host in ["callrail.com", "evilcallrail.com", "app.callrail.com.evil.net", "example"]:
        assert not policy.allows(host), host


async def test_a_suffix_entry_grants_no_private_address() -> None:
    with pytest.raises(RecordingRefused, match="private"):
        await guard(ScriptedResolver("192.168.1.10"), ("*.callrail.com",)).approve(
            "https://app.callrail.com/r.mp3", 1
        )


@pytest.mark.parametrize(
    "resolver",
    [
        ScriptedResolver(error=OSError(-2, "Name or service not known")),
        ScriptedResolver("34.120.0.1", delay_s=5),
        ScriptedResolver(),
    ],
)
async def test_a_failed_lookup_is_transient(resolver: ScriptedResolver) -> None:
    started = asyncio.get_running_loop().time()
    with pytest.raises(TransientFailure, match=r"recordings\.example"):
        await guard(resolver).approve("https://recordings.example/r.mp3", 0.2)
    assert asyncio.get_running_loop().time() - started < 2


async def test_an_answer_that_is_no_address_is_refused() -> None:
    with pytest.raises(RecordingRefused, match="not an IP address"):
        await guard(ScriptedResolver("recordings.example")).approve(
            "https://recordings.example/r.mp3", 1
        )


def test_urls_are_shown_without_query_fragment_or_credentials() -> None:
    shown = display_url("https://u:SECRET@app.callrail.com:8443/calls/CAL1?access_key=SECRET#x")
    assert shown == "https://app.callrail.com:8443/calls/CAL1"
