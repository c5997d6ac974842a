"""`serve --processes N`: N processes accepting on one port.

A Python process runs its Python on one core at a time, and the webhook path is CPU work
(parse, verify, store): on a machine with more cores one process leaves them idle. So `serve`
binds N sockets to its port itself (see listen()) and starts N-1 more processes of its own
program, each inheriting one; the kernel spreads new connections over them. Only the first
process (the primary) runs the background work (the workers, the dispatcher, the sweep); the
others serve the same routes and nothing else.

The processes share the database (SQLite's WAL lets them; their writers take turns, see
adapters/sqlite/database.py). Each has its own metrics; GET /v1/metrics, whichever process
answers it, adds up every process's figures, read over a Unix socket each one listens on in a
private directory (0700) the primary makes.

A secondary process ends when the primary does: it is sent SIGTERM at shutdown, and if the
primary is killed outright the kernel sends it SIGTERM (Linux; elsewhere it notices within a
second), from its first instant (entrypoints/secondary.py), as it holds the listening socket
and a service started again must be able to bind the port. One that dies
while the primary runs is started again, after a pause that doubles each time one dies within a
minute of its start (1 s, 2 s, ... at most 60 s): a crash loop slows down, never spins."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path

from aiohttp import web

log = logging.getLogger("ingestion_pipeline.processes")

MAX_PROCESSES = 16
STOP_TIMEOUT_S = 30.0
YOUNG_S = 60.0  # a process that dies sooner than this after its start makes the pause double
MAX_PAUSE_S = 60.0


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def default_processes() -> int:
    return max(1, min(usable_cores(), MAX_PROCESSES))


def listen(host: str, port: int, count: int, backlog: int = 1024) -> list[socket.socket]:
    """`count` listening sockets on one port, one per process, inheritable.

    Each process accepts on a socket of its own (SO_REUSEPORT), and the kernel spreads new
    connections evenly over them, whichever process is awake. (With one shared socket the
    process that wakes first may accept every connection waiting at that moment, as asyncio
    accepts up to a backlog's worth per wake-up; not measured apart here.) The primary holds
    every socket for the life of the group, so connections the kernel gives a secondary that
    is restarting wait for it instead of being refused.

    SO_REUSEPORT would also let an unrelated server bind the port and take a share of its
    connections: so the port is first bound once without it, which fails (EADDRINUSE) if
    anything listens there already."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        port = probe.getsockname()[1]  # port 0: the one the system chose, for all of them
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            sock.listen(backlog)
            sock.set_inheritable(True)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def group_socket(group_dir: Path, pid: int) -> Path:
    """Where the process `pid` of a group answers its own /v1/metrics."""
    return group_dir / f"{pid}.sock"


def siblings(group_dir: Path, own_pid: int) -> list[Path]:
    """The other processes' sockets (a process that died may have left its socket behind:
    reading it fails at once and it is skipped)."""
    return sorted(p for p in group_dir.glob("*.sock") if p.name != f"{own_pid}.sock")


def watch_parent(parent: int, every_s: float = 1.0) -> threading.Thread:
    """Shuts this process down (SIGTERM to itself: a graceful stop, which first closes the
    listening socket, so a service started again can bind the port) once `parent` is gone: at
    once where the kernel tells (Linux: entrypoints.secondary asked it to), else within
    `every_s`."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every_s)
        log.warning("the primary process %s is gone: stopping", parent)
        os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=watch, name="primary-watch", daemon=True)
    thread.start()
    return thread


class Secondaries:
    """The primary's N-1 secondary processes: started once the primary's stores are open (so
    SQLite's migrations are applied once, before they start), kept running, stopped first at
    shutdown. `command(fd, group_dir)` is the argv of one secondary."""

    def __init__(
        self,
        sockets: Sequence[socket.socket],
        group_dir: Path,
        command: Callable[[int, Path], Sequence[str]],
    ):
        self._sockets = list(sockets)  # one per secondary, held here while they come and go
        self._group_dir = group_dir
        self._command = command
        self._procs: list[subprocess.Popen[bytes]] = []
        self._stopping = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None

    def _spawn(self, i: int) -> subprocess.Popen[bytes]:
        fd = self._sockets[i].fileno()
        return subprocess.Popen(  # noqa: S603  (this program, started the way it was started)
            list(self._command(fd, self._group_dir)), pass_fds=(fd,)
        )

    async def context(self, app: web.Application) -> AsyncIterator[None]:
        """An aiohttp cleanup context."""
        self._procs = [self._spawn(i) for i in range(len(self._sockets))]
        self._supervisor = asyncio.get_running_loop().create_task(self._supervise())
        yield
        await self.stop()

    async def _supervise(self) -> None:
        started = [time.monotonic()] * len(self._procs)
        pause = [0.5] * len(self._procs)  # doubled before use: 1 s after a first young death
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), 0.5)
            if self._stopping.is_set():
                return
            for i, proc in enumerate(self._procs):
                code = proc.poll()
                if code is None:
                    continue
                with contextlib.suppress(FileNotFoundError):
                    group_socket(self._group_dir, proc.pid).unlink()
                lived = time.monotonic() - started[i]
                pause[i] = min(pause[i] * 2, MAX_PAUSE_S) if lived < YOUNG_S else 1.0
                log.error(
                    "serving process %s exited with %s after %.0f s; starting another in %.0f s",
                    proc.pid,
                    code,
                    lived,
                    pause[i],
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), pause[i])
                if self._stopping.is_set():
                    return
                self._procs[i] = self._spawn(i)
                started[i] = time.monotonic()

    async def stop(self) -> None:
        """SIGTERM to each, then up to STOP_TIMEOUT_S for them to finish what they hold, then
        SIGKILL for any still running."""
        self._stopping.set()
        if self._supervisor is not None:
            await self._supervisor
        for proc in self._procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for proc in self._procs:
            remaining = max(0.0, deadline - time.monotonic())
            try:
                await asyncio.to_thread(proc.wait, remaining)
            except subprocess.TimeoutExpired:
                log.error("serving process %s did not stop in time: killed", proc.pid)
                proc.kill()
                await asyncio.to_thread(proc.wait)


@contextlib.contextmanager
def group_directory() -> Iterator[Path]:
    """A private directory for the group's sockets, removed when serving ends."""
    path = Path(tempfile.mkdtemp(prefix="ingestion-pipeline-"))  # 0700
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def secondary_command(fd: int, group_dir: Path) -> list[str]:
    """This program again, as a secondary of this process."""
    return [
        sys.executable,
        "-m",
        "entrypoints.secondary",
        str(os.getpid()),
        "serve",
        "--listen-fd",
        str(fd),
        "--primary",
        str(os.getpid()),
        "--group-dir",
        str(group_dir),
    ]
