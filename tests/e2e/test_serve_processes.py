"""`serve --processes N` as real processes: every process answers on the one port, a scrape adds
up all of them, the calls any of them admits are worked by the primary, and the secondaries
neither outlive the primary nor stay dead while it runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from domain.webhook import sign
from tests.e2e.process import BIN, ServiceProcess
from tests.support import tenant_document

TOKEN = "processes-operator-token"
KEY = "processes-signing-key"
WEBHOOK = "/v1/callrail/webhook"


def http(url: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> Any:
    request = urllib.request.Request(
        url, data=body, headers=headers or {}, method="POST" if body else "GET"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read()
    return json.loads(text) if text.startswith(b"{") else text.decode()


def secondaries(service: ServiceProcess) -> list[int]:
    found = []
    for pid in service.children():
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except FileNotFoundError:
            continue
        if b"--listen-fd" in cmdline:
            found.append(pid)
    return found


def group_dir(service: ServiceProcess) -> Path:
    cmdline = Path(f"/proc/{secondaries(service)[0]}/cmdline").read_bytes().split(b"\0")
    return Path(cmdline[cmdline.index(b"--group-dir") + 1].decode())


def wait_for(what: str, check: Any, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def webhooks_counted(text: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "pipeline_http_requests_total" and sample.labels["route"] == WEBHOOK
    )


async def own_figures(socket_path: Path) -> str:
    """One process's own metrics, from its socket in the group's directory."""
    connector = aiohttp.UnixConnector(path=str(socket_path))
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        session.get("http://localhost/v1/metrics") as response,
    ):
        return await response.text()


@pytest.fixture
def service(tmp_path: Path) -> Iterator[ServiceProcess]:
    running = ServiceProcess(
        tmp_path, {"PIPELINE_OPERATOR_TOKEN": TOKEN}, args=("--processes", "3")
    )
    try:
        running.start()
        wait_for("the two secondaries", lambda: len(secondaries(running)) == 2)
        wait_for(
            "every process's socket", lambda: len(list(group_dir(running).glob("*.sock"))) == 3
        )
        auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        document = json.dumps(tenant_document(company_id="777", secret=KEY)).encode()
        http(f"{running.url}/v1/tenants", document, auth)
        yield running
    finally:
        running.stop()


def post_call(service: ServiceProcess, n: int) -> None:
    body = json.dumps(
        {"resource_id": f"CALPROC{n:04d}", "company_id": "777", "answered": "false"}
    ).encode()
    headers = {"Content-Type": "application/json", "Signature": sign(KEY, body)}
    answer = http(f"{service.url}{WEBHOOK}", body, headers)
    assert answer["call_id"] == f"CALPROC{n:04d}"


async def test_every_process_serves_and_a_scrape_adds_them_all_up(
    service: ServiceProcess,
) -> None:
    sockets = sorted(group_dir(service).glob("*.sock"))
    sent = 0
    deadline = time.monotonic() + 60
    with ThreadPoolExecutor(12) as pool:
        # A new connection per request: each goes to whichever process accepts it first.
        while True:
            list(pool.map(lambda n: post_call(service, n), range(sent, sent + 48)))
            sent += 48
            per_process = [webhooks_counted(await own_figures(s)) for s in sockets]
            if all(per_process):
                break
            assert time.monotonic() < deadline, f"not every process served: {per_process}"
    assert sum(per_process) == sent

    scraped = webhooks_counted(http(f"{service.url}/v1/metrics"))
    assert scraped == sent, "a scrape, whichever process answers it, counts every process"

    # Only the primary works the queue: it finds the calls the secondaries admitted too.
    auth = {"Authorization": f"Bearer {TOKEN}"}

    def worked() -> bool:
        calls = http(f"{service.url}/v1/tenants/acme/calls?limit=200&status=received", headers=auth)
        return not calls["calls"]

    wait_for("every call to be worked", worked, timeout_s=60)


def test_the_secondaries_stop_with_the_primary(service: ServiceProcess) -> None:
    others, directory = secondaries(service), group_dir(service)
    assert service.process is not None
    service.process.send_signal(signal.SIGTERM)
    service.process.wait(timeout=40)
    assert service.process.returncode == 0
    assert not any(alive(pid) for pid in others)
    assert not directory.exists(), "the group's directory is removed"


def test_the_secondaries_do_not_outlive_a_killed_primary(service: ServiceProcess) -> None:
    others = secondaries(service)
    service.kill()
    wait_for("the secondaries to stop", lambda: not any(alive(pid) for pid in others), 15)


def test_a_secondary_that_dies_is_started_again(service: ServiceProcess) -> None:
    first = secondaries(service)
    os.kill(first[0], signal.SIGKILL)
    wait_for(
        "a new secondary",
        lambda: len(secondaries(service)) == 2 and first[0] not in secondaries(service),
    )
    assert first[1] in secondaries(service)
    for n in range(20):
        post_call(service, n)
    # Its socket is replaced too: a scrape reaches every process again.
    wait_for("three sockets", lambda: len(list(group_dir(service).glob("*.sock"))) == 3)
    assert webhooks_counted(http(f"{service.url}/v1/metrics")) >= 20


@pytest.mark.parametrize(
    ("args", "env", "said"),
    [
        (("--processes", "0"), {}, "ingestion-pipeline: --processes must be between 1 and 16"),
        (
            (),
            {"PIPELINE_HTTP_PROCESSES": "many"},
            "PIPELINE_HTTP_PROCESSES: 'many' is not a number",
        ),
        (
            (),
            {"PIPELINE_EVENT_LOOP": "tokio"},
            "PIPELINE_EVENT_LOOP: 'tokio' is not one of auto, uvloop, asyncio",
        ),
    ],
)
def test_a_bad_process_count_is_one_readable_line(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], said: str
) -> None:
    done = subprocess.run(
        [str(BIN / "ingestion-pipeline"), "serve", "--host", "127.0.0.1", *args],
        cwd=tmp_path,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert said in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def runs_uvloop(pid: int) -> bool:
    """Whether uvloop's compiled loop is loaded in the process (only entrypoints.loops loads
    it, to make the loop `serve` runs on)."""
    return any(
        "uvloop/loop." in line for line in Path(f"/proc/{pid}/maps").read_text().splitlines()
    )


def test_every_process_runs_on_uvloop_unless_told_otherwise(
    service: ServiceProcess, tmp_path: Path
) -> None:
    assert service.process is not None
    pids = [service.process.pid, *secondaries(service)]
    assert len(pids) == 3
    assert all(runs_uvloop(pid) for pid in pids)
    post_call(service, 1)

    plain = ServiceProcess(
        tmp_path / "asyncio", {"PIPELINE_EVENT_LOOP": "asyncio"}, args=("--processes", "2")
    )
    plain.workdir.mkdir()
    try:
        plain.start()
        wait_for("the secondary", lambda: len(secondaries(plain)) == 1)
        assert plain.process is not None
        assert not any(runs_uvloop(pid) for pid in [plain.process.pid, *secondaries(plain)])
        with urllib.request.urlopen(f"{plain.url}/health/ready", timeout=10) as ready:
            assert ready.status == 200
    finally:
        plain.stop()


def test_a_second_service_on_the_same_port_is_refused(service: ServiceProcess) -> None:
    """Each process has a socket of its own on the port (SO_REUSEPORT), which would let
    another `serve` join them and take a share of the calls: it is refused instead."""
    done = subprocess.run(
        [str(BIN / "ingestion-pipeline"), "serve", "--host", "127.0.0.1", "--processes", "2"],
        cwd=service.workdir,
        env={**service.env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{service.port}" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    post_call(service, 1)  # the first one still answers
