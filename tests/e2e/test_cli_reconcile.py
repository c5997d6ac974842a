"""`ingestion-pipeline reconcile` as an operator runs it: the real command in its own process,
reading the CallRail stand-in on 127.0.0.1 through PIPELINE_CALLRAIL_API_BASE, with the tenant's
API key from an environment secret."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest

from entrypoints.standins import serve
from entrypoints.standins.callrail import FakeCallRail
from tests.e2e.process import BIN
from tests.support import tenant_document

KEY = "crk-SECRET-e2e-callrail-key-0123456789"
ACCOUNT = "ACC8154748ae6bd4e278a7cddd38a662f4f"
COMPANY = "COM8154748ae6bd4e278a7cddd38a662f4f"
# The command reads the real clock: the calls are from yesterday, the window from three days ago.
YESTERDAY = datetime.now(UTC) - timedelta(days=1)
SINCE = (datetime.now(UTC) - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")


@attrs.frozen
class Result:
    code: int
    stdout: str
    stderr: str


@attrs.define
class Operator:
    workdir: Path
    fake: FakeCallRail
    env: dict[str, str]

    async def run(self, *args: str, key: str = KEY) -> Result:
        env = {**self.env, "PIPELINE_SECRET_CALLRAIL_ACME": key}
        process = await asyncio.create_subprocess_exec(
            str(BIN / "ingestion-pipeline"),
            *args,
            env=env,
            cwd=self.workdir,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), timeout=60)
        assert process.returncode is not None
        return Result(process.returncode, out.decode(), err.decode())

    async def create_tenant(self, api_key_ref: str | None = "callrail-acme") -> None:
        document = tenant_document(
            company_id=COMPANY, callrail_account_id=ACCOUNT, callrail_api_key_ref=api_key_ref
        )
        path = self.workdir / "tenant.json"
        path.write_text(json.dumps(document))
        created = await self.run("tenants", "create", "--file", str(path))
        assert created.code == 0, created.stderr


@pytest.fixture
async def operator(tmp_path: Path) -> AsyncIterator[Operator]:
    fake = FakeCallRail(api_key=KEY, account_id=ACCOUNT)
    async with serve(fake.app()) as url:
        env = {
            **os.environ,
            "PIPELINE_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
            "PIPELINE_CALLRAIL_API_BASE": url,
        }
        env.pop("PIPELINE_OPERATOR_TOKEN", None)
        yield Operator(tmp_path, fake, env)


def add_calls(fake: FakeCallRail, *call_ids: str) -> None:
    for n, call_id in enumerate(call_ids):
        started = YESTERDAY + timedelta(minutes=n)
        fake.add_call(call_id, started.isoformat(), loose_types=n % 2 == 1)


async def test_reconcile_ingests_the_missing_calls_once_and_says_what_it_did(
    operator: Operator,
) -> None:
    await operator.create_tenant()
    add_calls(operator.fake, "CAL0001", "CAL0002", "CAL0003")
    operator.fake.add_call("CALbad", YESTERDAY.isoformat(), duration="forty")

    first = await operator.run("reconcile", "acme", "--since", SINCE)
    second = await operator.run("reconcile", "acme", "--since", SINCE)

    assert first.code == 0, first.stderr
    *calls, summary = first.stdout.strip().splitlines()
    assert [line.split()[:2] for line in calls] == [
        ["ingested", "CAL0001"],
        ["ingested", "CAL0002"],
        ["ingested", "CAL0003"],
        ["failed", "CALbad:"],
    ]
    assert "duration: must be a whole number" in calls[-1]
    assert summary.startswith("acme: 4 call(s) listed since ")
    assert "3 ingested, 0 already known" in summary
    assert "1 failed" in summary
    assert second.code == 0, second.stderr
    assert [line.split()[0] for line in second.stdout.strip().splitlines()[:3]] == ["known"] * 3
    assert "0 ingested, 3 already known" in second.stdout
    for result in (first, second):
        assert KEY not in result.stdout + result.stderr

    listed = await operator.run("calls", "list", "acme", "--json")
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert sorted(r["call_id"] for r in rows) == ["CAL0001", "CAL0002", "CAL0003"]
    assert {r["status"] for r in rows} == {"received"}
    shown = json.loads((await operator.run("calls", "show", "acme", "CAL0002")).stdout)
    assert shown["metadata"]["duration_s"] == 42  # "42" in CallRail's answer


async def test_reconcile_errors_are_one_line_and_non_zero(operator: Operator) -> None:
    await operator.create_tenant()
    add_calls(operator.fake, "CAL0001")
    wrong_key = "crk-SECRET-not-the-key-9876543210"

    refused = await operator.run("reconcile", "acme", "--since", SINCE, key=wrong_key)
    operator.fake.throttle_after(0)
    limited = await operator.run("reconcile", "acme", "--since", SINCE)
    cases = [
        (refused, 1, "CallRail refused the API key"),
        (limited, 1, "try again in 300 s"),
        (await operator.run("reconcile", "nobody", "--since", SINCE), 1, "no tenant nobody"),
        (await operator.run("reconcile", "acme", "--since", "yesterday"), 2, "--since"),
        (await operator.run("reconcile", "acme", "--since", "2026-03-01T00:00"), 2, "offset"),
        (await operator.run("reconcile", "acme", "--since", "2999-01-01T00:00Z"), 1, "future"),
        # A time that exists only in its own offset (year 10000 in UTC).
        (
            await operator.run("reconcile", "acme", "--since", "9999-12-31T23:59:59-23:59"),
            2,
            "offset",
        ),
    ]
    stopped_on_page_1 = (
        "stopped at page 1 after 0 call(s) listed: 0 ingested, 0 already known, 0 too recent,"
        " 0 of another company, 0 failed"
    )
    for n, (result, code, words) in enumerate(cases):
        assert result.code == code, result.stderr
        # One line for the error; a failure while reading CallRail says first what was done.
        *before, error = result.stderr.splitlines()
        assert before == ([stopped_on_page_1] if n < 2 else []), result.stderr
        assert error.startswith("ingestion-pipeline: ")
        assert words in error
        assert "Traceback" not in result.stderr
        assert result.stdout == ""
        assert KEY not in result.stderr
        assert wrong_key not in result.stderr


async def test_a_tenant_without_an_api_key_is_told_what_to_configure(operator: Operator) -> None:
    await operator.create_tenant(api_key_ref=None)

    result = await operator.run("reconcile", "acme", "--since", SINCE)

    assert result.code == 1
    assert result.stderr.count("\n") == 1
    assert "callrail_api_key" in result.stderr
    assert operator.fake.requests == []
