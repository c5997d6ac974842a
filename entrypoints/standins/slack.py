"""A Slack stand-in: incoming webhooks (`POST /services/T.../B.../SECRET`) as Slack answers
them. 200 `ok` for a JSON body with `text` or `blocks`; 400 `invalid_payload` for anything
else; 404 `no_service` for a webhook it does not know. Messages are kept in `messages`.

Tests steer it with `fail_next` (statuses to answer, in order, before the next success;
"timeout" holds the request past the client's patience) and read `requests`."""

from __future__ import annotations

import json
from typing import Any

import attrs
from aiohttp import web

from entrypoints.standins import RecordedRequest, record, scripted_failure

DEMO_WEBHOOK_PATH = "/services/T0DEMO000/B0DEMO000/demo-webhook-secret"


@attrs.define
class FakeSlack:
    webhook_paths: set[str] = attrs.field(factory=lambda: {DEMO_WEBHOOK_PATH})
    messages: list[dict[str, Any]] = attrs.field(factory=list)
    requests: list[RecordedRequest] = attrs.field(factory=list)
    fail_next: list[int | str] = attrs.field(factory=list)
    hold_s: float = 30.0  # how long a "timeout" keeps the request

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/services/{team}/{hook}/{secret}", self._incoming)
        return app

    def webhook_url(self, base_url: str, path: str = DEMO_WEBHOOK_PATH) -> str:
        return f"{base_url}{path}"

    async def _incoming(self, request: web.Request) -> web.Response:
        await record(request, self.requests)
        if request.path not in self.webhook_paths:
            return web.Response(status=404, text="no_service")
        failure = await scripted_failure(self.fail_next, self.hold_s, "rollup_error")
        if failure is not None:
            return failure
        try:
            body = json.loads(await request.text())
        except ValueError:
            return web.Response(status=400, text="invalid_payload")
        if not isinstance(body, dict) or not (body.get("text") or body.get("blocks")):
            return web.Response(status=400, text="invalid_payload")
        self.messages.append(body)
        return web.Response(text="ok")
