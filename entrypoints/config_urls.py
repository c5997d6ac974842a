"""One URL per port (architecture.md): which adapter, and where. Each parser names the setting
in its error, so a wrong value is one readable line."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import attrs


class ConfigError(ValueError):
    """A setting has a value the service cannot use; the message names the setting."""


@attrs.frozen
class DatabaseSettings:
    backend: str  # sqlite | spanner
    path: str = ""
    synchronous: str = "FULL"
    spanner_project: str = ""
    spanner_instance: str = ""
    spanner_database: str = ""


@attrs.frozen
class AudioSettings:
    backend: str  # file | gcs
    root: str = ""
    bucket: str = ""
    prefix: str = ""


@attrs.frozen
class QueueSettings:
    backend: str  # local | pubsub
    topic: str = ""  # projects/P/topics/T


@attrs.frozen
class SecretsSettings:
    backend: str  # env | file | secretmanager
    path: str = ""
    project: str = ""


_SPANNER = re.compile(r"^/?projects/([^/]+)/instances/([^/]+)/databases/([^/]+)$")
_TOPIC = re.compile(r"^projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/topics/[A-Za-z][\w.~+%-]{2,254}$")


def database(url: str) -> DatabaseSettings:
    parts = urlsplit(url)
    if parts.scheme == "spanner":
        found = _SPANNER.match(parts.netloc + parts.path)
        if not found:
            raise ConfigError(
                "PIPELINE_DATABASE_URL: use spanner://projects/P/instances/I/databases/D"
            )
        project, instance, name = found.groups()
        return DatabaseSettings(
            "spanner", spanner_project=project, spanner_instance=instance, spanner_database=name
        )
    if parts.scheme != "sqlite":
        raise ConfigError(
            f"PIPELINE_DATABASE_URL: {parts.scheme or url!r} is not supported; use "
            "sqlite:///PATH or spanner://projects/P/instances/I/databases/D"
        )
    # sqlite:///data/x.db is relative to the working directory; sqlite:////srv/x.db is absolute.
    path = parts.path[1:] if parts.path.startswith("/") else parts.path
    if not path:
        raise ConfigError("PIPELINE_DATABASE_URL: give a file, e.g. sqlite:///data/pipeline.db")
    synchronous = parse_qs(parts.query).get("synchronous", ["FULL"])[0].upper()
    if synchronous not in ("NORMAL", "FULL", "EXTRA"):
        raise ConfigError("PIPELINE_DATABASE_URL: synchronous must be normal, full or extra")
    return DatabaseSettings("sqlite", path, synchronous)


def audio(url: str) -> AudioSettings:
    parts = urlsplit(url)
    if parts.scheme == "gs" and parts.netloc:
        return AudioSettings("gcs", bucket=parts.netloc, prefix=parts.path.strip("/"))
    if parts.scheme == "file" and (parts.netloc or parts.path):
        return AudioSettings("file", root=parts.netloc + parts.path)
    raise ConfigError(
        "PIPELINE_AUDIO_STORE_URL: use file://DIR (file://data/audio is relative) or gs://BUCKET/PREFIX"
    )


def queue(url: str) -> QueueSettings:
    parts = urlsplit(url)
    if parts.scheme == "local":
        return QueueSettings("local")
    topic = (parts.netloc + parts.path).strip("/")
    if parts.scheme == "pubsub" and _TOPIC.match(topic):
        return QueueSettings("pubsub", topic)
    raise ConfigError("PIPELINE_QUEUE_URL: use local:// or pubsub://projects/P/topics/T")


def secrets(url: str) -> SecretsSettings:
    parts = urlsplit(url)
    if parts.scheme == "env":
        return SecretsSettings("env")
    if parts.scheme == "file" and (parts.netloc or parts.path):
        return SecretsSettings("file", parts.netloc + parts.path)
    found = re.match(r"^projects/([^/]+)$", (parts.netloc + parts.path).strip("/"))
    if parts.scheme == "secretmanager" and found:
        return SecretsSettings("secretmanager", project=found.group(1))
    raise ConfigError("PIPELINE_SECRETS_URL: use env://, file://PATH or secretmanager://projects/P")
