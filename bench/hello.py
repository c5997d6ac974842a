"""The intake benchmark's baseline: an aiohttp hello-world that reads the POSTed body and answers
202, served the way `ingestion-pipeline serve` serves the service (web.run_app, no access log).

    python -m bench.hello --port 8081
"""

from __future__ import annotations

import argparse

from aiohttp import web


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
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    web.run_app(app(), host=args.host, port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
