"""A tenant's own alert endpoint: it verifies our signature as a receiver would, from api.md
alone (`X-Pipeline-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw
body>")>`, compared in constant time, `t` no older than five minutes) and keeps what it
accepted. A bad or missing signature is answered 401 and kept in `rejected`.

Tests steer it with `fail_next` (statuses, or "timeout") and read `received`."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import attrs
from aiohttp import web

from entrypoints.standins import scripted_failure

TOLERANCE_S = 300


def verify(
    secret: str, header: str, body: bytes, now: float, tolerance_s: float = TOLERANCE_S
) -> bool:
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest(), parts.get("v1", ""))


@attrs.define
class AlertWebhookReceiver:
    secret: str
    received: list[dict[str, Any]] = attrs.field(factory=list)
    alert_ids: list[str] = attrs.field(factory=list)
    rejected: int = 0
    requests: int = 0  # every request, accepted or not
    fail_next: list[int | str] = attrs.field(factory=list)
    hold_s: float = 30.0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/hooks/leads", self._receive)
        return app

    def url(self, base_url: str) -> str:
        return f"{base_url}/hooks/leads"

    async def _receive(self, request: web.Request) -> web.Response:
        self.requests += 1
        body = await request.read()
        failure = await scripted_failure(self.fail_next, self.hold_s)
        if failure is not None:
            return failure
        header = request.headers.get("X-Pipeline-Signature", "")
        if not verify(self.secret, header, body, time.time()):
            self.rejected += 1
            return web.Response(status=401, text="bad signature")
        self.received.append(json.loads(body))
        self.alert_ids.append(request.headers.get("X-Pipeline-Alert-Id", ""))
        return web.json_response({"ok": True})
