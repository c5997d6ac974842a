"""`ingestion-pipeline config`: every effective setting, one `name = value` a line, secrets
masked. Read from the Settings the service would run with, so a default, an alias and a value
parsed from a URL all show as what the service uses."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import attrs

from entrypoints.config import Settings

MASK = "***"
_SECRET_NAME = re.compile(r"(token|secret|password|private_key|api_key)$")


def settings_lines(settings: Settings) -> list[str]:
    return [f"{name} = {value}" for name, value in _flatten(settings, "")]


def _flatten(value: Any, prefix: str) -> Iterator[tuple[str, str]]:
    for field in attrs.fields(type(value)):
        name = f"{prefix}{field.name}"
        item = getattr(value, field.name)
        if attrs.has(type(item)):
            yield from _flatten(item, f"{name}.")
        elif field.repr is False or _SECRET_NAME.search(field.name):
            yield name, "(unset)" if item is None else MASK
        else:
            yield name, _shown(item)


def _shown(item: Any) -> str:
    if item is None or item == "":
        return "(unset)"
    if isinstance(item, tuple):
        return ",".join(_shown(i) for i in item) or "(none)"
    if isinstance(item, bool):
        return str(item).lower()
    text = str(item)
    return _without_password(text) if "://" in text else text


def _without_password(url: str) -> str:
    """A URL's password, if it carries one, masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=f"{parts.username}:{MASK}@{host}").geturl()
