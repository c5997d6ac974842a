"""The service as a real process: started the way `make run` starts it, killed for real."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any

from aiohttp import web

from entrypoints.standins import RunningServer, start_server

BIN = Path(sys.executable).parent


def ingestion_pipeline(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    stdin: str | None = None,
    timeout: float = 60,
    check: bool = False,
) -> subprocess.CompletedProcess[str]:
    """The command line as an operator runs it, to its end, its output captured as text."""
    return subprocess.run(
        [str(BIN / "ingestion-pipeline"), *args],
        env=env,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=check,
    )


def run_demo(workdir: Path) -> tuple[Path, str]:
    """`ingestion-pipeline demo --keep workdir` (about ten seconds): the directory it left, and
    what it printed."""
    result = ingestion_pipeline("demo", "--keep", str(workdir), timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return workdir, result.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def http(
    url: str, body: dict[str, Any] | bytes | None = None, headers: dict[str, str] | None = None
) -> Any:
    """A GET, or a POST of `body` (a dict is sent as JSON), and its JSON answer."""
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    request = urllib.request.Request(
        url, data=data, headers=headers or {}, method="POST" if data else "GET"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


class ServiceProcess:
    def __init__(
        self, workdir: Path, env: dict[str, str] | None = None, args: tuple[str, ...] = ()
    ):
        """`args`: more of serve's command-line options."""
        self.workdir = workdir
        self.args = args
        self.port = free_port()
        self.env = {**os.environ, "PORT": str(self.port), **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "service.log"
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30) -> None:
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [str(BIN / "ingestion-pipeline"), "serve", "--host", "127.0.0.1", *self.args],
            cwd=self.workdir,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the service exited at start:\n{self.log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/health/ready", timeout=1) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"the service did not become ready:\n{self.log_path.read_text()}")

    def children(self) -> list[int]:
        """The pids of the processes the service started (its Whisper worker, say)."""
        assert self.process is not None
        found: list[int] = []
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            with contextlib.suppress(FileNotFoundError):
                found.extend(int(pid) for pid in (task / "children").read_text().split())
        return found

    def kill(self) -> None:
        """SIGKILL: no cleanup, no flush, as a crash or an OOM kill would do."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self._close_log()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


class ThreadedServer:
    """An aiohttp app served from a thread of its own, for tests that drive the service as a
    process and need a stand-in (recordings, a CRM) running meanwhile."""

    def __init__(self, app: web.Application):
        self._app = app
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._server: RunningServer | None = None
        self.url = ""

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(start_server(self._app))
        self.url = self._server.url
        self._ready.set()
        self._loop.run_forever()

    def __enter__(self) -> ThreadedServer:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the stand-in server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            asyncio.run_coroutine_threadsafe(self._server.close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
