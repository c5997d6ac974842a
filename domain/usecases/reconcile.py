"""Reconciliation: CallRail does not resend a webhook that failed, so its call list is read back
and every call we never received enters the pipeline the way a webhook's call does.

A call is ingested once however often the same window is reconciled: it is skipped when already
stored, and AdmitCall's insert-if-absent settles a webhook arriving at the same moment. Each
call is committed as it is admitted, so a run cut short (a rate limit, an error) keeps what it
did and the next run goes on from there.

A call that ended so recently that its webhook may still come (CallRail posts it once the
recording is attached, up to 20 minutes after hang-up) is left to it: taken now, it could be
processed before its recording exists.

A run says how far it has come through `progress`: a line a page read and a line a call
admitted; when it stops on an error, a last line says what it did before the error is raised."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import attrs

from domain.errors import (
    DomainError,
    FieldError,
    PermanentFailure,
    TenantInactive,
    TenantNotFound,
    ValidationFailed,
)
from domain.tenant import Tenant
from domain.usecases.intake import AdmitCall, AdmitCommand
from domain.webhook import MAX_ID_LENGTH, parse_incoming_call
from ports.callrail import CallRailCalls
from ports.repositories import UnitOfWorkFactory
from ports.system import Clock

WEBHOOK_GRACE_S = 30 * 60.0  # CallRail's 20 minutes after hang-up, and a margin for delivery


@attrs.frozen
class ReconcileCommand:
    tenant_id: str
    since: datetime


@attrs.frozen
class ReconcileReport:
    """What one run found, call ids by outcome, in CallRail's order. `failed` pairs a call's id
    (or `#N`, its position in the list, when it has no usable id) with why it was refused;
    `foreign` holds calls of another CallRail company than the tenant's; `recent`, calls whose
    webhook may still come (the next run takes them if it does not)."""

    tenant_id: str
    since: datetime
    seen: int = 0
    ingested: tuple[str, ...] = ()
    known: tuple[str, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()
    foreign: tuple[str, ...] = ()
    recent: tuple[str, ...] = ()


class ReconcileCalls:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        calls_api: CallRailCalls,
        accept: AdmitCall,
        clock: Clock,
        webhook_grace_s: float = WEBHOOK_GRACE_S,
    ):
        self._uow = uow
        self._calls_api = calls_api
        self._accept = accept
        self._clock = clock
        self._grace = timedelta(seconds=webhook_grace_s)

    async def __call__(
        self, command: ReconcileCommand, progress: Callable[[str], None] = lambda _: None
    ) -> ReconcileReport:
        since = _checked_since(command.since, self._clock.now())
        tenant = await self._tenant(command.tenant_id)
        run = _Run(tenant)
        try:
            await self._pages(run, since, progress)
        except DomainError:
            progress(f"stopped at {run.where()} after {run.summary()}")
            raise
        return run.report(since)

    async def _pages(self, run: _Run, since: datetime, progress: Callable[[str], None]) -> None:
        token: str | None = None
        tokens: set[str] = set()
        while True:
            run.pages_read += 1
            page = await self._calls_api.list_calls(run.tenant, since, token)
            run.total_pages = page.total_pages
            progress(f"{run.where()}: {len(page.calls)} call(s) listed")
            for payload in page.calls:
                ingested = len(run.ingested)
                await self._reconcile_one(run, payload)
                if len(run.ingested) > ingested:
                    progress(f"ingested {run.ingested[-1]}")
            token = page.next_page_token
            if token is None:
                return
            if token in tokens:
                raise PermanentFailure("CallRail's call list led back to a page already read")
            tokens.add(token)

    async def _reconcile_one(self, run: _Run, payload: Mapping[str, Any]) -> None:
        run.seen += 1
        try:
            incoming = parse_incoming_call(payload)
        except ValidationFailed as exc:
            run.failed.append((_shown_id(payload, run.seen), _reasons(exc)))
            return
        call_id = incoming.call_id
        if call_id in run.done:
            return  # listed twice (the list moved between pages): counted once
        run.done.add(call_id)
        company = run.tenant.config.callrail_company_id
        if incoming.company_ids and company not in incoming.company_ids:
            run.foreign.append(call_id)
            return
        now = self._clock.now()
        started, duration = incoming.metadata.started_at, incoming.metadata.duration_s
        if started is not None and started + timedelta(seconds=duration or 0) + self._grace > now:
            run.recent.append(call_id)
            return
        async with self._uow(read_only=True) as uow:
            stored = await uow.calls.get(run.tenant.tenant_id, call_id)
        if stored is not None:
            run.known.append(call_id)
            return
        admitted = await self._accept(AdmitCommand(run.tenant.tenant_id, incoming, now))
        (run.ingested if admitted.created else run.known).append(call_id)

    async def _tenant(self, tenant_id: str) -> Tenant:
        async with self._uow(read_only=True) as uow:
            tenant = await uow.tenants.get(tenant_id)
        if tenant is None:
            raise TenantNotFound(f"no tenant {tenant_id}")
        if not tenant.active:
            raise TenantInactive(f"tenant {tenant_id} is not active")
        config = tenant.config
        if config.callrail_account_id is None or config.callrail_api_key is None:
            raise ValidationFailed(
                [
                    FieldError(
                        "config",
                        "reconciliation needs callrail_account_id and callrail_api_key"
                        " (or callrail_api_key_ref)",
                    )
                ],
                what=f"tenant {tenant_id}",
            )
        return tenant


@attrs.define
class _Run:
    tenant: Tenant
    seen: int = 0
    done: set[str] = attrs.field(factory=set)
    ingested: list[str] = attrs.field(factory=list)
    known: list[str] = attrs.field(factory=list)
    failed: list[tuple[str, str]] = attrs.field(factory=list)
    foreign: list[str] = attrs.field(factory=list)
    recent: list[str] = attrs.field(factory=list)
    pages_read: int = 0
    total_pages: int | None = None

    def where(self) -> str:
        pages = f" of {self.total_pages}" if self.total_pages else ""
        return f"page {self.pages_read}{pages}"

    def summary(self) -> str:
        return (
            f"{self.seen} call(s) listed: {len(self.ingested)} ingested,"
            f" {len(self.known)} already known, {len(self.recent)} too recent,"
            f" {len(self.foreign)} of another company, {len(self.failed)} failed"
        )

    def report(self, since: datetime) -> ReconcileReport:
        return ReconcileReport(
            tenant_id=self.tenant.tenant_id,
            since=since,
            seen=self.seen,
            ingested=tuple(self.ingested),
            known=tuple(self.known),
            failed=tuple(self.failed),
            foreign=tuple(self.foreign),
            recent=tuple(self.recent),
        )


def _checked_since(since: datetime, now: datetime) -> datetime:
    if since.tzinfo is None or since.utcoffset() is None:
        raise ValidationFailed([FieldError("since", "give the time with its UTC offset")], "query")
    if since > now:
        raise ValidationFailed([FieldError("since", "is in the future")], "query")
    return since


def _reasons(exc: ValidationFailed) -> str:
    return "; ".join(f"{f.field}: {f.message}" for f in exc.fields)


def _shown_id(payload: Mapping[str, Any], position: int) -> str:
    """The id of a call that failed to parse, when it is one that can be shown on a line."""
    for key in ("resource_id", "id", "call_id"):
        value = payload.get(key)
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            text = str(value).strip()
            if text and len(text) <= MAX_ID_LENGTH and text.isprintable():
                return text
    return f"#{position}"
