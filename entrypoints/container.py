"""The composition root: the only module that knows every adapter. Adapters are chosen here by
configuration, one setting per port; use cases are built fresh per call (Factory)."""

from __future__ import annotations

import inspect
from pathlib import Path

from dependency_injector import containers, providers
from opentelemetry.sdk.metrics.export import MetricReader

from adapters.callrail.calls_api import CallRailCallsApi
from adapters.callrail.recording_source import CallRailRecordingSource
from adapters.filesystem.audio_store import FileAudioStore
from adapters.filesystem.health import DirectoryHealthProbe
from adapters.filesystem.scratch import PrivateScratch
from adapters.localsecrets.stores import EnvSecretStore, FileSecretStore
from adapters.openai.analyzer import OpenAiCallAnalyzer
from adapters.otel.cloud_monitoring import cloud_monitoring_reader, cloud_run_resource
from adapters.otel.metrics import ErrorTally, OtelMetrics
from adapters.pyav.audio_redactor import PyAvAudioRedactor
from adapters.rules.analyzer import RulesCallAnalyzer
from adapters.slack.alerts import SlackAlertSender
from adapters.sqlite.database import SqliteDatabase
from adapters.sqlite.health import SqliteHealthProbe
from adapters.sqlite.queue import SqliteJobQueue
from adapters.sqlite.repositories import SqliteUnitOfWorkFactory
from adapters.system.clock import SystemClock, TimeOrderedIdGenerator, UuidIdGenerator
from adapters.system.orjson_reader import orjson_loads
from adapters.webhookalerts.sender import SignedWebhookAlertSender
from adapters.webhookalerts.transport import GuardedPoster
from adapters.whisper.health import WhisperHealthProbe
from adapters.whisper.transcriber import WhisperTranscriber
from domain.retry import RetryPolicy
from domain.usecases.alerting import SendAlerts
from domain.usecases.audio_redaction import AudioRedaction
from domain.usecases.calls import GetCall, ListCalls
from domain.usecases.erasure import DeleteCall, DeleteTenant, ListDeletions
from domain.usecases.intake import AcceptWebhook, AdmitCall, TenantsSeen
from domain.usecases.jobs import DeliverJob, DispatchDueJobs, SweepStalledCalls
from domain.usecases.processing import ProcessCall
from domain.usecases.reanalyze import ReanalyzeCalls
from domain.usecases.reconcile import ReconcileCalls
from domain.usecases.redact_audio import RedactStoredAudio
from domain.usecases.reprocess import ReprocessCall
from domain.usecases.retention import ExpireCalls
from domain.usecases.stats import TenantStats
from domain.usecases.tenants import (
    AuthenticateApiKey,
    CreateTenant,
    GetTenant,
    IssueApiKey,
    ListTenants,
    UpdateTenant,
)
from entrypoints import cloud
from entrypoints.alerts import AlertSenders, GuardedAlertUrls
from entrypoints.config import ConfigError, Settings
from entrypoints.costing import CallCosting, pricing_of
from entrypoints.crm import ConfiguredCrmGatewayFactory
from entrypoints.probes import PingProbe, QueueProbe, RepositoryProbe
from entrypoints.tracing import build_tracer, traced, traced_crm_gateways, traced_unit_of_work
from entrypoints.worker import LocalWorkerPool, OutboxDispatcher


