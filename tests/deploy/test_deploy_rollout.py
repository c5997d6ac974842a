"""deploy.sh's rollout against a stand-in gcloud (a script that logs what it is asked and answers
the describe queries as Cloud Run would) and a real HTTP server on loopback as the new
revision's tagged URL: readiness is checked with curl, traffic moves step by step, and a failed
check puts all traffic back on the revision that served before."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FAKE_GCLOUD = r"""#!/usr/bin/env bash
printf '%s\n' "$*" >>"$FAKE_GCLOUD_LOG"
case " $* " in
  *" projects describe "*) echo 123456789012 ;;
  *" auth print-identity-token "*) exit 1 ;;
  *" run services describe "*--flatten=status.traffic*)
    printf '100\t%s-old\t\t\n0\t%s-r7\tcandidate\t%s\n' "$4" "$4" "$FAKE_READY_URL" ;;
  *" run services describe "*) echo "$FAKE_READY_URL" ;;
esac
exit 0
"""


class Readiness:
    """/health/ready answers the statuses given, then the last one for ever."""

    def __init__(self, statuses: list[int]):
        self.statuses = statuses
        self.asked = 0

    def next(self) -> int:
        status = self.statuses[min(self.asked, len(self.statuses) - 1)]
        self.asked += 1
        return status


@pytest.fixture
def readiness() -> Iterator[tuple[Readiness, str]]:
    state = Readiness([200])

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status = state.next() if self.path == "/health/ready" else 404
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def deploy(tmp_path: Path, url: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "gcloud").write_text(FAKE_GCLOUD)
    (bin_dir / "gcloud").chmod(0o755)
    log = tmp_path / "gcloud.log"
    log.touch()
    (tmp_path / "rendered").mkdir()
    result = subprocess.run(
        ["bash", str(ROOT / "deploy" / "deploy.sh")],
        env={
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "HOME": str(tmp_path),
            "FAKE_GCLOUD_LOG": str(log),
            "FAKE_READY_URL": url,
            "PROJECT_ID": "acme-calls",
            "ONLY": "services",
            "SKIP_BUILD": "true",
            "TAG": "3f2a9c1",
            "REVISION_SUFFIX": "r7",
            "RENDER_DIR": str(tmp_path / "rendered"),
            "ROLLOUT_WAIT_S": "0",
            "READY_ATTEMPTS": "2",
            "READY_INTERVAL_S": "0",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return result, log.read_text().splitlines()


def traffic(log: list[str], service: str) -> list[str]:
    return [
        line.split()[-1]
        for line in log
        if line.startswith(f"run services update-traffic {service} ")
    ]


def test_a_healthy_revision_takes_the_traffic_in_steps(
    tmp_path: Path, readiness: tuple[Readiness, str]
) -> None:
    state, url = readiness
    result, log = deploy(tmp_path, url)
    assert result.returncode == 0, result.stderr
    for service in ("ingestion-worker", "ingestion-webhook", "ingestion-api"):
        assert traffic(log, service) == [
            f"--to-revisions={service}-r7=10",
            f"--to-revisions={service}-r7=50",
            "--to-latest",
        ]
    assert state.asked == 3 * 4  # before the first step and after each
    assert any(line.startswith("pubsub subscriptions update call-jobs-worker-push") for line in log)


def test_a_revision_that_is_never_ready_gets_no_traffic(
    tmp_path: Path, readiness: tuple[Readiness, str]
) -> None:
    state, url = readiness
    state.statuses = [503]
    result, log = deploy(tmp_path, url)
    assert result.returncode != 0
    assert traffic(log, "ingestion-worker") == ["--to-revisions=ingestion-worker-old=100"]
    assert "rolled back to ingestion-worker-old" in result.stderr
    # it stopped there: the other services were left as they were
    assert not [line for line in log if "ingestion-webhook" in line or "webhook.yaml" in line]
    assert state.asked == 2  # READY_ATTEMPTS


def test_a_revision_that_fails_after_the_first_step_is_rolled_back(
    tmp_path: Path, readiness: tuple[Readiness, str]
) -> None:
    state, url = readiness
    state.statuses = [200, 503]
    result, log = deploy(tmp_path, url)
    assert result.returncode != 0
    assert traffic(log, "ingestion-worker") == [
        "--to-revisions=ingestion-worker-r7=10",
        "--to-revisions=ingestion-worker-old=100",
    ]
    assert "failed at 10 %" in result.stderr
