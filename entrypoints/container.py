"""The composition root: the only module that knows every adapter. Adapters are chosen here by
configuration, one setting per port; use cases are built fresh per call (Factory)."""

from __future__ import annotations

from pathlib import Path

from dependency_injector import containers, providers

from adapters.localsecrets.stores import EnvSecretStore, FileSecretStore
from adapters.sqlite.database import SqliteDatabase
from adapters.sqlite.health import SqliteHealthProbe, SqliteQueueProbe
from adapters.sqlite.queue import SqliteJobQueue
from adapters.sqlite.repositories import SqliteUnitOfWorkFactory
from adapters.system.clock import SystemClock, UuidIdGenerator
from domain.usecases.calls import GetCall, ListCalls
from domain.usecases.intake import AcceptWebhook
from domain.usecases.tenants import (
    AuthenticateApiKey,
    CreateTenant,
    GetTenant,
    IssueApiKey,
    ListTenants,
    UpdateTenant,
)
from entrypoints.config import Settings


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)

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

    database_probe = providers.Singleton(SqliteHealthProbe, db=database)
    queue_probe = providers.Singleton(SqliteQueueProbe, db=database)

    accept_webhook = providers.Factory(
        AcceptWebhook, uow=uow, secrets=secrets, queue=queue, clock=clock, ids=ids
    )
    create_tenant = providers.Factory(CreateTenant, uow=uow, clock=clock)
    update_tenant = providers.Factory(UpdateTenant, uow=uow, clock=clock)
    get_tenant = providers.Factory(GetTenant, uow=uow)
    list_tenants = providers.Factory(ListTenants, uow=uow)
    issue_api_key = providers.Factory(IssueApiKey, uow=uow, clock=clock, ids=ids)
    authenticate_api_key = providers.Factory(AuthenticateApiKey, uow=uow)
    list_calls = providers.Factory(ListCalls, uow=uow)
    get_call = providers.Factory(GetCall, uow=uow)


def build_container(settings: Settings) -> Container:
    container = Container(settings=settings)
    return container
