"""Settings from the environment (api.md). Nothing is required on one machine: every setting
has the embedded default."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import attrs

from adapters.openai.analyzer import chat_completions_url
from adapters.openai.chat import RESPONSE_FORMATS
from entrypoints import config_urls
from entrypoints.config_urls import (
    AudioSettings,
    ConfigError,
    DatabaseSettings,
    QueueSettings,
    SecretsSettings,
)
from entrypoints.loops import LOOPS
from entrypoints.prices import Prices, load_prices

__all__ = ["ConfigError", "Settings", "load_settings", "log_level", "unread_settings"]

CALLRAIL_RECORDING_HOSTS = ("app.callrail.com", "api.callrail.com", "recordings.callrail.com")
SERVICE_TYPES = ("all", "webhook", "worker", "api")
TRACING = ("none", "console", "otlp", "gcp")
LOG_LEVELS = ("debug", "info", "warning", "error")
# The deployment guide's SERVICE_TYPE values, as this product's PIPELINE_SERVICE_TYPE.
SEED_SERVICE_TYPES = {"webhook": "webhook", "audio": "worker"}


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
class CloudSettings:
    """Google Cloud details the URLs do not carry."""

    project: str = ""  # PIPELINE_GCP_PROJECT: the default for everything below
    speech_location: str = "us"
    speech_model: str = "chirp_3"
    speech_endpoint: str | None = None  # a local stand-in's host:port, for the emulated shape
    # Each channel of a dual-channel recording recognised on its own (the caller's side too):
    # without it the service hears the first channel only, and the caller's card goes unheard.
    speech_separate_channels: bool = True
    # "standard": answered in minutes; "dynamic_batch": a fifth of the price, within 24 hours
    # (each call waits, its transcription collected every 10 minutes).
    speech_processing: str = "standard"
    speech_check_every_s: float = 600.0  # how often a waiting call asks about its transcription
    vertex_location: str = "us-central1"
    vertex_base_url: str | None = None
    audio_kms_key: str | None = None
    push_audience: str | None = None  # OIDC audience of the Pub/Sub push; unset: not verified
    push_service_account: str | None = None
    dispatch_grace_s: float = 600.0


@attrs.frozen
class OpenAiSettings:
    """The OpenAI-compatible server PIPELINE_ANALYZER=openai analyses calls with."""

    url: str = ""  # PIPELINE_ANALYZER_URL: the base URL, with or without /v1
    model: str = ""  # PIPELINE_ANALYZER_MODEL: the server's name for the model
    api_key_ref: str | None = None  # PIPELINE_ANALYZER_API_KEY_REF: a secret store reference
    http_hosts: tuple[str, ...] = ()  # PIPELINE_ANALYZER_HTTP_HOSTS: plain http allowed
    response_format: str = "auto"  # PIPELINE_ANALYZER_RESPONSE_FORMAT
    timeout_s: float = 120.0  # PIPELINE_ANALYZER_TIMEOUT_SECONDS, per request


@attrs.frozen
class Settings:
    database: DatabaseSettings
    secrets: SecretsSettings
    audio: AudioSettings
    queue: QueueSettings
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
    event_loop: str = "auto"  # serve's loop: uvloop where installed (auto), uvloop, asyncio
    processing: ProcessingSettings = ProcessingSettings()
    cloud: CloudSettings = CloudSettings()
    openai: OpenAiSettings = OpenAiSettings()
    metrics: MetricsSettings = attrs.field(factory=lambda: MetricsSettings())
    alerts: AlertSettings = attrs.field(factory=lambda: AlertSettings())
    # Private files for audio redaction (an original copied to be silenced): local disk.
    scratch_dir: str = "data/scratch"
    version: str = "0.1.0"
    # On Cloud Run (K_SERVICE set) `serve` refuses the embedded stores unless this is true.
    allow_ephemeral: bool = False  # PIPELINE_ALLOW_EPHEMERAL
    log_level: str = "info"  # PIPELINE_LOG_LEVEL
    # The worker service's max instances: each instance spends 1/N of every tenant's CRM budget.
    worker_max_instances: int = 1  # PIPELINE_WORKER_MAX_INSTANCES
    # The cost figures' price table: entrypoints/prices.toml, PIPELINE_PRICES_FILE laid over it.
    prices: Prices = attrs.field(factory=load_prices)

    @property
    def audio_root(self) -> str:
        return self.audio.root


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


def _one_process(env: Mapping[str, str]) -> None:
    """PIPELINE_HTTP_PROCESSES is read only to refuse what `serve` no longer does."""
    text = env.get("PIPELINE_HTTP_PROCESSES", "").strip()
    if text not in ("", "1"):
        raise ConfigError(
            f"PIPELINE_HTTP_PROCESSES: {text!r} is not supported: the embedded shape runs one"
            " process; the Google Cloud shape scales out (more Cloud Run instances). Set it to"
            " 1 or leave it unset"
        )


def _choice(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = env.get(name, default).strip().lower() or default
    if value not in allowed:
        raise ConfigError(f"{name}: {value!r} is not one of {', '.join(allowed)}")
    return value


def load_settings(env: Mapping[str, str]) -> Settings:
    port_text = env.get("PORT", "8080")
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigError(f"PORT: {port_text!r} is not a port number")
    hosts = _hosts(env, "PIPELINE_RECORDING_ALLOWED_HOSTS")
    _one_process(env)
    database = config_urls.database(env.get("PIPELINE_DATABASE_URL", "sqlite:///data/pipeline.db"))
    queue = config_urls.queue(env.get("PIPELINE_QUEUE_URL", "local://"))
    if queue.backend == "local" and database.backend != "sqlite":
        raise ConfigError(
            "PIPELINE_QUEUE_URL: local:// keeps its jobs in the SQLite database;"
            " with Spanner use pubsub://projects/P/topics/T"
        )
    analyzer = _choice(env, "PIPELINE_ANALYZER", "rules", ("rules", "vertex", "openai"))
    return Settings(
        database=database,
        secrets=config_urls.secrets(env.get("PIPELINE_SECRETS_URL", "env://")),
        audio=config_urls.audio(env.get("PIPELINE_AUDIO_STORE_URL", "file://data/audio")),
        scratch_dir=env.get("PIPELINE_SCRATCH_DIR", "").strip() or "data/scratch",
        queue=queue,
        transcriber=_choice(env, "PIPELINE_TRANSCRIBER", "whisper", ("whisper", "google-speech")),
        analyzer=analyzer,
        recording_allowed_hosts=hosts or CALLRAIL_RECORDING_HOSTS,
        recording_http_hosts=hosts,
        crm_http_hosts=_hosts(env, "PIPELINE_CRM_HTTP_HOSTS"),
        operator_token=env.get("PIPELINE_OPERATOR_TOKEN") or None,
        service_type=_service_type(env),
        tracing=_choice(env, "PIPELINE_TRACING", "none", TRACING),
        port=int(port_text),
        event_loop=_choice(env, "PIPELINE_EVENT_LOOP", "auto", LOOPS),
        processing=_processing(env),
        cloud=_cloud(env),
        openai=_openai(env) if analyzer == "openai" else OpenAiSettings(),
        metrics=_metrics(env),
        alerts=_alerts(env, int(port_text)),
        allow_ephemeral=_choice(env, "PIPELINE_ALLOW_EPHEMERAL", "false", ("true", "false"))
        == "true",
        log_level=log_level(env),
        worker_max_instances=_worker_max_instances(env),
        prices=load_prices(env.get("PIPELINE_PRICES_FILE", "").strip() or None),
    )


def log_level(env: Mapping[str, str]) -> str:
    """PIPELINE_LOG_LEVEL, also for run-emulated, which reads no other setting."""
    return _choice(env, "PIPELINE_LOG_LEVEL", "info", LOG_LEVELS)


def _service_type(env: Mapping[str, str]) -> str:
    """PIPELINE_SERVICE_TYPE, or the deployment guide's SERVICE_TYPE (webhook, audio)."""
    seed = env.get("SERVICE_TYPE", "").strip().lower()
    if not env.get("PIPELINE_SERVICE_TYPE", "").strip() and seed:
        if seed not in SEED_SERVICE_TYPES:
            raise ConfigError(
                f"SERVICE_TYPE: {seed!r} is not one of {', '.join(SEED_SERVICE_TYPES)};"
                f" or set PIPELINE_SERVICE_TYPE to one of {', '.join(SERVICE_TYPES)}"
            )
        return SEED_SERVICE_TYPES[seed]
    return _choice(env, "PIPELINE_SERVICE_TYPE", "all", SERVICE_TYPES)


