"""The Secret Manager SecretStore against a fake of the service's REST API on 127.0.0.1, spoken
to by the real client library (transport="rest"). The fake answers what the service answers:
GET /v1/projects/P/secrets/S/versions/V:access -> {"name", "payload": {"data", "dataCrc32c"}},
and {"error": {"code", "message", "status"}} otherwise.

FakeSecretManager lives here, not in a support module, because the SecretStore contract suite
imports it from this module."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import threading
import time
import traceback
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import google_crc32c
import pytest
from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud.secretmanager import SecretManagerServiceClient

from adapters.memory.fakes import FixedClock
from adapters.secretmanager.store import (
    SecretManagerSecretStore,
    SecretManagerUnavailable,
    secret_id_of,
)
from domain.errors import SecretNotFound, StorageUnavailable, TransientFailure

PROJECT = "acme-prod"
_ACCESS = re.compile(r"^/v1/projects/([^/]+)/secrets/([^/]+)/versions/([^/:]+):access$")
_STATUS = {
    400: "FAILED_PRECONDITION",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
}


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that timed out and hung up: expected in these tests


class FakeSecretManager:
    """Secret Manager's access method over HTTP/JSON, one thread per request."""

    def __init__(self) -> None:
        self.secrets: dict[str, str] = {}  # secret id -> value of its latest version
        self.requests: list[str] = []
        self.fail_with: int | None = None
        self.delay_s = 0.0
        self.corrupt = False
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._answer(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def replace(self, secrets: dict[str, str]) -> None:
        """As an operator would: new versions for these names, every other secret deleted."""
        self.secrets = {secret_id_of(name): value for name, value in secrets.items()}

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def client(self) -> SecretManagerServiceClient:
        return SecretManagerServiceClient(
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            transport="rest",
            client_options=ClientOptions(api_endpoint=self.url),
        )

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        path = handler.path.partition("?")[0]
        self.requests.append(path)
        if self.delay_s:
            time.sleep(self.delay_s)
        found = _ACCESS.match(path)
        if self.fail_with is not None:
            return self._error(handler, self.fail_with, "The service is currently unavailable.")
        if found is None:
            return self._error(handler, 404, "Method not found.")
        project, secret, _ = found.groups()
        value = self.secrets.get(secret) if project == PROJECT else None
        if value is None:
            message = f"Secret [projects/123456789/secrets/{secret}] not found or has no versions."
            return self._error(handler, 404, message)
        data = value.encode()
        crc = google_crc32c.value(data) ^ (1 if self.corrupt else 0)
        body = {
            "name": f"projects/123456789/secrets/{secret}/versions/3",
            "payload": {"data": base64.b64encode(data).decode(), "dataCrc32c": str(crc)},
        }
        self._send(handler, 200, body)

    def _error(self, handler: BaseHTTPRequestHandler, code: int, message: str) -> None:
        status = _STATUS.get(code, "UNAVAILABLE")
        self._send(handler, code, {"error": {"code": code, "message": message, "status": status}})

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, code: int, document: object) -> None:
        raw = json.dumps(document).encode()
        handler.send_response(code)
        handler.send_header("Content-Type", "application/json; charset=UTF-8")
        handler.send_header("Content-Length", str(len(raw)))
        handler.end_headers()
        handler.wfile.write(raw)


@pytest.fixture
def fake() -> Iterator[FakeSecretManager]:
    fake = FakeSecretManager()
    fake.replace({"hubspot/acme-token": "pat-na1-11111111-aaaa"})
    yield fake
    fake.stop()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def store(fake: FakeSecretManager, clock: FixedClock) -> Iterator[SecretManagerSecretStore]:
    store = SecretManagerSecretStore(fake.client(), PROJECT, clock=clock, ttl_s=300)
    yield store
    store.close()


def shown(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc)


async def test_a_reference_reads_the_latest_version_of_its_mangled_id(
    store: SecretManagerSecretStore, fake: FakeSecretManager
) -> None:
    assert await store.resolve("hubspot/acme-token") == "pat-na1-11111111-aaaa"
    assert fake.requests == [
        f"/v1/projects/{PROJECT}/secrets/hubspot_acme-token/versions/latest:access"
    ]


async def test_a_full_resource_name_is_used_as_it_is(
    store: SecretManagerSecretStore, fake: FakeSecretManager
) -> None:
    name = f"projects/{PROJECT}/secrets/hubspot_acme-token/versions/7"
    assert await store.resolve(name) == "pat-na1-11111111-aaaa"
    assert fake.requests == [f"/v1/{name}:access"]


