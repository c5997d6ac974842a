"""Tracing at the composition root: the tracer PIPELINE_TRACING asks for, and the ports the use
cases are given wrapped so that every call through them is a span. One generic wrapper instead
of a tracing line in every adapter: a new adapter, or a new repository on the unit of work, is
traced without anyone remembering to.

Adapter spans are named `{what}.{method}` (db.calls.update, storage.put, speech.transcribe,
analyzer.analyze, crm.create_activity, recording.open) and carry the adapter's class name. They
never carry arguments or results: those hold phone numbers, transcripts and URLs."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any, Self, TypeVar, cast

from adapters.otel.tracing import OtelTracer, setup_tracing
from domain.tenant import Tenant
from entrypoints.config import ConfigError, Settings
from ports.crm import CrmGateway, CrmGatewayFactory
from ports.repositories import UnitOfWork, UnitOfWorkFactory
from ports.telemetry import NoTracing, Span, Tracer

T = TypeVar("T")
_PLAIN = (str, bytes, int, float, bool, type(None))


def build_tracer(settings: Settings) -> OtelTracer:
    try:
        return setup_tracing(
            settings.tracing, project=settings.cloud.project, service_version=settings.version
        )
    except ImportError as exc:
        raise ConfigError(
            f"PIPELINE_TRACING={settings.tracing}: {exc.name} is not installed;"
            " install the Google Cloud extra: pip install 'ingestion-pipeline[gcp]'"
        ) from None


class _TracedPort:
    """Any port object: each of its coroutine methods runs in a client span."""

    def __init__(self, inner: object, tracer: Tracer, prefix: str):
        self._inner = inner
        self._tracer = tracer
        self._prefix = prefix

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if name.startswith("_") or not inspect.iscoroutinefunction(value):
            return value  # attributes (crm_type) and plain methods pass through
        wrapped = _in_span(self._tracer, f"{self._prefix}.{name}", type(self._inner), value)
        setattr(self, name, wrapped)  # found here from now on, without __getattr__
        return wrapped


def _in_span(
    tracer: Tracer, name: str, adapter: type, method: Callable[..., Awaitable[Any]]
) -> Callable[..., Awaitable[Any]]:
    attributes = {"adapter": adapter.__name__}

    async def traced(*args: Any, **kwargs: Any) -> Any:
        with tracer.span(name, attributes, kind="client"):
            return await method(*args, **kwargs)

    return traced


def exports(tracer: Tracer) -> bool:
    """Whether spans go anywhere. When they do not (PIPELINE_TRACING=none, no tracer), the
    ports are given unwrapped: a span per adapter call would cost time and show nothing."""
    return not isinstance(tracer, NoTracing) and bool(getattr(tracer, "exports", True))


def traced(inner: T, tracer: Tracer, prefix: str) -> T:
    """`inner` with every coroutine method in a span `{prefix}.{method}`."""
    return cast(T, _TracedPort(inner, tracer, prefix)) if exports(tracer) else inner


class _TracedUnitOfWork:
    """A transaction in a span `db.transaction`; each repository call and the commit a child of
    it (db.calls.get, db.jobs.add, db.commit). Repositories are found by name, so one added to
    the unit of work later is traced as well."""

    def __init__(self, inner: UnitOfWork, tracer: Tracer):
        self._inner = inner
        self._tracer = tracer
        self._span: AbstractContextManager[Span] | None = None

    async def __aenter__(self) -> Self:
        attributes = {"adapter": type(self._inner).__name__}
        span = self._tracer.span("db.transaction", attributes, kind="client")
        span.__enter__()
        try:
            await self._inner.__aenter__()
        except BaseException as exc:
            span.__exit__(type(exc), exc, exc.__traceback__)
            raise
        self._span = span
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        span, self._span = self._span, None
        try:
            await self._inner.__aexit__(exc_type, exc, tb)
        finally:
            if span is not None:
                span.__exit__(exc_type, exc, tb)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if name.startswith("_") or isinstance(value, _PLAIN):
            return value
        if inspect.iscoroutinefunction(value):
            found: Any = _in_span(self._tracer, f"db.{name}", type(self._inner), value)
        elif callable(value):
            return value
        else:
            found = _TracedPort(value, self._tracer, f"db.{name}")
        setattr(self, name, found)
        return found


class _TracedUnitOfWorkFactory(UnitOfWorkFactory):
    def __init__(self, inner: UnitOfWorkFactory, tracer: Tracer):
        self._inner = inner
        self._tracer = tracer

    def __call__(self, *, read_only: bool = False) -> UnitOfWork:
        return cast(UnitOfWork, _TracedUnitOfWork(self._inner(read_only=read_only), self._tracer))


class _TracedCrmGatewayFactory(CrmGatewayFactory):
    def __init__(self, inner: CrmGatewayFactory, tracer: Tracer):
        self._inner = inner
        self._tracer = tracer

    async def for_tenant(self, tenant: Tenant) -> CrmGateway | None:
        gateway = await self._inner.for_tenant(tenant)
        return None if gateway is None else traced(gateway, self._tracer, "crm")


def traced_unit_of_work(inner: UnitOfWorkFactory, tracer: Tracer) -> UnitOfWorkFactory:
    """Transactions in spans `db.transaction`, their calls in spans `db.{repository}.{method}`."""
    return _TracedUnitOfWorkFactory(inner, tracer) if exports(tracer) else inner


def traced_crm_gateways(inner: CrmGatewayFactory, tracer: Tracer) -> CrmGatewayFactory:
    """Each tenant's CRM gateway with its calls in spans `crm.{method}`."""
    return _TracedCrmGatewayFactory(inner, tracer) if exports(tracer) else inner
