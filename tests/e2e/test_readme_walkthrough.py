"""The README's curl walk-through, run verbatim against a freshly started service."""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.process import ServiceProcess

README = Path(__file__).parents[2] / "README.md"


def walkthrough() -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(
        r"<!-- walkthrough:start -->\s*```bash\n(.*?)```\s*<!-- walkthrough:end -->", text, re.S
    )
    assert match, "README.md has no walk-through block between the markers"
    return match.group(1)


@pytest.fixture
def service(tmp_path: Path) -> Iterator[ServiceProcess]:
    process = ServiceProcess(tmp_path, {"PIPELINE_OPERATOR_TOKEN": "dev-token"})
    process.start()
    yield process
    process.stop()


def test_readme_walkthrough_shows_the_call_received(
    service: ServiceProcess, tmp_path: Path
) -> None:
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", walkthrough()],
        env={"BASE": service.url, "TOKEN": "dev-token", "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    created, accepted, call = (json.loads(line) for line in result.stdout.strip().splitlines())
    assert created["tenant_id"] == "demo-tenant-001"
    assert created["config"]["webhook_secret"] == "***"
    assert accepted == {
        "tenant_id": "demo-tenant-001",
        "call_id": "CAL0001",
        "status": "received",
        "stage": "RECEIVED",
        "duplicate": False,
    }
    assert call["stage"] in (
        "RECEIVED",
        "RECORDING_STORED",
        "TRANSCRIBED",
        "ANALYZED",
        "SCORED",
        "SYNCED",
        "COMPLETED",
    )
    assert call["metadata"]["caller"] == "+13035550142"
    assert call["metadata"]["duration_s"] == 95
    # The worker then takes it all the way: no recording, so scored from its metadata.
    finished = wait_for_stage(service.url, "COMPLETED")
    assert finished["lead_score"]["tier"] in ("hot", "warm", "cold")
    assert [e["stage"] for e in finished["timeline"] if e.get("skipped")] == [
        "RECORDING_STORED",
        "TRANSCRIBED",
        "SYNCED",
    ]


def wait_for_stage(base: str, stage: str, timeout_s: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    request = urllib.request.Request(
        f"{base}/v1/tenants/demo-tenant-001/calls/CAL0001",
        headers={"Authorization": "Bearer dev-token"},
    )
    while True:
        with urllib.request.urlopen(request, timeout=5) as response:
            call: dict[str, Any] = json.loads(response.read())
        if call["stage"] == stage or time.monotonic() > deadline:
            assert call["stage"] == stage, call
            return call
        time.sleep(0.1)
