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
class ProcessingSettings:
    lease_s: float = 60.0
    max_attempts: int = 5
    retry_base_s: float = 5.0
    worker_concurrency: int = 2
    sweep_after_s: float = 900.0
    sweep_every_s: float = 60.0
    recording_max_bytes: int = 200 * 1024 * 1024
    whisper_model_path: str | None = None
    callrail_api_base: str = "https://api.callrail.com"


@attrs.frozen
class Settings:
    database: DatabaseSettings
    secrets: SecretsSettings
    audio_root: str
    queue_url: str
    transcriber: str
    analyzer: str
    recording_allowed_hosts: tuple[str, ...]
    # Plain http only for hosts the operator listed explicitly (tests, a local stand-in).
    recording_http_hosts: tuple[str, ...]
    crm_http_hosts: tuple[str, ...]
    operator_token: str | None = attrs.field(repr=False)
    service_type: str
    tracing: str
    port: int
    processing: ProcessingSettings = ProcessingSettings()
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


def _audio_root(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme != "file" or not (parts.netloc or parts.path):
        raise ConfigError(
            "PIPELINE_AUDIO_STORE_URL: use file://DIR (file://data/audio is relative)"
        )
    return parts.netloc + parts.path


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    text = env.get(name)
    if text is None or not text.strip():
        return default
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{name}: {text!r} is not a number") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}: must be between {low:g} and {high:g}")
    return value


def _processing(env: Mapping[str, str]) -> ProcessingSettings:
    return ProcessingSettings(
        lease_s=_number(env, "PIPELINE_LEASE_SECONDS", 60, 1, 3600),
        max_attempts=int(_number(env, "PIPELINE_MAX_ATTEMPTS", 5, 1, 50)),
        retry_base_s=_number(env, "PIPELINE_RETRY_BASE_SECONDS", 5, 0.01, 3600),
        worker_concurrency=int(_number(env, "PIPELINE_WORKER_CONCURRENCY", 2, 0, 64)),
        sweep_after_s=_number(env, "PIPELINE_SWEEP_AFTER_SECONDS", 900, 1, 86400),
        sweep_every_s=_number(env, "PIPELINE_SWEEP_EVERY_SECONDS", 60, 0.1, 86400),
        recording_max_bytes=int(
            _number(env, "PIPELINE_RECORDING_MAX_BYTES", 200 * 1024 * 1024, 1024, 2**40)
        ),
        whisper_model_path=env.get("PIPELINE_WHISPER_MODEL") or None,
        callrail_api_base=env.get("PIPELINE_CALLRAIL_API_BASE", "https://api.callrail.com"),
    )


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
        audio_root=_audio_root(env.get("PIPELINE_AUDIO_STORE_URL", "file://data/audio")),
        queue_url=_queue(env.get("PIPELINE_QUEUE_URL", "local://")),
        transcriber=_choice(env, "PIPELINE_TRANSCRIBER", "whisper", ("whisper", "google-speech")),
        analyzer=_choice(env, "PIPELINE_ANALYZER", "rules", ("rules", "vertex")),
        recording_allowed_hosts=hosts or CALLRAIL_RECORDING_HOSTS,
        recording_http_hosts=hosts,
        crm_http_hosts=tuple(
            h.strip().lower()
            for h in env.get("PIPELINE_CRM_HTTP_HOSTS", "").split(",")
            if h.strip()
        ),
        operator_token=env.get("PIPELINE_OPERATOR_TOKEN") or None,
        service_type=_choice(env, "PIPELINE_SERVICE_TYPE", "all", SERVICE_TYPES),
        tracing=_choice(env, "PIPELINE_TRACING", "none", TRACING),
        port=int(port_text),
        processing=_processing(env),
    )
