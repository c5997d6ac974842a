"""Hot-lead alert delivery, composed: each destination type's sender, and the SSRF guard of the
recordings (adapters/callrail/guard.py) given to the transport every sender posts through.

The recordings' guard allows only listed hosts; an alert may go to any public host, so here
every host passes its allow-list and the rest of it stands: https only, every resolved address
public, the connection pinned to them; plain http and loopback or private addresses only for a
host in PIPELINE_ALERT_HTTP_HOSTS."""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from adapters.callrail.guard import (
    HostPolicy,
    HostResolver,
    LoopHostResolver,
    PinnedResolver,
    UrlGuard,
)
from adapters.webhookalerts.transport import ApprovedUrl
from domain.alert_message import AlertMessage
from domain.alerts import AlertDestination
from domain.errors import PermanentFailure, RecordingRefused, TransientFailure
from ports.alerts import AlertSender

_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s)]*?(?=:\s|\)|\s|$)")


class _AnyHost(HostPolicy):
    def allows(self, host: str) -> bool:
        return True


def origin(url: str) -> str:
    """scheme://host[:port]: all an error may say of a destination (a Slack URL's path is its
    credential)."""
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "an unparseable URL"
    return f"{parts.scheme}://{parts.hostname or ''}{port}"


class GuardedAlertUrls:
    """adapters.webhookalerts' UrlApprover, by the recordings' guard."""

    def __init__(self, http_hosts: tuple[str, ...] = (), resolver: HostResolver | None = None):
        policy = _AnyHost(allowed_hosts=http_hosts, allow_http_hosts=http_hosts)
        self._guard = UrlGuard(policy, resolver or LoopHostResolver())

    async def approve(self, url: str, timeout_s: float) -> ApprovedUrl:
        shown = origin(url)
        try:
            approved = await self._guard.approve(url, timeout_s)
        except RecordingRefused as exc:
            raise PermanentFailure(_URL.sub(shown, str(exc))) from None
        except TransientFailure as exc:
            raise TransientFailure(_URL.sub(shown, str(exc)), exc.retry_after_s) from None
        pins = PinnedResolver()
        pins.pin(approved)
        return ApprovedUrl(approved.target.url, shown, pins)


class AlertSenders(AlertSender):
    """The sender of each destination type."""

    def __init__(self, senders: Mapping[str, AlertSender]):
        self._senders = dict(senders)

    async def send(self, destination: AlertDestination, message: AlertMessage) -> None:
        sender = self._senders.get(destination.type)
        if sender is None:
            raise PermanentFailure(f"no sender for {destination.type} destinations")
        await sender.send(destination, message)
