"""No accepted call is ever lost: a 202 means the call and its job are on disk."""

from __future__ import annotations

import json
import sqlite3
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.process import ServiceProcess
from tests.support import callrail_body, signed_headers, tenant_document

TOKEN = "durability-operator-token"


def request(
    url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    req = urllib.request.Request(
        url, data=body, headers=headers or {}, method="POST" if body else "GET"
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture
def service(tmp_path: Path) -> Iterator[ServiceProcess]:
    # No in-process workers: the job must still be pending when the service comes back.
    process = ServiceProcess(
        tmp_path, {"PIPELINE_OPERATOR_TOKEN": TOKEN, "PIPELINE_WORKER_CONCURRENCY": "0"}
    )
    yield process
    process.stop()


def test_call_and_job_survive_sigkill_right_after_202(
    service: ServiceProcess, tmp_path: Path
) -> None:
    service.start()
    auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    status, _ = request(f"{service.url}/v1/tenants", json.dumps(tenant_document()).encode(), auth)
    assert status == 201

    body = callrail_body("KILL1")
    status, answer = request(f"{service.url}/v1/callrail/webhook", body, signed_headers(body))
    assert status == 202, answer
    service.kill()

    # The file as the next process finds it, before the service is back.
    with sqlite3.connect(tmp_path / "data" / "pipeline.db") as conn:
        assert conn.execute("SELECT stage FROM calls WHERE call_id = 'CALKILL1'").fetchall() == [
            ("RECEIVED",)
        ]
        assert conn.execute("SELECT count(*) FROM jobs WHERE call_id = 'CALKILL1'").fetchone() == (
            1,
        )

    service.start()
    status, raw = request(
        f"{service.url}/v1/tenants/acme/calls/CALKILL1",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert status == 200
    assert json.loads(raw)["stage"] == "RECEIVED"
    status, raw = request(f"{service.url}/v1/health")
    assert json.loads(raw)["services"]["queue"]["depth"] == 1
    # And the restarted service still deduplicates it.
    status, raw = request(f"{service.url}/v1/callrail/webhook", body, signed_headers(body))
    assert status == 200
    assert json.loads(raw)["duplicate"] is True
