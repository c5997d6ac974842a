"""The `alerts` section of the tenant document (api.md), read and written: destinations, rules,
and every offending field named. domain/alerts.py says what they mean."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from domain.alerts import AlertDestination, AlertRule, AlertsConfig, url_refusal
from domain.errors import FieldError, unknown_keys
from domain.results import Intent, Tier

if TYPE_CHECKING:
    from domain.tenant import Secret

DESTINATION_TYPES = ("slack", "webhook")
DESTINATION_KEYS: Mapping[str, tuple[str, ...]] = {
    "slack": ("type", "name", "webhook_url", "webhook_url_ref"),
    "webhook": ("type", "name", "url", "secret", "secret_ref"),
}
RULE_KEYS = ("min_score", "tiers", "intents")
ALERT_KEYS = ("destinations", "rules")
MAX_DESTINATIONS = 10
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")

SecretParser = Callable[[Mapping[str, Any], str, str, list[FieldError]], "Secret | None"]


def parse_alerts(
    raw: Any,
    errors: list[FieldError],
    *,
    strict: bool,
    secret: SecretParser,
    http_hosts: Sequence[str] = (),
) -> AlertsConfig | None:
    """`config.alerts`. Strict (a document sent to us): unknown keys refused by name, and URLs
    checked against the http hosts. Lenient (a stored tenant read back): neither, so a tenant
    stored before a setting changed still loads; the sender checks again at every send."""
    path = "config.alerts"
    if not isinstance(raw, Mapping):
        errors.append(FieldError(path, "an object"))
        return None
    if strict:
        errors.extend(unknown_keys(raw, ALERT_KEYS, path, "an alerts setting"))
    destinations = _destinations(raw.get("destinations", []), errors, strict, secret, http_hosts)
    rules = _rules(raw.get("rules", []), errors)
    if destinations is None or rules is None:
        return None
    return AlertsConfig(destinations, rules)


def _destinations(
    raw: Any,
    errors: list[FieldError],
    strict: bool,
    secret: SecretParser,
    http_hosts: Sequence[str],
) -> tuple[AlertDestination, ...] | None:
    path = "config.alerts.destinations"
    if not isinstance(raw, list) or len(raw) > MAX_DESTINATIONS:
        errors.append(FieldError(path, f"a list of at most {MAX_DESTINATIONS} destinations"))
        return None
    found: list[AlertDestination] = []
    before = len(errors)
    types = [d.get("type") for d in raw if isinstance(d, Mapping)]
    for i, item in enumerate(raw):
        at = f"{path}[{i}]"
        if not isinstance(item, Mapping) or item.get("type") not in DESTINATION_TYPES:
            errors.append(FieldError(f"{at}.type", f"one of {', '.join(DESTINATION_TYPES)}"))
            continue
        kind = str(item["type"])
        if strict:
            errors.extend(unknown_keys(item, DESTINATION_KEYS[kind], at, f"a {kind} setting"))
        name = item.get("name") or (kind if types.count(kind) == 1 else f"{kind}-{i + 1}")
        if not isinstance(name, str) or not _NAME.match(name):
            errors.append(FieldError(f"{at}.name", "1-40 lower-case letters, digits, - or _"))
            continue
        if kind == "slack":
            found.append(_slack(item, at, name, errors, strict, secret, http_hosts))
        else:
            found.append(_webhook(item, at, name, errors, strict, secret, http_hosts))
    names = [d.name for d in found]
    for name in sorted({n for n in names if names.count(n) > 1}):
        errors.append(FieldError(path, f"two destinations are named {name}"))
    return tuple(found) if len(errors) == before else None


def _slack(
    item: Mapping[str, Any],
    at: str,
    name: str,
    errors: list[FieldError],
    strict: bool,
    secret: SecretParser,
    http_hosts: Sequence[str],
) -> AlertDestination:
    url = secret(item, "webhook_url", at, errors)
    if url is None:
        errors.append(FieldError(f"{at}.webhook_url", "webhook_url or webhook_url_ref is required"))
    elif strict and (value := getattr(url, "value", None)) is not None:
        _check_url(value, f"{at}.webhook_url", errors, http_hosts)
    return AlertDestination(name, "slack", secret=url)


def _webhook(
    item: Mapping[str, Any],
    at: str,
    name: str,
    errors: list[FieldError],
    strict: bool,
    secret: SecretParser,
    http_hosts: Sequence[str],
) -> AlertDestination:
    url = item.get("url")
    if not isinstance(url, str) or not url:
        errors.append(FieldError(f"{at}.url", "the webhook's https URL"))
        url = None
    elif strict:
        _check_url(url, f"{at}.url", errors, http_hosts)
    key = secret(item, "secret", at, errors)
    if key is None:
        errors.append(FieldError(f"{at}.secret", "secret or secret_ref is required (signing)"))
    return AlertDestination(name, "webhook", url=url, secret=key)


def _check_url(url: str, path: str, errors: list[FieldError], http_hosts: Sequence[str]) -> None:
    reason = url_refusal(url, http_hosts)
    if reason is not None:
        errors.append(FieldError(path, f"refused: {reason}"))


def _rules(raw: Any, errors: list[FieldError]) -> tuple[AlertRule, ...] | None:
    path = "config.alerts.rules"
    if not isinstance(raw, list):
        errors.append(FieldError(path, "a list of rules"))
        return None
    rules: list[AlertRule] = []
    before = len(errors)
    for i, item in enumerate(raw):
        at = f"{path}[{i}]"
        if not isinstance(item, Mapping) or not any(k in item for k in RULE_KEYS):
            errors.append(FieldError(at, f"an object with at least one of {', '.join(RULE_KEYS)}"))
            continue
        errors.extend(unknown_keys(item, RULE_KEYS, at, "a rule condition"))
        score = item.get("min_score")
        if score is not None and (
            isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 100
        ):
            errors.append(FieldError(f"{at}.min_score", "a whole number from 0 to 100"))
            continue
        tiers = _choices(item.get("tiers"), f"{at}.tiers", [t for t in Tier if t is not Tier.SPAM])
        intents = _choices(item.get("intents"), f"{at}.intents", list(Intent))
        for problem in (tiers, intents):
            if isinstance(problem, FieldError):
                errors.append(problem)
        if isinstance(tiers, FieldError) or isinstance(intents, FieldError):
            continue
        rules.append(AlertRule(score, tuple(Tier(t) for t in tiers), tuple(map(Intent, intents))))
    return tuple(rules) if len(errors) == before else None


def _choices(raw: Any, path: str, allowed: Sequence[StrEnum]) -> list[str] | FieldError:
    if raw is None:
        return []
    values = [a.value for a in allowed]
    if not isinstance(raw, list) or not raw or any(v not in values for v in raw):
        return FieldError(path, f"a non-empty list of {', '.join(values)}")
    return [str(v) for v in raw]


def alerts_document(
    config: AlertsConfig, put_secret: Callable[[dict[str, Any], str, Secret], None]
) -> dict[str, Any]:
    """The `alerts` section as the tenant document shows it; `put_secret` writes a secret as
    its reference, or its value masked unless revealed."""
    destinations: list[dict[str, Any]] = []
    for d in config.destinations:
        item: dict[str, Any] = {"type": d.type, "name": d.name}
        if d.url is not None:
            item["url"] = d.url
        if d.secret is not None:
            put_secret(item, "webhook_url" if d.type == "slack" else "secret", d.secret)
        destinations.append(item)
    document: dict[str, Any] = {"destinations": destinations}
    if config.rules:
        document["rules"] = [_rule_document(r) for r in config.rules]
    return document


def _rule_document(rule: AlertRule) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if rule.min_score is not None:
        out["min_score"] = rule.min_score
    if rule.tiers:
        out["tiers"] = [t.value for t in rule.tiers]
    if rule.intents:
        out["intents"] = [i.value for i in rule.intents]
    return out
