"""A disk that takes no more bytes, for real: the serving process is given a file-size limit
(RLIMIT_FSIZE) of one byte, so every write that grows a file fails in the kernel, as on a full
disk. Webhooks are answered 503 with Retry-After within seconds, readiness says not ready, and
both come back by themselves once the limit is lifted."""

from __future__ import annotations

import json
import resource
import time
import urllib.error
import urllib.request
from pathlib import Path

from domain.webhook import sign
from tests.e2e.process import ServiceProcess
from tests.support import tenant_document

TOKEN = "full-disk-operator-token"
KEY = "full-disk-signing-key"


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def webhook(service: ServiceProcess, call_id: str) -> tuple[int, dict[str, str], bytes]:
    body = json.dumps({"resource_id": call_id, "company_id": "888", "answered": "false"}).encode()
    headers = {"Content-Type": "application/json", "Signature": sign(KEY, body)}
    return post(f"{service.url}/v1/callrail/webhook", body, headers)


def ready(service: ServiceProcess) -> int:
    try:
        with urllib.request.urlopen(f"{service.url}/health/ready", timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_a_full_disk_answers_503_quickly_and_the_service_recovers(tmp_path: Path) -> None:
    service = ServiceProcess(tmp_path, {"PIPELINE_OPERATOR_TOKEN": TOKEN})
    try:
        service.start()
        assert service.process is not None
        auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        document = json.dumps(tenant_document(company_id="888", secret=KEY)).encode()
        assert post(f"{service.url}/v1/tenants", document, auth)[0] == 201
        assert webhook(service, "CALBEFORE")[0] == 202

        pid = service.process.pid
        limits = resource.prlimit(pid, resource.RLIMIT_FSIZE)
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (1, limits[1]))
        try:
            started = time.monotonic()
            status, headers, body = webhook(service, "CALFULL")
            took = time.monotonic() - started
            assert status == 503, body
            assert headers["Content-Type"].startswith("application/problem+json")
            assert headers.get("Retry-After")
            assert took < 5
            assert ready(service) == 503, "not ready while nothing can be written"
        finally:
            resource.prlimit(pid, resource.RLIMIT_FSIZE, limits)

        deadline = time.monotonic() + 15
        while ready(service) != 200:
            assert time.monotonic() < deadline, "readiness did not come back by itself"
            time.sleep(0.2)
        assert webhook(service, "CALAFTER")[0] == 202
        assert service.process.poll() is None, "the service kept running throughout"
    finally:
        service.stop()
