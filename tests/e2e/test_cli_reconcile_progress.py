"""`reconcile` says how far it has come, line by line on stderr, and when it stops on an error
it says what it did first: over the CallRail stand-in serving 30 pages of one call each, the
command's own code path (cli.main) with the CallRail client sized to one call a page."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest
from dependency_injector import providers

from adapters.callrail.calls_api import CallRailCallsApi
from adapters.memory.fakes import InMemorySecretStore
from entrypoints import cli
from entrypoints.config import load_settings
from entrypoints.container import Container, build_container
from entrypoints.standins import serve
from entrypoints.standins.callrail import FakeCallRail
from tests.support import tenant_document

KEY = "crk-SECRET-progress-key-0123456789"
ACCOUNT = "ACC8154748ae6bd4e278a7cddd38a662f4f"
COMPANY = "COM8154748ae6bd4e278a7cddd38a662f4f"
PAGES = 30
SINCE = (datetime.now(UTC) - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")


class WhenWritten(io.StringIO):
    """stderr that notes, for each line, how many requests CallRail had seen when it came."""

    def __init__(self, fake: FakeCallRail):
        super().__init__()
        self.fake = fake
        self.lines: list[tuple[int, str]] = []

    def write(self, text: str) -> int:
        for line in text.splitlines():
            if line:
                self.lines.append((len(self.fake.requests), line))
        return len(text)


@attrs.define
class Operator:
    fake: FakeCallRail
    url: str
    container: Container

    def fresh_client(self) -> None:
        """A CallRail client as a new process has it (no circuit left open by a 429), sized
        to one call a page and not throttled, so 30 pages take a moment."""
        secrets = InMemorySecretStore({"callrail-acme": KEY})
        client = CallRailCallsApi(secrets, self.url, per_page=1, rate_per_s=1000.0, burst=1000)
        self.container.callrail_calls.override(providers.Object(client))

    async def run(self, *argv: str) -> tuple[int, WhenWritten]:
        """The command as main runs it, in a worker thread (main runs its own event loop)."""
        stderr = WhenWritten(self.fake)
        root = logging.getLogger()
        handlers, level = root.handlers[:], root.level  # main sets up logging for a process
        try:
            with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
                code = await asyncio.to_thread(cli.main, list(argv), self.container)
        finally:
            root.handlers[:], root.level = handlers, level
        return code, stderr


@pytest.fixture
async def operator(tmp_path: Path) -> AsyncIterator[Operator]:
    fake = FakeCallRail(api_key=KEY, account_id=ACCOUNT)
    yesterday = datetime.now(UTC) - timedelta(days=1)
    for n in range(1, PAGES + 1):
        fake.add_call(f"CAL{n:04d}", (yesterday + timedelta(minutes=n)).isoformat())
    async with serve(fake.app()) as url:
        settings = load_settings({"PIPELINE_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"})
        running = Operator(fake, url, build_container(settings))
        running.fresh_client()
        document = tenant_document(
            company_id=COMPANY, callrail_account_id=ACCOUNT, callrail_api_key_ref="callrail-acme"
        )
        path = tmp_path / "tenant.json"
        path.write_text(json.dumps(document))
        code, _ = await running.run("tenants", "create", "--file", str(path))
        assert code == 0
        yield running


async def test_a_30_page_reconcile_prints_each_page_and_each_admitted_call_as_it_goes(
    operator: Operator,
) -> None:
    code, stderr = await operator.run("reconcile", "acme", "--since", SINCE)

    assert code == 0
    expected = []
    for n in range(1, PAGES + 1):
        expected += [f"page {n} of {PAGES}: 1 call(s) listed", f"ingested CAL{n:04d}"]
    assert [line for _, line in stderr.lines] == expected
    # Each page's lines were written before the next page was asked for: progress, not a log.
    for requests_seen, line in stderr.lines:
        page = int(line.split()[1]) if line.startswith("page ") else None
        if page is not None:
            assert requests_seen == page, (requests_seen, line)


async def test_a_reconcile_stopped_by_callrail_says_what_it_did_before_and_the_next_run_resumes(
    operator: Operator,
) -> None:
    operator.fake.throttle_after(12)

    code, stderr = await operator.run("reconcile", "acme", "--since", SINCE)

    lines = [line for _, line in stderr.lines]
    assert code == 1
    assert lines[-3:-1] == [
        "ingested CAL0012",
        f"stopped at page 13 of {PAGES} after 12 call(s) listed: 12 ingested, 0 already known,"
        " 0 too recent, 0 of another company, 0 failed",
    ]
    assert lines[-1].startswith("ingestion-pipeline: CallRail's API limit is spent")
    assert all(KEY not in line for line in lines)

    operator.fake.clear_throttle()
    operator.fresh_client()
    code, stderr = await operator.run("reconcile", "acme", "--since", SINCE)

    assert code == 0
    lines = [line for _, line in stderr.lines]
    assert [line for line in lines if line.startswith("ingested")] == [
        f"ingested CAL{n:04d}" for n in range(13, PAGES + 1)
    ]
