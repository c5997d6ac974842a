"""A hot-lead alert as a Slack message, through an incoming webhook.

Wire format (Slack's incoming webhooks): POST the webhook URL with a JSON body; `text` is the
message (and the notification's text when `blocks` are given); `blocks` lay it out (Block
Kit: header, section with mrkdwn text and fields, context). Slack answers 200 with the body
`ok`; 400 `invalid_payload`, 403 `action_prohibited`, 404 `channel_not_found` or `no_service`
(a revoked webhook), 410 `channel_is_archived`, 429 when rate limited (about one message a
second a channel), 500 `rollup_error`. The URL itself is the credential: it is a secret, and
no error or log shows more than its scheme and host."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Protocol

from domain.alert_message import AlertMessage
from domain.alerts import AlertDestination
from domain.errors import PermanentFailure
from domain.usecases.secrets import reveal
from ports.alerts import AlertSender
from ports.secrets import SecretStore

_SLACK_ERROR = re.compile(r"^[a-z_]{1,40}$")
_SECTION_LIMIT = 3000  # characters of a section's text


class Reply(Protocol):
    @property
    def status(self) -> int: ...
    @property
    def text(self) -> str: ...
    @property
    def shown(self) -> str:
        """The destination as scheme://host[:port]."""
        ...

    def raise_for_status(self, what: str) -> None:
        """Nothing for 2xx; otherwise the port's error for the status (429 RateLimited, 408
        and 5xx TransientFailure, the rest PermanentFailure), with `what` as its message."""
        ...


class Poster(Protocol):
    """The guarded HTTP transport (adapters/webhookalerts, given by the composition root)."""

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Reply: ...


def _escape(text: str) -> str:
    """Slack's three control characters in message text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_body(message: AlertMessage) -> dict[str, Any]:
    fields = [f"*Score*\n{message.score} ({message.tier})"]
    if message.intent:
        fields.append(f"*Intent*\n{message.intent.replace('_', ' ')}")
    if message.caller_name:
        fields.append(f"*Caller*\n{_escape(message.caller_name)}")
    if message.caller_number:
        fields.append(f"*Number*\n{message.caller_number}")
    reasons = "\n".join(f"• {_escape(r.detail)} (+{r.points})" for r in message.reasons) or "(none)"
    summary = _escape(message.summary) or "(no summary)"
    return {
        "text": f"{message.headline}: {message.summary}"[:_SECTION_LIMIT],
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": message.headline[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": summary[:_SECTION_LIMIT]}},
            {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"*Why*\n{reasons}"[:_SECTION_LIMIT]},
            },
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": f"<{message.link}|Call {message.call_id}>"}
                ],
            },
        ],
    }


class SlackAlertSender(AlertSender):
    def __init__(self, poster: Poster, secrets: SecretStore):
        self._poster = poster
        self._secrets = secrets

    async def send(self, destination: AlertDestination, message: AlertMessage) -> None:
        if destination.secret is None:
            raise PermanentFailure("the Slack destination has no webhook URL")
        url = await reveal(destination.secret, self._secrets)
        body = json.dumps(slack_body(message)).encode()
        reply = await self._poster.post(url, body, {"Content-Type": "application/json"})
        error = reply.text.strip()
        detail = f" ({error})" if _SLACK_ERROR.match(error) else ""
        reply.raise_for_status(f"Slack at {reply.shown} answered {reply.status}{detail}")
