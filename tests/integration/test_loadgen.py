"""The benchmarks' load generator against a real aiohttp server on loopback: what it counts as
answered, failed and timed out is what the benchmark figures are made of."""

from __future__ import annotations

import asyncio
import itertools
import socket
from collections.abc import AsyncIterator, Mapping

import pytest
from aiohttp import web

from bench.loadgen import Client, closed_loop, open_loop, session

received: list[tuple[bytes, str]] = []


async def accept(request: web.Request) -> web.Response:
    received.append((await request.read(), request.headers.get("Signature", "")))
    return web.json_response({"status": "received"}, status=202)


async def refuse(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response({"title": "no"}, status=401)


async def closing(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response({"status": "received"}, status=202, headers={"Connection": "close"})


async def slow(request: web.Request) -> web.Response:
    await asyncio.sleep(5)
    return web.json_response({}, status=202)


async def hang_up(request: web.Request) -> web.StreamResponse:
    assert request.transport is not None
    request.transport.close()
    return web.Response(status=202)


@pytest.fixture
async def base_url() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_post("/accept", accept)
    app.router.add_post("/refuse", refuse)
    app.router.add_post("/closing", closing)
    app.router.add_post("/slow", slow)
    app.router.add_post("/hang-up", hang_up)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    received.clear()
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


def numbered() -> tuple[bytes, Mapping[str, str]]:
    return b'{"n": 1}', {"Content-Type": "application/json", "Signature": "sig"}


def no_cpu() -> float:
    return 0.0


async def test_requests_arrive_whole_and_answers_are_counted(base_url: str) -> None:
    counter = itertools.count()

    def make() -> tuple[bytes, Mapping[str, str]]:
        body = b'{"n": %d, "pad": "%s"}' % (next(counter), b"x" * 3000)
        return body, {"Content-Type": "application/json", "Signature": "abc"}

    async with session(base_url + "/accept", 4) as http:
        result = await closed_loop(
            http, make, name="c", connections=4, duration_s=30, server_cpu=no_cpu, max_requests=200
        )
    assert (result.sent, result.ok, result.failed) == (200, 200, 0)
    assert result.statuses == {"202": 200}
    assert len(received) == 200
    assert {body for body, _ in received} == {
        b'{"n": %d, "pad": "%s"}' % (n, b"x" * 3000) for n in range(200)
    }
    assert {signature for _, signature in received} == {"abc"}


async def test_an_unexpected_status_is_a_failure(base_url: str) -> None:
    async with session(base_url + "/refuse", 2) as http:
        result = await closed_loop(
            http,
            numbered,
            name="c",
            connections=2,
            duration_s=30,
            server_cpu=no_cpu,
            max_requests=10,
        )
    assert (result.ok, result.failed, result.statuses) == (0, 10, {"401": 10})


async def test_connection_close_is_honoured(base_url: str) -> None:
    async with session(base_url + "/closing", 1) as http:
        statuses = [await http.post(*numbered()) for _ in range(5)]
    assert statuses == [202] * 5


async def test_open_loop_keeps_its_schedule_and_measures_from_it(base_url: str) -> None:
    async with session(base_url + "/accept", 50) as http:
        result = await open_loop(
            http, numbered, name="o", rate=200.0, duration_s=1.0, server_cpu=no_cpu
        )
    assert (result.sent, result.ok, result.failed) == (200, 200, 0)
    assert 0.9 <= result.elapsed_s < 3.0
    assert 0 < result.p50_ms <= result.p99_ms <= result.max_ms


async def test_no_answer_in_time_is_a_timeout(base_url: str) -> None:
    async with session(base_url + "/slow", 1, timeout_s=0.2) as http:
        with pytest.raises(TimeoutError):
            await http.post(*numbered())


async def test_a_dropped_connection_is_a_failure_and_the_next_request_reconnects(
    base_url: str,
) -> None:
    async with session(base_url + "/hang-up", 1) as http:
        with pytest.raises(ConnectionError):
            await http.post(*numbered())
    async with session(base_url + "/accept", 1) as http:
        assert await http.post(*numbered()) == 202


async def test_a_refused_connection_is_a_failure_not_a_crash() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with session(f"http://127.0.0.1:{port}/accept", 1) as http:
        result = await closed_loop(
            http,
            numbered,
            name="c",
            connections=1,
            duration_s=30,
            server_cpu=no_cpu,
            max_requests=3,
        )
    assert (result.ok, result.failed) == (0, 3)
    assert set(result.statuses) <= {"ConnectionRefusedError", "OSError"}


@pytest.mark.parametrize(
    "url", ["http://10.1.2.3:8080/x", "http://192.168.0.1/x", "http://203.0.113.7/x"]
)
def test_only_loopback_addresses_are_spoken_to(url: str) -> None:
    # Decided from the address alone: the client is never asked to connect.
    with pytest.raises(ValueError, match="loopback"):
        Client(url, 1)
