"""The hello-world reference: an aiohttp app that reads the POSTed body and answers 202, served
as `serve` serves the service (one process, no access log, the same event loop). Its rate at
saturation is printed beside the service's as a reference, not a target.

    python -m bench.hello --port 8081
"""

from __future__ import annotations

import argparse
import os

from aiohttp import web

from entrypoints.config import load_settings
from entrypoints.loops import new_event_loop


async def accept(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response({"status": "received"}, status=202)


async def ready(request: web.Request) -> web.Response:
    return web.json_response({"status": "ready"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8081")))
    args = parser.parse_args()
    app = web.Application()
    app.router.add_post("/v1/callrail/webhook", accept)
    app.router.add_get("/health/ready", ready)
    loop = new_event_loop(load_settings(os.environ).event_loop)
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None, loop=loop)


if __name__ == "__main__":
    main()
