"""An HTTP load generator on aiohttp's client, run in its own process, apart from the server.

- Open loop (`open_loop`): requests go out on a fixed schedule (request i at start + i/rate),
  whatever the server's answers do, and each latency is measured from the request's *scheduled*
  time. A server that stalls therefore shows its stall in every request scheduled during it,
  not in one request only (no coordinated omission). A client that falls behind sends the late
  requests at once, and their wait counts as latency too.
- Closed loop (`closed_loop`): N connections, each sending its next request when the last one
  is answered: the saturation throughput.

Both are bounded in request count and in time, and only ever talk to the URL they are given
(loopback, in the benchmarks)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Mapping

import aiohttp
import attrs

from bench.common import percentile

MakeRequest = Callable[[], tuple[bytes, Mapping[str, str]]]
CpuReader = Callable[[], float]

EXCEPTIONS = (aiohttp.ClientError, TimeoutError, OSError)


@attrs.frozen
class PhaseResult:
    name: str
    mode: str  # "open" or "closed"
    offered_rps: float | None
    connections: int | None
    sent: int
    ok: int
    failed: int  # unexpected status, connection error, timeout, or not sent (client cap)
    elapsed_s: float
    p50_ms: float
    p90_ms: float
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
        mode: str,
        offered: float | None,
        connections: int | None,
        sent: int,
        elapsed_s: float,
        client_cpu_s: float,
        server_cpu_s: float,
    ) -> PhaseResult:
        ms = [s * 1000 for s in self.latencies]
        return PhaseResult(
            name=name,
            mode=mode,
            offered_rps=offered,
            connections=connections,
            sent=sent,
            ok=len(ms),
            failed=self.failed,
            elapsed_s=elapsed_s,
            p50_ms=percentile(ms, 50),
            p90_ms=percentile(ms, 90),
            p99_ms=percentile(ms, 99),
            max_ms=max(ms) if ms else float("nan"),
            client_cpu=client_cpu_s / elapsed_s if elapsed_s > 0 else float("nan"),
            server_cpu=server_cpu_s / elapsed_s if elapsed_s > 0 else float("nan"),
            statuses=dict(self.statuses),
        )


async def settle(server_cpu: CpuReader, idle: float = 0.05, limit_s: float = 15.0) -> None:
    """Waits (up to `limit_s`) until the server uses less than `idle` of a core: work left over
    from one phase (requests the client gave up on) must not run into the next."""
    deadline = time.perf_counter() + limit_s
    while time.perf_counter() < deadline:
        before = server_cpu()
        await asyncio.sleep(0.25)
        if (server_cpu() - before) / 0.25 < idle:
            return


def session(connections: int, timeout_s: float = 10.0) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=connections, limit_per_host=connections),
        timeout=aiohttp.ClientTimeout(total=timeout_s),
    )


async def _send(
    http: aiohttp.ClientSession, url: str, make: MakeRequest, since: float, tally: _Tally
) -> None:
    body, headers = make()
    try:
        async with http.post(url, data=body, headers=headers) as response:
            await response.read()
            tally.record(str(response.status), time.perf_counter() - since)
    except EXCEPTIONS as exc:
        tally.record(type(exc).__name__, time.perf_counter() - since)


async def open_loop(
    http: aiohttp.ClientSession,
    url: str,
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
        task = asyncio.create_task(_send(http, url, make, scheduled, tally))
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
        "open",
        rate,
        None,
        total - not_sent,
        end - start,
        time.process_time() - cpu0,
        server_cpu() - server0,
    )


async def closed_loop(
    http: aiohttp.ClientSession,
    url: str,
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
            await _send(http, url, make, time.perf_counter(), tally)

    await asyncio.gather(*(sender() for _ in range(connections)))
    end = time.perf_counter()
    return tally.result(
        name,
        "closed",
        None,
        connections,
        sent,
        end - start,
        time.process_time() - cpu0,
        server_cpu() - server0,
    )
