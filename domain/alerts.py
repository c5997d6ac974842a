"""Hot-lead alerts: where a tenant's alerts go, which calls raise one, and what the call keeps of
each (its `alerts` list). The runbook's "High Value Lead" is the default rule: score above 90
or tier hot, never spam.

A destination is a Slack incoming webhook (its URL is a credential: a secret reference, or an
inline value shown as "***") or a generic HTTPS webhook signed with the tenant's secret. A URL
is refused unless it is https to a public host; plain http, loopback and private addresses only
for a host the operator listed (PIPELINE_ALERT_HTTP_HOSTS). This is the check a tenant document
can be given without I/O; the sender checks every resolved address again (the SSRF guard).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import attrs

from domain.results import Intent, LeadScore, Tier

if TYPE_CHECKING:
    from domain.tenant import Secret


class AlertStatus(StrEnum):
    PENDING = "pending"  # committed before sending: a crash leaves this, and it is sent again
    SENT = "sent"
    FAILED = "failed"


@attrs.frozen
class AlertRecord:
    """What a call keeps of one destination's alert. `error` never holds a URL or a secret."""

    destination: str
    type: str
    status: AlertStatus
    at: datetime
    attempts: int = 0
    error: str | None = None


@attrs.frozen
class AlertRule:
    """Every condition given must hold; a rule with none is refused."""

    min_score: int | None = None
    tiers: tuple[Tier, ...] = ()
    intents: tuple[Intent, ...] = ()

    def matches(self, score: LeadScore, intent: Intent | None) -> bool:
        if self.min_score is not None and score.score < self.min_score:
            return False
        if self.tiers and score.tier not in self.tiers:
            return False
        return not self.intents or intent in self.intents


DEFAULT_RULES = (AlertRule(min_score=91), AlertRule(tiers=(Tier.HOT,)))


@attrs.frozen
class AlertDestination:
    name: str  # the label on the call's alerts: the type, or the name given
    type: str  # slack | webhook
    url: str | None = None  # webhook: its URL (not a secret)
    secret: Secret | None = None  # slack: the incoming-webhook URL; webhook: the signing key


@attrs.frozen
class AlertsConfig:
    destinations: tuple[AlertDestination, ...] = ()
    rules: tuple[AlertRule, ...] = ()  # empty: DEFAULT_RULES

    @property
    def effective_rules(self) -> tuple[AlertRule, ...]:
        return self.rules or DEFAULT_RULES


def should_alert(config: AlertsConfig, score: LeadScore | None, intent: Intent | None) -> bool:
    """Whether a call's result raises an alert: a rule matches, and it is not spam, ever."""
    if not config.destinations or score is None or score.tier is Tier.SPAM:
        return False
    if intent is Intent.SPAM:
        return False
    return any(rule.matches(score, intent) for rule in config.effective_rules)


# --- destination URLs ---------------------------------------------------------------------------


def url_refusal(url: str, http_hosts: Sequence[str]) -> str | None:
    """Why an alert URL may not be used, or None. https to a public host; http, and loopback or
    private IP literals and `localhost`, only for a host in `http_hosts`."""
    if re.search(r"[\x00-\x20\x7f\\]", url):
        return "the URL has spaces or backslashes"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return "the URL cannot be parsed"
    host = (parts.hostname or "").rstrip(".").lower()
    listed = host in {h.strip().lower() for h in http_hosts}
    if "@" in parts.netloc:
        return "the URL must not carry credentials"
    if parts.scheme not in ("https", "http"):
        return "an https URL is required"
    if not host:
        return "the URL has no host"
    if parts.scheme == "http" and not listed:
        return f"plain http is not allowed for {host}; use https"
    if listed:
        return None
    if host == "localhost" or host.endswith(".localhost"):
        return f"{host} is a loopback host"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None  # a name: its addresses are checked when it is resolved, at each send
    return None if address.is_global else f"{host} is not a public address"
