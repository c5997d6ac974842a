from __future__ import annotations

from typing import Protocol

from domain.alert_message import AlertMessage
from domain.alerts import AlertDestination


class AlertSender(Protocol):
    """Delivers one hot-lead alert to one destination, once per call: the caller records the
    attempt before calling and retries with backoff. Raises TransientFailure (a timeout, 429,
    5xx: worth another try; with retry_after_s when the receiver says when) or PermanentFailure
    (a URL the SSRF guard refuses, another 4xx, a missing secret). No error message holds the
    destination's URL path, its query or a secret."""

    async def send(self, destination: AlertDestination, message: AlertMessage) -> None: ...