def _gcp_reader(project: str, interval_s: float) -> MetricReader:
    try:
        return cloud_monitoring_reader(project, interval_s=interval_s)
    except ImportError as exc:
        raise ConfigError(
            f"PIPELINE_METRICS_EXPORT=gcp: {exc.name} is not installed;"
            " install the Google Cloud extra: pip install 'ingestion-pipeline[gcp]'"
        ) from None


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    processing = settings.provided.processing
    cloud_settings = settings.provided.cloud

    clock = providers.Singleton(SystemClock)
    # Job ids: in time order for SQLite's B-trees, random for Spanner's splits.
    ids = providers.Selector(
        settings.provided.database.backend,
        sqlite=providers.Singleton(TimeOrderedIdGenerator),
        spanner=providers.Singleton(UuidIdGenerator),
    )
    tracer = providers.Singleton(build_tracer, settings)

    # Driver errors the database met, read by the metrics (pipeline.database.errors).
    database_errors = providers.Singleton(ErrorTally, settings.provided.database.backend)
    # Opened and closed by the app's cleanup context or the CLI, not at construction.
    database = providers.Selector(
        settings.provided.database.backend,
        sqlite=providers.Singleton(
            SqliteDatabase,
            path=settings.provided.database.path,
            synchronous=settings.provided.database.synchronous,
        ),
        spanner=providers.Singleton(
            cloud.spanner_database,
            settings.provided.database.spanner_project,
            settings.provided.database.spanner_instance,
            settings.provided.database.spanner_database,
            database_errors,
        ),
    )
    uow = providers.Selector(
        settings.provided.database.backend,
        sqlite=providers.Singleton(SqliteUnitOfWorkFactory, db=database),
        spanner=providers.Singleton(cloud.spanner_unit_of_work, database),
    )
    queue = providers.Selector(
        settings.provided.queue.backend,
        local=providers.Singleton(SqliteJobQueue, database, clock, processing.lease_s),
        pubsub=providers.Singleton(
            cloud.pubsub_queue, settings.provided.queue.topic, cloud_settings.dispatch_grace_s
        ),
    )

    secrets = providers.Selector(
        settings.provided.secrets.backend,
        env=providers.Singleton(EnvSecretStore),
        file=providers.Singleton(
            FileSecretStore,
            path=providers.Factory(Path, settings.provided.secrets.path),
            clock=clock,
        ),
        secretmanager=providers.Singleton(
            cloud.secret_manager_store, settings.provided.secrets.project, clock
        ),
    )

    audio = providers.Selector(
        settings.provided.audio.backend,
        file=providers.Singleton(FileAudioStore, root=settings.provided.audio.root),
        gcs=providers.Singleton(
            cloud.gcs_audio_store,
            settings.provided.audio.bucket,
            settings.provided.audio.prefix,
            cloud_settings.project,
            cloud_settings.audio_kms_key,
        ),
    )
    recordings = providers.Singleton(
        CallRailRecordingSource,
        secrets=secrets,
        allowed_hosts=settings.provided.recording_allowed_hosts,
        allow_http_hosts=settings.provided.recording_http_hosts,
        max_bytes=processing.recording_max_bytes,
        api_base=processing.callrail_api_base,
    )
    transcriber = providers.Selector(
        settings.provided.transcriber,
        whisper=providers.Singleton(
            WhisperTranscriber, audio_store=audio, model_path=processing.whisper_model_path
        ),
        **{
            "google-speech": providers.Singleton(
                cloud.google_speech,
                cloud_settings.project,
                cloud_settings.speech_location,
                cloud_settings.speech_model,
                cloud_settings.speech_endpoint,
                cloud_settings.speech_separate_channels,
                cloud_settings.speech_processing,
                cloud_settings.speech_check_every_s,
            )
        },
    )
    rules = providers.Singleton(RulesCallAnalyzer)
    analyzer = providers.Selector(
        settings.provided.analyzer,
        rules=rules,
        vertex=providers.Singleton(
            cloud.vertex_analyzer,
            rules,
            cloud_settings.project,
            cloud_settings.vertex_location,
            cloud_settings.vertex_base_url,
        ),
        openai=providers.Singleton(
            OpenAiCallAnalyzer,
            rules,
            base_url=settings.provided.openai.url,
            model=settings.provided.openai.model,
            http_hosts=settings.provided.openai.http_hosts,
            secrets=secrets,
            api_key_ref=settings.provided.openai.api_key_ref,
            response_format=settings.provided.openai.response_format,
            request_timeout_s=settings.provided.openai.timeout_s,
        ),
    )
    crm = providers.Singleton(
        ConfiguredCrmGatewayFactory,
        secrets=secrets,
        http_hosts=settings.provided.crm_http_hosts,
        instances=settings.provided.worker_max_instances,
    )
    retry = providers.Singleton(
        RetryPolicy, max_attempts=processing.max_attempts, base_delay_s=processing.retry_base_s
    )
    # What the use cases on a call's path are given: every adapter call a span (tracing.py).
    # Factories, not singletons: a test's override of the adapter beneath is always seen.
    traced_uow = providers.Factory(traced_unit_of_work, uow, tracer)
    traced_recordings = providers.Factory(traced, recordings, tracer, "recording")
    traced_audio = providers.Factory(traced, audio, tracer, "storage")
    traced_transcriber = providers.Factory(traced, transcriber, tracer, "speech")
    traced_analyzer = providers.Factory(traced, analyzer, tracer, "analyzer")
    # A tenant that redacts PII has its recording stored with the card numbers silenced.
    audio_redactor = providers.Singleton(PyAvAudioRedactor)
    traced_audio_redactor = providers.Factory(traced, audio_redactor, tracer, "audio_redaction")
    scratch = providers.Singleton(PrivateScratch, root=settings.provided.scratch_dir, store=audio)
    traced_crm = providers.Factory(traced_crm_gateways, crm, tracer)
    # Hot-lead alerts: Slack and signed webhooks, through the recordings' SSRF guard.
    alert_settings = settings.provided.alerts
    alert_poster = providers.Singleton(
        GuardedPoster,
        approver=providers.Singleton(GuardedAlertUrls, http_hosts=alert_settings.http_hosts),
        timeout_s=alert_settings.timeout_s,
    )
    alert_sender = providers.Singleton(
        AlertSenders,
        senders=providers.Dict(
            slack=providers.Singleton(SlackAlertSender, poster=alert_poster, secrets=secrets),
            webhook=providers.Singleton(
                SignedWebhookAlertSender, poster=alert_poster, secrets=secrets
            ),
        ),
    )

    database_probe = providers.Selector(
        settings.provided.database.backend,
        sqlite=providers.Singleton(SqliteHealthProbe, db=database),
        spanner=providers.Singleton(RepositoryProbe, uow, "spanner"),
    )
    queue_probe = providers.Singleton(QueueProbe, uow, clock, settings.provided.queue.backend)
    storage_probe = providers.Selector(
        settings.provided.audio.backend,
        file=providers.Singleton(DirectoryHealthProbe, root=settings.provided.audio.root),
        gcs=providers.Singleton(PingProbe, audio, "cloud storage"),
    )
    speech_probe = providers.Selector(
        settings.provided.transcriber,
        whisper=providers.Singleton(WhisperHealthProbe, transcriber=transcriber),
        **{"google-speech": providers.Singleton(PingProbe, transcriber, "speech-to-text v2")},
    )
    analyzer_probe = providers.Selector(
        settings.provided.analyzer,
        rules=providers.Object(None),
        vertex=providers.Singleton(PingProbe, analyzer, "vertex ai gemini"),
        openai=providers.Object(None),
    )
    # Prometheus at /v1/metrics; the queue's gauges read the queue probe, cached a few seconds.
    # PIPELINE_METRICS_EXPORT=gcp: pushed to Cloud Monitoring too, for deploy/monitoring.
    metrics = providers.Selector(
        settings.provided.metrics.export,
        none=providers.Singleton(
            OtelMetrics, queue_probe=queue_probe, database_errors=database_errors
        ),
        gcp=providers.Singleton(
            OtelMetrics,
            queue_probe=queue_probe,
            database_errors=database_errors,
            readers=providers.List(
                providers.Singleton(
                    _gcp_reader, cloud_settings.project, settings.provided.metrics.interval_s
                )
            ),
            resource=providers.Singleton(cloud_run_resource),
        ),
    )

    # Active tenants the webhooks found in the last 2 s (see TenantsSeen for what that costs).
    tenants_seen = providers.Singleton(TenantsSeen)
    # One for the process: its parts are singletons, and making it anew cost ~16 us a webhook.
    accept_webhook = providers.Singleton(
        AcceptWebhook,
        uow=traced_uow,
        secrets=secrets,
        queue=queue,
        clock=clock,
        ids=ids,
        tracer=tracer,
        seen=tenants_seen,
        loads=providers.Object(orjson_loads),
    )
    send_alerts = providers.Factory(
        SendAlerts,
        sender=providers.Factory(traced, alert_sender, tracer, "alerts"),
        clock=clock,
        public_url=alert_settings.public_url,
        retry=providers.Singleton(
            RetryPolicy, max_attempts=3, base_delay_s=alert_settings.retry_base_s, max_delay_s=30.0
        ),
        tracer=tracer,
        metrics=metrics,
    )
    process_call = providers.Factory(
        ProcessCall,
        uow=traced_uow,
        recordings=traced_recordings,
        audio=traced_audio,
        transcriber=traced_transcriber,
        analyzer=traced_analyzer,
        crm=traced_crm,
        clock=clock,
        retry=retry,
        lease_s=processing.lease_s,
        tracer=tracer,
        metrics=metrics,
        redactor=traced_audio_redactor,
        scratch=scratch,
        alerts=send_alerts,
    )
    deliver_job = providers.Factory(DeliverJob, process=process_call, uow=traced_uow, clock=clock)
    sweep = providers.Factory(
        SweepStalledCalls,
        uow=uow,
        queue=queue,
        clock=clock,
        ids=ids,
        stalled_after_s=processing.sweep_after_s,
    )
    reprocess_call = providers.Factory(ReprocessCall, uow=uow, queue=queue, clock=clock, ids=ids)
    # Retention and erasure (issue 28).
    expire_calls = providers.Factory(ExpireCalls, uow=uow, audio=traced_audio, clock=clock, ids=ids)
    delete_call = providers.Factory(DeleteCall, uow=uow, audio=traced_audio, clock=clock, ids=ids)
    delete_tenant = providers.Factory(
        DeleteTenant, uow=uow, audio=traced_audio, clock=clock, ids=ids
    )
    list_deletions = providers.Factory(ListDeletions, uow=uow)
    reanalyze_calls = providers.Factory(
        ReanalyzeCalls, uow=uow, process=process_call, queue=queue, clock=clock, ids=ids
    )
    redact_stored_audio = providers.Factory(
        RedactStoredAudio,
        uow=traced_uow,
        audio=traced_audio,
        transcriber=traced_transcriber,
        redaction=providers.Factory(
            AudioRedaction, redactor=traced_audio_redactor, scratch=scratch
        ),
    )
    create_tenant = providers.Factory(
        CreateTenant, uow=uow, clock=clock, alert_http_hosts=alert_settings.http_hosts
    )
    update_tenant = providers.Factory(
        UpdateTenant, uow=uow, clock=clock, alert_http_hosts=alert_settings.http_hosts
    )
    get_tenant = providers.Factory(GetTenant, uow=uow)
    list_tenants = providers.Factory(ListTenants, uow=uow)
    issue_api_key = providers.Factory(IssueApiKey, uow=uow, clock=clock, ids=ids)
    authenticate_api_key = providers.Factory(AuthenticateApiKey, uow=uow)
    list_calls = providers.Factory(ListCalls, uow=uow)
    get_call = providers.Factory(GetCall, uow=uow)
    # Money: the price table and the services this deployment pays (entrypoints/costing.py).
    pricing = providers.Singleton(pricing_of, settings)
    call_cost = providers.Singleton(CallCosting, pricing)
    tenant_stats = providers.Factory(TenantStats, uow=uow, clock=clock, pricing=pricing)

    # CallRail reconciliation. One client per process: one hourly budget per CallRail account.
    callrail_calls = providers.Singleton(
        CallRailCallsApi, secrets=secrets, api_base=processing.callrail_api_base
    )
    reconcile_calls = providers.Factory(
        ReconcileCalls,
        uow=uow,
        calls_api=callrail_calls,
        accept=providers.Factory(AdmitCall, uow=uow, queue=queue, ids=ids, tracer=tracer),
        clock=clock,
    )

    dispatch_jobs = providers.Factory(
        DispatchDueJobs, uow=uow, queue=queue, clock=clock, grace_s=cloud_settings.dispatch_grace_s
    )
    dispatcher = providers.Singleton(
        OutboxDispatcher,
        dispatch=dispatch_jobs,
        sweep=sweep,
        sweep_every_s=processing.sweep_every_s,
    )
    worker = providers.Singleton(
        LocalWorkerPool,
        queue=queue,
        deliver=deliver_job,
        sweep=sweep,
        concurrency=processing.worker_concurrency,
        sweep_every_s=processing.sweep_every_s,
        claim_s=processing.lease_s,
        tracer=tracer,
    )


async def close_clients(container: Container) -> None:
    """Closes what the container opened, whichever adapters the configuration chose."""
    for provider in (
        container.crm,
        container.transcriber,
        container.audio_redactor,
        container.analyzer,
        container.queue,
        container.audio,
        container.secrets,
    ):
        client = provider()
        for name in ("aclose", "close"):
            close = getattr(client, name, None)
            if callable(close):
                result = close()
                if inspect.isawaitable(result):
                    await result
                break


def build_container(settings: Settings) -> Container:
    return Container(settings=settings)
