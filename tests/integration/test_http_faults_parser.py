"""What aiohttp's HTTP parser refuses before any route runs (two Content-Lengths, a header
with a control byte, one too long), sent over a raw socket to the real service on 127.0.0.1:
answered as problem+json without echoing a byte of the request, and logged as one WARNING
line without a traceback. A token in a header never reaches the answer or a log line."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from tests.integration.conftest import Client

TOKEN = b"tok-0123456789abcdef"
SECRET = b"hdr-secret-9876543210"


async def exchange(client: Client, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Sends `request` as it is and reads the answer until the server closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    try:
        writer.write(request)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


def request(*header_lines: bytes, method: bytes = b"GET", path: bytes = b"/v1/tenants") -> bytes:
    lines = [method + b" " + path + b" HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
    return b"\r\n".join([*lines, *header_lines, b"", b""])


WEBHOOK = {"method": b"POST", "path": b"/v1/callrail/webhook"}
MALFORMED = {
    "duplicate Content-Length": (
        request(b"Content-Length: 2", b"Content-Length: 3", b"Signature: " + SECRET, **WEBHOOK)
        + b"{}",
        400,
    ),
    "Content-Length with Transfer-Encoding": (
        request(
            b"Content-Length: 2",
            b"Transfer-Encoding: chunked",
            b"Signature: " + SECRET,
            **WEBHOOK,
        )
        + b"0\r\n\r\n",
        400,
    ),
    "a control byte in a bearer token": (
        request(b"Authorization: Bearer " + TOKEN[:5] + b"\x01" + TOKEN[5:]),
        400,
    ),
    "a DEL in a bearer token": (request(b"Authorization: Bearer " + TOKEN + b"\x7f"), 400),
    "a header name with a space": (request(b"X Secret: " + SECRET), 400),
    "a header name with a token in it": (request(b"Bearer " + TOKEN + b": x"), 400),
    "a header over 8 KiB": (request(b"X-Pad: " + SECRET + b"a" * 9000), 431),
    "a URL over 8 KiB": (request(path=b"/v1/tenants?t=" + TOKEN + b"a" * 9000), 431),
    "too many headers": (
        request(b"Authorization: Bearer " + TOKEN, *(b"X-%d: 1" % i for i in range(200))),
        431,
    ),
    "a chunk size that is not hex": (
        request(b"Transfer-Encoding: chunked", b"Signature: " + SECRET, **WEBHOOK)
        + b"2\r\n{}\r\nzz-"
        + TOKEN
        + b"\r\n\r\n",
        400,
    ),
    "an unknown Content-Encoding": (
        request(b"Content-Encoding: br", b"Content-Length: 2", b"Signature: " + SECRET, **WEBHOOK)
        + b"{}",
        415,
    ),
}


def lines_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Every record as a handler would write it: the message, the traceback, the extras."""
    formatter = logging.Formatter("%(levelname)s %(name)s %(message)s")
    return [formatter.format(r) + repr(r.__dict__.get("http")) for r in caplog.records]


@pytest.mark.parametrize(("raw", "status"), MALFORMED.values(), ids=MALFORMED.keys())
async def test_a_request_aiohttp_cannot_parse_is_a_problem_echoing_nothing(
    client: Client, caplog: pytest.LogCaptureFixture, raw: bytes, status: int
) -> None:
    caplog.set_level(logging.DEBUG)

    answered, headers, body = await exchange(client, raw)

    assert answered == status
    assert headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = __import__("json").loads(body)
    assert problem["status"] == status
    assert set(problem) == {"type", "title", "status", "detail"}
    for secret in (TOKEN, SECRET, TOKEN[:5], b"aaaa"):
        assert secret not in body
        assert all(secret.decode() not in line for line in lines_of(caplog))
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, lines_of(caplog)
    assert warnings[0].levelno == logging.WARNING
    assert warnings[0].exc_info is None
    assert "Traceback" not in lines_of(caplog)[-1]


async def test_the_service_answers_the_next_connection_as_usual(client: Client) -> None:
    await exchange(client, MALFORMED["a control byte in a bearer token"][0])
    status, _, _ = await exchange(client, request(path=b"/health/live"))
    assert status == 200


@pytest.mark.parametrize(
    "token",
    [TOKEN[:5] + b"\xff" + TOKEN[5:], TOKEN[:5] + b"\xc3\xa9" + TOKEN[5:], TOKEN[:5] + b"\t1"],
    ids=["not latin-1 nor UTF-8", "UTF-8", "a tab"],
)
async def test_a_bearer_token_with_a_byte_aiohttp_lets_through_is_401(
    client: Client, caplog: pytest.LogCaptureFixture, token: bytes
) -> None:
    """Bytes past ASCII are obs-text to aiohttp, handed on as surrogate escapes: no token of
    ours has them, and they are refused before anything encodes, hashes or logs them."""
    caplog.set_level(logging.DEBUG)

    status, headers, body = await exchange(
        client, request(b"Authorization: Bearer " + token, path=b"/v1/tenants/acme/calls")
    )

    assert status == 401
    assert headers["content-type"].startswith("application/problem+json")
    assert headers["www-authenticate"] == "Bearer"
    assert TOKEN[:5] not in body
    assert all(TOKEN[:5].decode() not in line for line in lines_of(caplog))
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


@pytest.fixture
def client(idle_client: Client) -> Client:
    return idle_client
