"""Intake at saturation: how many signed webhooks a second one `serve` process answers.

`serve` runs as `make run` runs it (one process, SQLite with synchronous=FULL, the default),
with PIPELINE_WORKER_CONCURRENCY=0 so that it only accepts calls. The load generator
(bench/loadgen.py, in this process) keeps 64 connections busy, each sending its next webhook
as soon as the last is answered, for 10 s after a 2-s warm-up. Every webhook is a new call
signed with the tenant's key: verified, stored with its job, answered 202.

The hello-world (bench/hello.py) then gets the same load; its rate is printed as a reference
for this machine, not judged.
"""

from __future__ import annotations

import asyncio
import functools
import sys
import tempfile
from pathlib import Path

from bench.common import (
    WEBHOOK_PATH,
    Check,
    ServerProcess,
    fmt,
    running,
    service,
    tenant_document,
    webhooks,
)
from bench.loadgen import PhaseResult, closed_loop, session

TARGET_PER_S = 1000.0
CONNECTIONS = 64
COMPANY_ID, SIGNING_KEY = "155920786", "bench-signing-key"


async def saturate(server: ServerProcess, seconds: float) -> PhaseResult:
    make = functools.partial(next, webhooks(COMPANY_ID, SIGNING_KEY, "CALSAT"))
    url = server.url + WEBHOOK_PATH
    async with session(url, 8) as http:
        await closed_loop(
            http, make, name="warm-up", connections=8, duration_s=2.0, server_cpu=server.cpu_s
        )
    async with session(url, CONNECTIONS) as http:
        return await closed_loop(
            http,
            make,
            name="saturation",
            connections=CONNECTIONS,
            duration_s=seconds,
            server_cpu=server.cpu_s,
        )


def describe(label: str, p: PhaseResult) -> str:
    return (
        f"  {label}: {fmt(p.throughput)} req/s ({p.ok} answered, {p.failed} failed), p50 "
        f"{fmt(p.p50_ms)} ms, p99 {fmt(p.p99_ms)} ms, {fmt(p.server_cpu_ms_per_request)} "
        f"server CPU ms a request, load generator {p.client_cpu:.0%} of a core"
    )


def run(seconds: float = 10.0) -> tuple[list[Check], list[str]]:
    """The saturation check, and the hello-world's rate as a reference line."""
    print(f"\n== intake: {CONNECTIONS} connections, {seconds:.0f} s ==", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-intake-") as tmp:
        workdir = Path(tmp)
        env = {"PIPELINE_WORKER_CONCURRENCY": "0"}
        tenant = tenant_document("bench-tenant", COMPANY_ID, SIGNING_KEY)
        with service(workdir / "service", env, [tenant]) as serving:
            measured = asyncio.run(saturate(serving, seconds))
        print(describe("service", measured), flush=True)
        hello = ServerProcess("hello", [sys.executable, "-m", "bench.hello"], workdir)
        with running(hello):
            reference = asyncio.run(saturate(hello, seconds))
        print(describe("hello-world", reference), flush=True)
    check = Check(
        "intake",
        "saturation, one serve process",
        measured.throughput,
        TARGET_PER_S,
        "webhooks/s",
        higher_is_better=True,
        note=f"p99 {fmt(measured.p99_ms)} ms at {CONNECTIONS} connections",
        failures=measured.failed,
    )
    line = (
        f"reference: aiohttp hello-world, one process, same load: {fmt(reference.throughput)}"
        f" req/s (not a target; the load generator used {reference.client_cpu:.0%} of a core)"
    )
    return [check], [line]