async def test_many_resolves_within_the_ttl_cost_one_request(
    store: SecretManagerSecretStore, fake: FakeSecretManager, clock: FixedClock
) -> None:
    together = await asyncio.gather(*(store.resolve("hubspot/acme-token") for _ in range(20)))
    clock.advance(299)
    one_by_one = [await store.resolve("hubspot/acme-token") for _ in range(20)]
    assert set(together + one_by_one) == {"pat-na1-11111111-aaaa"}
    assert len(fake.requests) == 1


async def test_after_the_ttl_a_rotated_value_shows(
    store: SecretManagerSecretStore, fake: FakeSecretManager, clock: FixedClock
) -> None:
    assert await store.resolve("hubspot/acme-token") == "pat-na1-11111111-aaaa"
    fake.replace({"hubspot/acme-token": "pat-na1-22222222-rotated"})

    clock.advance(200)
    assert await store.resolve("hubspot/acme-token") == "pat-na1-11111111-aaaa"
    clock.advance(101)
    assert await store.resolve("hubspot/acme-token") == "pat-na1-22222222-rotated"
    assert len(fake.requests) == 2


async def test_a_missing_secret_is_not_cached(
    store: SecretManagerSecretStore, fake: FakeSecretManager
) -> None:
    with pytest.raises(SecretNotFound, match="salesforce/beta-token"):
        await store.resolve("salesforce/beta-token")
    fake.replace({"salesforce/beta-token": "00Dxx-created-just-now"})
    assert await store.resolve("salesforce/beta-token") == "00Dxx-created-just-now"


@pytest.mark.parametrize("status", [403, 429, 500, 503])
async def test_unavailability_is_retryable_and_never_absence(
    fake: FakeSecretManager, clock: FixedClock, status: int
) -> None:
    store = SecretManagerSecretStore(fake.client(), PROJECT, clock=clock, deadline_s=0.5)
    fake.fail_with = status
    try:
        with pytest.raises(SecretManagerUnavailable, match="hubspot/acme-token") as caught:
            await store.resolve("hubspot/acme-token")
    finally:
        store.close()
    assert isinstance(caught.value, StorageUnavailable)
    assert isinstance(caught.value, TransientFailure)
    assert not isinstance(caught.value, SecretNotFound)


async def test_a_disabled_version_is_not_found(
    store: SecretManagerSecretStore, fake: FakeSecretManager
) -> None:
    fake.fail_with = 400
    with pytest.raises(SecretNotFound, match="hubspot/acme-token"):
        await store.resolve("hubspot/acme-token")


async def test_a_value_served_from_cache_survives_an_outage_until_the_ttl(
    store: SecretManagerSecretStore, fake: FakeSecretManager, clock: FixedClock
) -> None:
    await store.resolve("hubspot/acme-token")
    fake.fail_with = 503
    clock.advance(100)
    assert await store.resolve("hubspot/acme-token") == "pat-na1-11111111-aaaa"


async def test_a_slow_service_times_out(fake: FakeSecretManager, clock: FixedClock) -> None:
    store = SecretManagerSecretStore(
        fake.client(), PROJECT, clock=clock, timeout_s=0.3, deadline_s=0.5
    )
    fake.delay_s = 2.0
    started = time.monotonic()
    try:
        with pytest.raises(SecretManagerUnavailable):
            await store.resolve("hubspot/acme-token")
    finally:
        store.close()
    assert time.monotonic() - started < 1.9


async def test_a_corrupted_payload_is_refused(
    store: SecretManagerSecretStore, fake: FakeSecretManager
) -> None:
    fake.corrupt = True
    with pytest.raises(SecretManagerUnavailable, match="corrupted") as caught:
        await store.resolve("hubspot/acme-token")
    assert "pat-na1-11111111-aaaa" not in shown(caught.value)


@pytest.mark.parametrize(
    "name",
    ["projects/acme-prod/secrets/has a space", "projects/x/secrets/", "", "x" * 300],
    ids=["space", "empty-id", "empty", "too-long"],
)
async def test_references_secret_manager_cannot_hold_are_not_found(
    store: SecretManagerSecretStore, fake: FakeSecretManager, name: str
) -> None:
    with pytest.raises(SecretNotFound):
        await store.resolve(name)
    assert fake.requests == []
