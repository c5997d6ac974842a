"""The real Cloud Spanner emulator, started once per test session on free ports, with one
instance; each test gets a fresh database of its own with the migrations applied.

Import the fixtures where they are needed (`spanner_emulator`, `spanner_database`); however
many modules import them, one emulator process serves the whole session."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.emulators import free_port, require, sdk_root, wait_for_port

if TYPE_CHECKING:  # the gcp extra may be missing: the client is imported only when used
    from adapters.spanner.database import SpannerDatabase

PROJECT = "emulated-project"
INSTANCE = "tests"
HOW = (
    "install the Debian package google-cloud-cli-spanner-emulator; it provides"
    " SDK_ROOT/bin/cloud_spanner_emulator/gateway_main"
)
# This emulator loses concurrent read-write transactions on multiplexed sessions.
MULTIPLEXED_RW = "GOOGLE_CLOUD_SPANNER_MULTIPLEXED_SESSIONS_FOR_RW"


def gateway_binary() -> Path | None:
    root = sdk_root()
    if root is None:
        return None
    binary = root / "bin" / "cloud_spanner_emulator" / "gateway_main"
    return binary if binary.exists() else None


class SpannerEmulator:
    """A running emulator with one instance; hands out fresh databases."""

    def __init__(self, binary: Path):
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - lives as long as the process
            prefix="spanner-emulator-", suffix=".log", delete=False
        )
        grpc_port = free_port()
        http_port = free_port()
        while http_port == grpc_port:
            http_port = free_port()
        self.host = f"127.0.0.1:{grpc_port}"
        self._process = subprocess.Popen(
            [
                str(binary),
                "--hostname",
                "127.0.0.1",
                "--grpc_port",
                str(grpc_port),
                "--http_port",
                str(http_port),
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the gateway and the emulator
        )
        environment = {"SPANNER_EMULATOR_HOST": self.host, MULTIPLEXED_RW: "false"}
        self._saved = {name: os.environ.get(name) for name in environment}
        os.environ.update(environment)
        self._names = itertools.count(1)
        try:
            wait_for_port(grpc_port, self._process)
            self._instance = self._create_instance()
        except BaseException:
            self.stop()
            raise

    def _create_instance(self) -> Any:
        from google.cloud import spanner

        client = spanner.Client(project=PROJECT)
        instance = client.instance(  # type: ignore[no-untyped-call]
            INSTANCE,
            configuration_name=f"projects/{PROJECT}/instanceConfigs/emulator-config",
            display_name="tests",
            node_count=1,
        )
        instance.create().result(60)
        return instance

    def stop(self) -> None:
        if self._process.poll() is None:
            os.killpg(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait(timeout=10)
        self._log.close()
        Path(self._log.name).unlink(missing_ok=True)
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    @asynccontextmanager
    async def database(self, **options: Any) -> AsyncIterator[SpannerDatabase]:
        """A new, migrated, open SpannerDatabase; closed and dropped afterwards."""
        import asyncio

        from adapters.spanner.database import SpannerDatabase
        from adapters.spanner.migrations import migrate

        name = f"test-{next(self._names)}"
        handle = self._instance.database(name)
        await asyncio.to_thread(lambda: handle.create().result(60))
        # The emulator does not say how long to wait after ABORTED: retry soon, not after 2 s.
        options.setdefault("abort_retry_delay_s", 0.02)
        db = SpannerDatabase(PROJECT, INSTANCE, name, **options)
        try:
            await db.open()
            await migrate(db)
            yield db
        finally:
            await db.close()
            await asyncio.to_thread(handle.drop)


# Each module importing the fixture gets its own session-scoped copy of it: they share one
# emulator, stopped when the last of them is torn down.
_running: list[SpannerEmulator] = []
_users: list[int] = [0]


@pytest.fixture(scope="session", name="spanner_emulator")
def spanner_emulator_fixture() -> Iterator[SpannerEmulator]:
    binary = gateway_binary()
    require("the Spanner emulator", binary is not None, HOW)
    assert binary is not None
    if not _running:
        _running.append(SpannerEmulator(binary))
    _users[0] += 1
    try:
        yield _running[0]
    finally:
        _users[0] -= 1
        if _users[0] == 0:
            _running.pop().stop()


@pytest.fixture(name="spanner_database")
async def spanner_database_fixture(
    spanner_emulator: SpannerEmulator,
) -> AsyncIterator[SpannerDatabase]:
    async with spanner_emulator.database() as db:
        yield db
