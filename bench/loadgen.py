"""An HTTP load generator of its own, run in the benchmark's process, apart from the server.

- Open loop (`open_loop`): requests go out on a fixed schedule (request i at start + i/rate),
  whatever the server's answers do, and each latency is measured from the request's *scheduled*
  time. A server that stalls therefore shows its stall in every request scheduled during it,
  not in one request only (no coordinated omission). A client that falls behind sends the late
  requests at once, and their wait counts as latency too. Its requests are made (signed, for
  the webhooks) before its clock starts.
- Closed loop (`closed_loop`): N connections, each sending its next request when the last one
  is answered: the saturation throughput.

The client is HTTP/1.1 with keep-alive on asyncio's streaming protocol, not aiohttp's client:
it shares the machine's cores with the server it measures, and aiohttp's client took about
0.45 ms of CPU a request here, more than the hello-world server spends answering one, so at
1,000 requests a second the generator took half a core from the server it was measuring. This
one writes each request as one buffer and reads only the status line, Content-Length and
Connection of each answer (what an aiohttp server sends; a chunked answer counts as failed).

Both loops are bounded in request count and in time, and the client only ever talks to a
loopback address (it refuses any other host before connecting)."""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import attrs

from bench.common import percentile

MakeRequest = Callable[[], tuple[bytes, Mapping[str, str]]]
CpuReader = Callable[[], float]

EXCEPTIONS = (ConnectionError, TimeoutError, OSError)
MAX_HEAD = 64 * 1024  # an answer's status line and headers


class BadResponse(ConnectionError):
    """An answer this client does not read (no Content-Length, a chunked body, a bad head)."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection: one request at a time, its answer read by Content-Length."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.usable = False
        self._buffer = bytearray()
        self._waiter: asyncio.Future[int] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.usable = True

    def connection_lost(self, exc: Exception | None) -> None:
        self.usable = False
        self._fail(exc or ConnectionResetError("the server closed the connection"))

    def send(self, data: bytes, waiter: asyncio.Future[int]) -> None:
        assert self.transport is not None
        self._waiter = waiter
        self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > MAX_HEAD:
                self._fail(BadResponse("an answer's head is too long"))
            return
        try:
            status, length, close = _head(bytes(self._buffer[:end]))
        except (ValueError, IndexError) as exc:
            self._fail(BadResponse(str(exc)))
            return
        total = end + 4 + length
        if len(self._buffer) < total:
            return
        del self._buffer[:total]
        self._waiter = None
        if close:
            self.close()
        waiter.set_result(status)

    def close(self) -> None:
        self.usable = False
        if self.transport is not None:
            self.transport.close()

    def _fail(self, exc: Exception) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        self.close()


def _head(head: bytes) -> tuple[int, int, bool]:
    """(status, Content-Length, whether the server closes the connection after it)."""
    lines = head.split(b"\r\n")
    if not lines[0].startswith(b"HTTP/1."):
        raise ValueError("not an HTTP/1.x answer")
    status = int(lines[0][9:12])
    length: int | None = None
    close = lines[0].startswith(b"HTTP/1.0")
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection":
            close = value.strip().lower() == b"close"
        elif name == b"transfer-encoding":
            raise ValueError("a chunked answer")
    if length is None:
        raise ValueError("an answer without Content-Length")
    return status, length, close


class Client:
    """POSTs to one loopback URL over at most `connections` keep-alive connections; a request
    that finds them all busy waits for one (as aiohttp's connector limit does)."""

    def __init__(self, url: str, connections: int, timeout_s: float = 10.0):
        parts = urlsplit(url)
        host = parts.hostname or ""
        if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"the load generator only talks to loopback addresses, not {host}")
        self._host, self._port = host, parts.port or 80
        self._prefix = f"POST {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\n".encode()
        self._timeout_s = timeout_s
        self._slots = asyncio.Semaphore(connections)
        self._idle: list[_Connection] = []
        self._all: set[_Connection] = set()

    def render(self, body: bytes, headers: Mapping[str, str]) -> bytes:
        """The request as it goes on the wire."""
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        return b"".join(
            (self._prefix, head.encode(), b"Content-Length: %d\r\n\r\n" % len(body), body)
        )

    async def post(self, body: bytes, headers: Mapping[str, str]) -> int:
        """The answer's status; raises ConnectionError, TimeoutError or OSError."""
        return await self.send(self.render(body, headers))

    async def send(self, data: bytes) -> int:
        """`data` (a request render() made) sent; the answer's status."""
        loop = asyncio.get_running_loop()
        async with self._slots:
            connection = self._take_idle() or await self._connect()
            waiter: asyncio.Future[int] = loop.create_future()
            timer = loop.call_later(self._timeout_s, _expire, waiter, connection)
            try:
                connection.send(data, waiter)
                status = await waiter
            except BaseException:  # failed, timed out or cancelled: the connection is done for
                connection.close()
                self._all.discard(connection)
                raise
            finally:
                timer.cancel()
            if connection.usable:
                self._idle.append(connection)
            else:
                self._all.discard(connection)
            return status

    def _take_idle(self) -> _Connection | None:
        while self._idle:
            connection = self._idle.pop()
            if connection.usable:
                return connection
            self._all.discard(connection)
        return None

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        _, connection = await asyncio.wait_for(
            loop.create_connection(_Connection, self._host, self._port), self._timeout_s
        )
        self._all.add(connection)
        return connection

    def close(self) -> None:
        for connection in self._all:
            connection.close()
        self._all.clear()
        self._idle.clear()


