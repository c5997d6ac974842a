"""A hot-lead alert to a tenant's own HTTPS endpoint, as JSON, signed so the receiver can tell
it came from us and is fresh (api.md): header `X-Pipeline-Signature: t=<unix seconds>,v1=<hex
HMAC-SHA256(secret, "<t>.<raw body>")>`. The receiver recomputes it over the raw body, compares
in constant time and refuses an old `t`; `X-Pipeline-Alert-Id` is the same on every resend of a
call's alert, for it to drop a repeat."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

from adapters.webhookalerts.transport import GuardedPoster
from domain.alert_message import AlertMessage
from domain.alerts import AlertDestination
from domain.errors import PermanentFailure
from domain.usecases.secrets import reveal
from ports.alerts import AlertSender
from ports.secrets import SecretStore

SIGNATURE_HEADER = "X-Pipeline-Signature"
ALERT_ID_HEADER = "X-Pipeline-Alert-Id"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def alert_body(message: AlertMessage) -> dict[str, Any]:
    return {
        "type": "lead.hot",
        "alert_id": message.alert_id,
        "tenant_id": message.tenant_id,
        "call_id": message.call_id,
        "score": message.score,
        "tier": message.tier,
        "intent": message.intent,
        "summary": message.summary,
        "reasons": [
            {"factor": r.factor, "points": r.points, "detail": r.detail} for r in message.reasons
        ],
        "caller": {"name": message.caller_name, "number": message.caller_number},
        "link": message.link,
        "occurred_at": message.occurred_at.isoformat(),
    }


class SignedWebhookAlertSender(AlertSender):
    def __init__(
        self,
        poster: GuardedPoster,
        secrets: SecretStore,
        unix_time: Callable[[], float] = time.time,
    ):
        self._poster = poster
        self._secrets = secrets
        self._unix_time = unix_time

    async def send(self, destination: AlertDestination, message: AlertMessage) -> None:
        if destination.url is None:
            raise PermanentFailure("the webhook destination has no URL")
        if destination.secret is None:
            raise PermanentFailure("the destination has no secret configured")
        key = await reveal(destination.secret, self._secrets)
        body = json.dumps(alert_body(message), separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "ingestion-pipeline-alerts",
            ALERT_ID_HEADER: message.alert_id,
            SIGNATURE_HEADER: signature(key, int(self._unix_time()), body),
        }
        reply = await self._poster.post(destination.url, body, headers)
        reply.raise_for_status()
