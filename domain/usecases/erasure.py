"""Erasure, driven through the ports: a call, or a tenant and everything held for it. Each
step can be run again, and a crash midway leaves a state a re-run completes: audio first, then
the rows that point at it; a tenant's calls page by page, then the tenant."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime

import attrs

from domain.call import Call
from domain.errors import (
    CallNotFound,
    ConcurrentUpdate,
    FieldError,
    TenantNotFound,
    ValidationFailed,
)
from domain.retention import (
    CALL_DELETED,
    CALLS_DELETED,
    TENANT_DELETED,
    DeletionRecord,
    call_reference,
)
from domain.tenant import SecretRef, Tenant
from domain.usecases.retention import Progress, Recorder, delete_audio, quiet
from ports.audio import AudioStore
from ports.repositories import UnitOfWorkFactory
from ports.system import Clock, IdGenerator


def secret_names(tenant: Tenant) -> tuple[str, ...]:
    """The secret store's entries the tenant's document names: not ours to delete (they may be
    shared), so the operator is told which they are."""
    c = tenant.config
    found = [s.name for s in (c.webhook_secret, c.callrail_api_key) if isinstance(s, SecretRef)]
    found += [
        value
        for key, value in c.crm.settings.items()
        if key.endswith("_ref") and isinstance(value, str)
    ]
    found += [d.secret.name for d in c.alerts.destinations if isinstance(d.secret, SecretRef)]
    return tuple(dict.fromkeys(found))


@attrs.frozen
class DeleteCallCommand:
    tenant_id: str
    call_id: str
    actor: str


@attrs.frozen
class Deletion:
    """What went (by kind: calls, jobs, objects, api_keys, usage_days, tenants), and the secret
    store's entries the tenant named, which were left there."""

    tenant_id: str
    counts: Mapping[str, int]
    secrets: tuple[str, ...] = ()


class DeleteCall:
    def __init__(self, uow: UnitOfWorkFactory, audio: AudioStore, clock: Clock, ids: IdGenerator):
        self._uow = uow
        self._audio = audio
        self._clock = clock
        self._ids = ids

    async def __call__(self, command: DeleteCallCommand) -> Deletion:
        """ConcurrentUpdate while a worker holds the call: it would store audio again after
        the delete. A finished call, or one whose lease has lapsed, is deleted."""
        tenant_id, call_id = command.tenant_id, command.call_id
        async with self._uow(read_only=True) as uow:
            call = await uow.calls.get(tenant_id, call_id)
        if call is not None and _in_progress(call, self._clock.now()):
            raise ConcurrentUpdate(f"call {call_id} is being processed; delete it once it is done")
        objects = await delete_audio(self._audio, tenant_id, call_id)
        async with self._uow() as uow:
            counts = dict(await uow.calls.delete(tenant_id, call_id))
            if not counts.get("calls") and not objects:
                raise CallNotFound(f"no call {call_id}")
            counts["objects"] = objects
            recorder = Recorder(self._clock, self._ids, command.actor)
            await recorder.record(
                uow, CALL_DELETED, tenant_id, call_reference(tenant_id, call_id), counts
            )
            await uow.commit()
        return Deletion(tenant_id, counts)


def _in_progress(call: Call, now: datetime) -> bool:
    until = call.lease_expires_at
    return (
        not call.stage.terminal
        and call.lease_owner is not None
        and until is not None
        and until > now
    )


@attrs.frozen
class DeleteTenantCommand:
    tenant_id: str
    confirm: str | None
    actor: str


class DeleteTenant:
    """Everything held for a tenant: its calls (a page at a time, audio first), the audio no
    call points at any more, then its API keys, usage and the tenant itself. The tenant is
    suspended first, so no new call arrives while it goes."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        audio: AudioStore,
        clock: Clock,
        ids: IdGenerator,
        page_size: int = 100,
    ):
        self._uow = uow
        self._audio = audio
        self._clock = clock
        self._ids = ids
        self._page_size = page_size

    async def __call__(self, command: DeleteTenantCommand, progress: Progress = quiet) -> Deletion:
        tenant_id = command.tenant_id
        if command.confirm != tenant_id:
            raise ValidationFailed(
                [
                    FieldError(
                        "confirm", "must repeat the tenant's id: deleting it cannot be undone"
                    )
                ],
                "deletion request",
            )
        recorder = Recorder(self._clock, self._ids, command.actor)
        tenant = await self._suspend(tenant_id)
        totals: Counter[str] = Counter()
        while True:
            async with self._uow(read_only=True) as uow:
                page = await uow.calls.list(tenant_id, limit=self._page_size)
            if not page.calls:
                break
            page_counts: Counter[str] = Counter()
            for call in page.calls:
                page_counts["objects"] += await delete_audio(self._audio, tenant_id, call.call_id)
            async with self._uow() as uow:
                for call in page.calls:
                    page_counts.update(await uow.calls.delete(tenant_id, call.call_id))
                await recorder.record(uow, CALLS_DELETED, tenant_id, None, page_counts)
                await uow.commit()
            totals.update(page_counts)
            done = f"{totals['calls']} call(s) and {totals['objects']} object(s) deleted"
            progress(f"tenant {tenant_id}: {done}")
        rest: Counter[str] = Counter(objects=await delete_audio(self._audio, tenant_id))
        async with self._uow() as uow:
            rest.update(await uow.tenants.delete(tenant_id))
            totals.update(rest)
            if tenant is None and not any(totals.values()):
                raise TenantNotFound(f"no tenant {tenant_id}")
            await recorder.record(uow, TENANT_DELETED, tenant_id, None, rest)
            await uow.commit()
        progress(f"tenant {tenant_id}: deleted")
        secrets = secret_names(tenant) if tenant is not None else ()
        return Deletion(tenant_id, dict(totals), secrets)

    async def _suspend(self, tenant_id: str) -> Tenant | None:
        async with self._uow() as uow:
            tenant = await uow.tenants.get(tenant_id)
            if tenant is not None and tenant.active:
                await uow.tenants.update(
                    attrs.evolve(tenant, status="suspended", updated_at=self._clock.now())
                )
                await uow.commit()
        return tenant


class ListDeletions:
    """The record of deletions, newest first: one tenant's (also once it is gone) or all."""

    def __init__(self, uow: UnitOfWorkFactory):
        self._uow = uow

    async def __call__(
        self, tenant_id: str | None = None, limit: int = 100
    ) -> list[DeletionRecord]:
        async with self._uow(read_only=True) as uow:
            return list(await uow.deletions.list(tenant_id, limit))