def _expire(waiter: asyncio.Future[int], connection: _Connection) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError("no answer in time"))
    connection.close()


@asynccontextmanager
async def session(url: str, connections: int, timeout_s: float = 10.0) -> AsyncIterator[Client]:
    """A client for `url` with its own connections, closed at the end."""
    client = Client(url, connections, timeout_s)
    try:
        yield client
    finally:
        client.close()
        await asyncio.sleep(0)  # let the transports close


@attrs.frozen
class PhaseResult:
    name: str
    sent: int
    ok: int
    failed: int  # unexpected status, connection error, timeout, or not sent (client cap)
    elapsed_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    client_cpu: float  # fraction of one core the load generator used
    server_cpu: float  # fraction of one core the server used
    statuses: Mapping[str, int]

    @property
    def throughput(self) -> float:
        return self.ok / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def server_cpu_ms_per_request(self) -> float:
        """The server's CPU per answered request: its cost, whoever limited the rate."""
        return 1000 * self.server_cpu * self.elapsed_s / self.ok if self.ok else float("nan")


class _Tally:
    def __init__(self, expect: int) -> None:
        self.expect = expect
        self.latencies: list[float] = []
        self.statuses: Counter[str] = Counter()
        self.failed = 0
        self.last_done = 0.0

    def record(self, status: str, latency_s: float) -> None:
        self.statuses[status] += 1
        self.last_done = time.perf_counter()
        if status == str(self.expect):
            self.latencies.append(latency_s)
        else:
            self.failed += 1

    def result(
        self,
        name: str,
        sent: int,
        elapsed_s: float,
        client_cpu_s: float,
        server_cpu_s: float,
    ) -> PhaseResult:
        ms = [s * 1000 for s in self.latencies]
        return PhaseResult(
            name=name,
            sent=sent,
            ok=len(ms),
            failed=self.failed,
            elapsed_s=elapsed_s,
            p50_ms=percentile(ms, 50),
            p99_ms=percentile(ms, 99),
            max_ms=max(ms) if ms else float("nan"),
            client_cpu=client_cpu_s / elapsed_s if elapsed_s > 0 else float("nan"),
            server_cpu=server_cpu_s / elapsed_s if elapsed_s > 0 else float("nan"),
            statuses=dict(self.statuses),
        )


async def _send(http: Client, data: bytes, since: float, tally: _Tally) -> None:
    try:
        status = await http.send(data)
        tally.record(str(status), time.perf_counter() - since)
    except EXCEPTIONS as exc:
        tally.record(type(exc).__name__, time.perf_counter() - since)


async def open_loop(
    http: Client,
    make: MakeRequest,
    *,
    name: str,
    rate: float,
    duration_s: float,
    server_cpu: CpuReader,
    expect: int = 202,
    max_in_flight: int = 1000,
    drain_s: float = 15.0,
) -> PhaseResult:
    """`rate` requests a second for `duration_s`, latency from each scheduled time."""
    total = int(rate * duration_s)
    # Made and signed before the clock starts: the generator's CPU is the server's too.
    requests = [http.render(*make()) for _ in range(total)]
    tally = _Tally(expect)
    tasks: set[asyncio.Task[None]] = set()
    not_sent = 0
    cpu0, server0 = time.process_time(), server_cpu()
    start = time.perf_counter() + 0.01
    for i in range(total):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if len(tasks) >= max_in_flight:
            not_sent += 1  # the server is so far behind that the client gives up on it
            tally.record("not sent", 0.0)
            continue
        task = asyncio.create_task(_send(http, requests[i], scheduled, tally))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        _, pending = await asyncio.wait(set(tasks), timeout=drain_s)
        for task in pending:
            task.cancel()
        tally.failed += len(pending)
    end = max(tally.last_done, start + duration_s)
    return tally.result(
        name,
        total - not_sent,
        end - start,
        time.process_time() - cpu0,
        server_cpu() - server0,
    )


async def closed_loop(
    http: Client,
    make: MakeRequest,
    *,
    name: str,
    connections: int,
    duration_s: float,
    server_cpu: CpuReader,
    expect: int = 202,
    max_requests: int = 200_000,
) -> PhaseResult:
    """`connections` senders back to back for `duration_s` (or `max_requests` in all)."""
    tally = _Tally(expect)
    sent = 0
    cpu0, server0 = time.process_time(), server_cpu()
    start = time.perf_counter()
    deadline = start + duration_s

    async def sender() -> None:
        nonlocal sent
        while time.perf_counter() < deadline and sent < max_requests:
            sent += 1
            await _send(http, http.render(*make()), time.perf_counter(), tally)

    await asyncio.gather(*(sender() for _ in range(connections)))
    end = time.perf_counter()
    return tally.result(
        name,
        sent,
        end - start,
        time.process_time() - cpu0,
        server_cpu() - server0,
    )
