"""The composition root: the only module that knows every adapter. Adapters are chosen here by
configuration, one setting per port; use cases are built fresh per call (Factory)."""

from __future__ import annotations

from pathlib import Path

from dependency_injector import containers, providers

from adapters.callrail.recording_source import CallRailRecordingSource
from adapters.filesystem.audio_store import FileAudioStore
from adapters.filesystem.health import DirectoryHealthProbe
from adapters.localsecrets.stores import EnvSecretStore, FileSecretStore
from adapters.rules.analyzer import RulesCallAnalyzer
from adapters.sqlite.database import SqliteDatabase
from adapters.sqlite.health import SqliteHealthProbe, SqliteQueueProbe
from adapters.sqlite.queue import SqliteJobQueue
from adapters.sqlite.repositories import SqliteUnitOfWorkFactory
from adapters.system.clock import SystemClock, UuidIdGenerator
from adapters.whisper.health import WhisperHealthProbe
from adapters.whisper.transcriber import WhisperTranscriber
from domain.retry import RetryPolicy
from domain.usecases.calls import GetCall, ListCalls
from domain.usecases.intake import AcceptWebhook
from domain.usecases.jobs import ClaimDueJobs, KeepClaims, SettleJob, SweepStalledCalls
from domain.usecases.processing import ProcessCall
from domain.usecases.reprocess import ReprocessCall
from domain.usecases.tenants import (
    AuthenticateApiKey,
    CreateTenant,
    GetTenant,
    IssueApiKey,
    ListTenants,
    UpdateTenant,
)
from entrypoints.config import Settings
from entrypoints.crm import ConfiguredCrmGatewayFactory
from entrypoints.worker import LocalWorkerPool


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)
    processing = settings.provided.processing

    clock = providers.Singleton(SystemClock)
    ids = providers.Singleton(UuidIdGenerator)

    # Opened and closed by the app's cleanup context or the CLI, not at construction.
    database = providers.Singleton(
        SqliteDatabase,
        path=settings.provided.database.path,
        synchronous=settings.provided.database.synchronous,
    )
    uow = providers.Singleton(SqliteUnitOfWorkFactory, db=database)
    queue = providers.Singleton(SqliteJobQueue)

    secrets = providers.Selector(
        settings.provided.secrets.backend,
        env=providers.Singleton(EnvSecretStore),
        file=providers.Singleton(
            FileSecretStore, path=providers.Factory(Path, settings.provided.secrets.path)
        ),
    )

    audio = providers.Singleton(FileAudioStore, root=settings.provided.audio_root)
    recordings = providers.Singleton(
        CallRailRecordingSource,
        secrets=secrets,
        allowed_hosts=settings.provided.recording_allowed_hosts,
        allow_http_hosts=settings.provided.recording_http_hosts,
        max_bytes=processing.recording_max_bytes,
        api_base=processing.callrail_api_base,
    )
    transcriber = providers.Singleton(
        WhisperTranscriber, audio_store=audio, model_path=processing.whisper_model_path
    )
    analyzer = providers.Singleton(RulesCallAnalyzer)
    crm = providers.Singleton(
        ConfiguredCrmGatewayFactory, secrets=secrets, http_hosts=settings.provided.crm_http_hosts
    )
    retry = providers.Singleton(
        RetryPolicy, max_attempts=processing.max_attempts, base_delay_s=processing.retry_base_s
    )

    database_probe = providers.Singleton(SqliteHealthProbe, db=database)
    queue_probe = providers.Singleton(SqliteQueueProbe, db=database)
    storage_probe = providers.Singleton(DirectoryHealthProbe, root=settings.provided.audio_root)
    speech_probe = providers.Singleton(WhisperHealthProbe, transcriber=transcriber)

    accept_webhook = providers.Factory(
        AcceptWebhook, uow=uow, secrets=secrets, queue=queue, clock=clock, ids=ids
    )
    process_call = providers.Factory(
        ProcessCall,
        uow=uow,
        recordings=recordings,
        audio=audio,
        transcriber=transcriber,
        analyzer=analyzer,
        crm=crm,
        clock=clock,
        retry=retry,
        lease_s=processing.lease_s,
    )
    claim_jobs = providers.Factory(ClaimDueJobs, uow=uow, clock=clock, claim_s=processing.lease_s)
    settle_job = providers.Factory(SettleJob, uow=uow, clock=clock)
    keep_claims = providers.Factory(KeepClaims, uow=uow, clock=clock, claim_s=processing.lease_s)
    sweep = providers.Factory(
        SweepStalledCalls,
        uow=uow,
        queue=queue,
        clock=clock,
        ids=ids,
        stalled_after_s=processing.sweep_after_s,
    )
    reprocess_call = providers.Factory(ReprocessCall, uow=uow, queue=queue, clock=clock, ids=ids)
    create_tenant = providers.Factory(CreateTenant, uow=uow, clock=clock)
    update_tenant = providers.Factory(UpdateTenant, uow=uow, clock=clock)
    get_tenant = providers.Factory(GetTenant, uow=uow)
    list_tenants = providers.Factory(ListTenants, uow=uow)
    issue_api_key = providers.Factory(IssueApiKey, uow=uow, clock=clock, ids=ids)
    authenticate_api_key = providers.Factory(AuthenticateApiKey, uow=uow)
    list_calls = providers.Factory(ListCalls, uow=uow)
    get_call = providers.Factory(GetCall, uow=uow)

    worker = providers.Singleton(
        LocalWorkerPool,
        claim=claim_jobs,
        process=process_call,
        settle=settle_job,
        sweep=sweep,
        keep_claims=keep_claims,
        wakeup=queue.provided.wakeup,
        concurrency=processing.worker_concurrency,
        sweep_every_s=processing.sweep_every_s,
        claim_s=processing.lease_s,
    )


def build_container(settings: Settings) -> Container:
    return Container(settings=settings)
