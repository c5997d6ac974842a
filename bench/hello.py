"""The intake benchmark's baseline: an aiohttp hello-world that reads the POSTed body and answers
202, served the way `ingestion-pipeline serve` serves the service (web.run_app, no access log,
as many processes on its port as `serve` runs by default, one per core, each on a socket of
its own as `serve --processes` does, on the event loop PIPELINE_EVENT_LOOP gives `serve`:
uvloop where it is installed).

    python -m bench.hello --port 8081 [--processes N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys

from aiohttp import web

from entrypoints.config import load_settings
from entrypoints.loops import new_event_loop
from entrypoints.processes import default_processes, listen, watch_parent


async def accept(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response({"status": "received"}, status=202)


async def ready(request: web.Request) -> web.Response:
    return web.json_response({"status": "ready"})


def app() -> web.Application:
    application = web.Application()
    application.router.add_post("/v1/callrail/webhook", accept)
    application.router.add_get("/health/ready", ready)
    return application


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--processes", type=int, default=default_processes())
    parser.add_argument("--listen-fd", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--primary", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.listen_fd is not None:  # one of the others
        watch_parent(args.primary)
        sock = socket.socket(fileno=args.listen_fd)
        web.run_app(app(), sock=sock, access_log=None, print=None, loop=_loop())
        return
    sock, *theirs = listen(args.host, args.port, args.processes)
    argv = [sys.executable, "-m", "bench.hello", "--primary", str(os.getpid()), "--listen-fd"]
    others = [
        subprocess.Popen([*argv, str(s.fileno())], pass_fds=(s.fileno(),))  # noqa: S603
        for s in theirs
    ]
    try:
        web.run_app(app(), sock=sock, access_log=None, print=None, loop=_loop())
    finally:
        for other in others:
            other.send_signal(signal.SIGTERM)
        for other in others:
            other.wait(timeout=30)


def _loop() -> asyncio.AbstractEventLoop:
    """The loop `serve` would run on in this environment, read the way `serve` reads it."""
    return new_event_loop(load_settings(os.environ).event_loop)


if __name__ == "__main__":
    main()
