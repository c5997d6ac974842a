"""Builders for the Google Cloud adapters. The Google client libraries are imported here, inside
the functions, so the embedded shape runs without the `gcp` extra installed; asking for a cloud
adapter without it is a configuration error that says what to install."""

from __future__ import annotations

import importlib
import os
from typing import Any

from entrypoints.config_urls import ConfigError
from ports.analysis import CallAnalyzer

_EXTRA = "install the Google Cloud extra: pip install 'ingestion-pipeline[gcp]'"


def _module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ConfigError(f"{name} is not installed ({exc.name} missing); {_EXTRA}") from None


def _anonymous() -> Any:
    return _module("google.auth.credentials").AnonymousCredentials()


def _local(url: str | None) -> bool:
    return bool(url) and url.startswith(("http://127.", "http://localhost", "http://[::1]"))  # type: ignore[union-attr]


def spanner_database(project: str, instance: str, database: str, on_error: Any = None) -> Any:
    return _module("adapters.spanner.database").SpannerDatabase(
        project, instance, database, on_error=on_error
    )


def spanner_unit_of_work(db: Any) -> Any:
    return _module("adapters.spanner.repositories").SpannerUnitOfWorkFactory(db)


def gcs_audio_store(bucket: str, prefix: str, project: str, kms_key: str | None) -> Any:
    storage = _module("google.cloud.storage")
    emulator = os.environ.get("STORAGE_EMULATOR_HOST")
    if emulator:  # fake-gcs-server: no credentials, its own endpoint
        client = storage.Client(
            project=project or "local",
            credentials=_anonymous(),
            client_options={"api_endpoint": emulator},
        )
    else:
        client = storage.Client(project=project or None)
    store = _module("adapters.gcs.audio_store").GcsAudioStore
    return store(client, bucket, prefix, kms_key_name=kms_key)


def pubsub_queue(topic: str, grace_s: float) -> Any:
    publisher = _module("google.cloud.pubsub_v1").PublisherClient()  # honours PUBSUB_EMULATOR_HOST
    queue = _module("adapters.pubsub.queue").PubSubJobQueue
    return queue(publisher, topic, dispatch_grace_s=grace_s)


def secret_manager_store(project: str, clock: Any) -> Any:
    client = _module("google.cloud.secretmanager").SecretManagerServiceClient()
    store = _module("adapters.secretmanager.store").SecretManagerSecretStore
    return store(client, project, clock=clock)


def google_speech(
    project: str,
    location: str,
    model: str,
    endpoint: str | None,
    separate_channels: bool = False,
    processing: str = "standard",
    check_every_s: float = 600.0,
) -> Any:
    transcriber = _module("adapters.googlespeech.transcriber").GoogleSpeechTranscriber
    credentials = _anonymous() if _local(endpoint) else None
    return transcriber(
        project,
        location,
        model,
        api_endpoint=endpoint,
        credentials=credentials,
        separate_channels=separate_channels,
        dynamic_batch=processing == "dynamic_batch",
        check_every_s=check_every_s,
    )


def vertex_analyzer(
    fallback: CallAnalyzer, project: str, location: str, base_url: str | None
) -> Any:
    analyzer = _module("adapters.vertex.analyzer").VertexCallAnalyzer
    credentials = None
    if _local(base_url):  # a local stand-in: a token it accepts, no Google credentials
        credentials = _module("google.oauth2.credentials").Credentials(token="local-stand-in")  # noqa: S106
    return analyzer(
        fallback, project=project, location=location, base_url=base_url, credentials=credentials
    )