class _ReadNames(Mapping[str, str]):
    """The environment, noting every name looked up in it."""

    def __init__(self, env: Mapping[str, str]):
        self._env = env
        self.read: set[str] = set()

    def __getitem__(self, name: str) -> str:
        self.read.add(name)
        return self._env[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._env)

    def __len__(self) -> int:
        return len(self._env)


def unread_settings(env: Mapping[str, str]) -> list[str]:
    """PIPELINE_* names set in `env` that this configuration never reads: a misspelt name, or
    a setting of an adapter not chosen. Secrets (PIPELINE_SECRET_*) are the secret store's."""
    recorded = _ReadNames(env)
    load_settings(recorded)
    return sorted(
        name
        for name in env
        if name.startswith("PIPELINE_")
        and not name.startswith("PIPELINE_SECRET_")
        and name not in recorded.read
    )


def _hosts(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(h.strip().lower() for h in env.get(name, "").split(",") if h.strip())


def _openai(env: Mapping[str, str]) -> OpenAiSettings:
    url = env.get("PIPELINE_ANALYZER_URL", "").strip()
    model = env.get("PIPELINE_ANALYZER_MODEL", "").strip()
    if not url or not model:
        raise ConfigError(
            "PIPELINE_ANALYZER=openai needs PIPELINE_ANALYZER_URL (the server's base URL, e.g."
            " http://127.0.0.1:11434/v1) and PIPELINE_ANALYZER_MODEL (e.g. llama3.2)"
        )
    http_hosts = _hosts(env, "PIPELINE_ANALYZER_HTTP_HOSTS")
    try:
        chat_completions_url(url, http_hosts)
    except ValueError as exc:
        raise ConfigError(f"PIPELINE_ANALYZER_URL: {exc}") from None
    return OpenAiSettings(
        url=url,
        model=model,
        api_key_ref=env.get("PIPELINE_ANALYZER_API_KEY_REF", "").strip() or None,
        http_hosts=http_hosts,
        response_format=_choice(env, "PIPELINE_ANALYZER_RESPONSE_FORMAT", "auto", RESPONSE_FORMATS),
        timeout_s=_number(env, "PIPELINE_ANALYZER_TIMEOUT_SECONDS", 120, 1, 3600),
    )


def _cloud(env: Mapping[str, str]) -> CloudSettings:
    def text(name: str) -> str | None:
        return env.get(name, "").strip() or None

    return CloudSettings(
        project=(
            text("PIPELINE_GCP_PROJECT") or text("PROJECT_ID") or text("GOOGLE_CLOUD_PROJECT") or ""
        ),
        speech_location=text("PIPELINE_SPEECH_LOCATION") or "us",
        speech_model=text("PIPELINE_SPEECH_MODEL") or "chirp_3",
        speech_endpoint=text("PIPELINE_SPEECH_ENDPOINT"),
        speech_separate_channels=_choice(
            env, "PIPELINE_SPEECH_SEPARATE_CHANNELS", "true", ("true", "false")
        )
        == "true",
        speech_processing=_choice(
            env, "PIPELINE_SPEECH_PROCESSING", "standard", ("standard", "dynamic_batch")
        ),
        speech_check_every_s=_number(env, "PIPELINE_SPEECH_CHECK_SECONDS", 600, 1, 86400),
        vertex_location=text("PIPELINE_VERTEX_LOCATION") or "us-central1",
        vertex_base_url=text("PIPELINE_VERTEX_BASE_URL"),
        audio_kms_key=text("PIPELINE_AUDIO_KMS_KEY"),
        push_audience=text("PIPELINE_PUSH_AUDIENCE"),
        push_service_account=text("PIPELINE_PUSH_SERVICE_ACCOUNT"),
        dispatch_grace_s=_number(env, "PIPELINE_DISPATCH_GRACE_SECONDS", 600, 10, 86400),
    )


# --- metrics export (PIPELINE_METRICS_EXPORT) ---------------------------------------------------


@attrs.frozen
class MetricsSettings:
    """Where the metrics go besides GET /v1/metrics: `none`, or `gcp` (pushed to Cloud
    Monitoring every `interval_s`, for deploy/monitoring's alert policies and dashboard)."""

    export: str = "none"  # PIPELINE_METRICS_EXPORT
    interval_s: float = 60.0  # PIPELINE_METRICS_EXPORT_INTERVAL_SECONDS


def _metrics(env: Mapping[str, str]) -> MetricsSettings:
    return MetricsSettings(
        export=_choice(env, "PIPELINE_METRICS_EXPORT", "none", ("none", "gcp")),
        interval_s=_number(env, "PIPELINE_METRICS_EXPORT_INTERVAL_SECONDS", 60, 60, 3600),
    )


# --- hot-lead alerts (PIPELINE_ALERT_*, PIPELINE_PUBLIC_URL) ------------------------------------


@attrs.frozen
class AlertSettings:
    """Where a tenant's alerts may go, and the link they carry."""

    # PIPELINE_ALERT_HTTP_HOSTS: hosts a destination may reach over plain http or on a loopback
    # or private address (a local stand-in, tests); every other destination is https, public.
    http_hosts: tuple[str, ...] = ()
    # PIPELINE_PUBLIC_URL: the service as its users reach it; an alert links to the call there.
    public_url: str = "http://localhost:8080"
    timeout_s: float = 10.0  # PIPELINE_ALERT_TIMEOUT_SECONDS, per request
    retry_base_s: float = 1.0  # PIPELINE_ALERT_RETRY_BASE_SECONDS: 3 tries, backoff from this


def _alerts(env: Mapping[str, str], port: int) -> AlertSettings:
    public_url = env.get("PIPELINE_PUBLIC_URL", "").strip().rstrip("/")
    if public_url and not public_url.startswith(("https://", "http://")):
        raise ConfigError(f"PIPELINE_PUBLIC_URL: {public_url!r} is not an http(s) URL")
    return AlertSettings(
        http_hosts=_hosts(env, "PIPELINE_ALERT_HTTP_HOSTS"),
        public_url=public_url or f"http://localhost:{port}",
        timeout_s=_number(env, "PIPELINE_ALERT_TIMEOUT_SECONDS", 10, 0.1, 120),
        retry_base_s=_number(env, "PIPELINE_ALERT_RETRY_BASE_SECONDS", 1, 0.001, 600),
    )


# --- the CRM budget across instances (PIPELINE_WORKER_MAX_INSTANCES) -------------------------


def _worker_max_instances(env: Mapping[str, str]) -> int:
    """How many worker instances may run at once (deploy.sh passes the worker service's max
    instances); a whole number, since a share rounded down would overspend the budget."""
    value = _number(env, "PIPELINE_WORKER_MAX_INSTANCES", 1, 1, 1000)
    if value != int(value):
        raise ConfigError("PIPELINE_WORKER_MAX_INSTANCES: must be a whole number")
    return int(value)
