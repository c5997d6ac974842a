"""Settings from the environment (api.md). Nothing is required on one machine: every setting
has the embedded default."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qs, urlsplit

import attrs

CALLRAIL_RECORDING_HOSTS = ("app.callrail.com", "api.callrail.com", "recordings.callrail.com")
SERVICE_TYPES = ("all", "webhook", "worker", "api")
TRACING = ("none", "console", "otlp", "gcp")


class ConfigError(ValueError):
    """A setting has a value the service cannot use; the message names the setting."""


@attrs.frozen
class DatabaseSettings:
    backend: str
    path: str = ""
    synchronous: str = "FULL"


@attrs.frozen
class SecretsSettings:
    backend: str
    path: str = ""


@attrs.frozen
class Settings:
    database: DatabaseSettings
    secrets: SecretsSettings
    audio_store_url: str
    queue_url: str
    transcriber: str
    analyzer: str
    recording_allowed_hosts: tuple[str, ...]
    operator_token: str | None = attrs.field(repr=False)
    service_type: str
    tracing: str
    port: int
    version: str = "0.1.0"


def _database(url: str) -> DatabaseSettings:
    parts = urlsplit(url)
    if parts.scheme != "sqlite":
        raise ConfigError(
            f"PIPELINE_DATABASE_URL: {parts.scheme or url!r} is not supported here; use sqlite:///PATH"
        )
    # sqlite:///data/x.db is relative to the working directory; sqlite:////srv/x.db is absolute.
    path = parts.path[1:] if parts.path.startswith("/") else parts.path
    if not path:
        raise ConfigError("PIPELINE_DATABASE_URL: give a file, e.g. sqlite:///data/pipeline.db")
    synchronous = parse_qs(parts.query).get("synchronous", ["FULL"])[0].upper()
    if synchronous not in ("NORMAL", "FULL", "EXTRA"):
        raise ConfigError("PIPELINE_DATABASE_URL: synchronous must be normal, full or extra")
    return DatabaseSettings("sqlite", path, synchronous)


def _secrets(url: str) -> SecretsSettings:
    parts = urlsplit(url)
    if parts.scheme == "env":
        return SecretsSettings("env")
    if parts.scheme == "file" and (parts.netloc or parts.path):
        return SecretsSettings("file", parts.netloc + parts.path)
    raise ConfigError("PIPELINE_SECRETS_URL: use env:// or file://PATH")


def _queue(url: str) -> str:
    if urlsplit(url).scheme != "local":
        raise ConfigError("PIPELINE_QUEUE_URL: only local:// is available in this build")
    return url


def _choice(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = env.get(name, default).strip().lower() or default
    if value not in allowed:
        raise ConfigError(f"{name}: {value!r} is not one of {', '.join(allowed)}")
    return value


def load_settings(env: Mapping[str, str]) -> Settings:
    port_text = env.get("PORT", "8080")
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigError(f"PORT: {port_text!r} is not a port number")
    hosts_text = env.get("PIPELINE_RECORDING_ALLOWED_HOSTS", "")
    hosts = tuple(h.strip().lower() for h in hosts_text.split(",") if h.strip())
    return Settings(
        database=_database(env.get("PIPELINE_DATABASE_URL", "sqlite:///data/pipeline.db")),
        secrets=_secrets(env.get("PIPELINE_SECRETS_URL", "env://")),
        audio_store_url=env.get("PIPELINE_AUDIO_STORE_URL", "file://data/audio"),
        queue_url=_queue(env.get("PIPELINE_QUEUE_URL", "local://")),
        transcriber=_choice(env, "PIPELINE_TRANSCRIBER", "whisper", ("whisper", "google-speech")),
        analyzer=_choice(env, "PIPELINE_ANALYZER", "rules", ("rules", "vertex")),
        recording_allowed_hosts=hosts or CALLRAIL_RECORDING_HOSTS,
        operator_token=env.get("PIPELINE_OPERATOR_TOKEN") or None,
        service_type=_choice(env, "PIPELINE_SERVICE_TYPE", "all", SERVICE_TYPES),
        tracing=_choice(env, "PIPELINE_TRACING", "none", TRACING),
        port=int(port_text),
    )
