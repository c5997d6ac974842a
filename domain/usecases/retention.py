"""Retention, driven through the ports: the audio, transcripts and analyses a tenant's
retention no longer keeps are deleted and erased (domain/retention.py says what stays), and
every deletion leaves a DeletionRecord in the unit of work that makes it. Shared with erasure
(erasure.py): deleting a call's or a tenant's audio, and recording a deletion."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import attrs

from domain.errors import ConcurrentUpdate, TenantNotFound
from domain.retention import (
    CONTENT_EXPIRED,
    RECORDING_EXPIRED,
    DeletionRecord,
    call_reference,
    erase_content,
    erase_recording,
    expiry_of,
    object_prefixes,
    owns_object,
)
from domain.tenant import Tenant
from ports.audio import AudioStore
from ports.repositories import UnitOfWork, UnitOfWorkFactory
from ports.system import Clock, IdGenerator

Progress = Callable[[str], None]
SWEEP = "retention-sweep"


def quiet(_: str) -> None:
    pass


async def delete_audio(audio: AudioStore, tenant_id: str, call_id: str | None = None) -> int:
    """Deletes every object of the call (or of every call of the tenant): recordings, redacted
    copies, quarantined originals. How many there were."""
    deleted = 0
    for prefix in object_prefixes(tenant_id, call_id):
        names = [name async for name in audio.names(prefix)]
        for name in names:
            if owns_object(name, tenant_id, call_id):
                await audio.delete(audio.uri_for(name))
                deleted += 1
    return deleted


class Recorder:
    """Writes who deleted what, and when, in the unit of work that deletes it."""

    def __init__(self, clock: Clock, ids: IdGenerator, actor: str):
        self._clock = clock
        self._ids = ids
        self._actor = actor

    async def record(
        self,
        uow: UnitOfWork,
        action: str,
        tenant_id: str,
        subject: str | None,
        counts: Mapping[str, int],
    ) -> None:
        record = DeletionRecord(
            self._ids.new_id(),
            self._clock.now(),
            self._actor,
            action,
            tenant_id,
            subject,
            dict(counts),
        )
        await uow.deletions.add(record)


# --- retention ---------------------------------------------------------------------------------


@attrs.frozen
class ExpireCommand:
    tenant_id: str | None = None  # None: every tenant
    dry_run: bool = False
    actor: str = SWEEP


@attrs.frozen
class ExpiredCall:
    tenant_id: str
    call_id: str
    recording: bool
    content: bool
    objects: int = 0


@attrs.frozen
class ExpiryReport:
    dry_run: bool
    calls: tuple[ExpiredCall, ...]
    changed_meanwhile: int = 0  # left for the next run: they changed while being expired


class ExpireCalls:
    """Deletes the audio and erases the transcripts and analyses that each tenant's retention
    no longer keeps (domain/retention.py says what stays). A dry run only lists them."""

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

    async def __call__(self, command: ExpireCommand, progress: Progress = quiet) -> ExpiryReport:
        async with self._uow(read_only=True) as uow:
            if command.tenant_id is None:
                tenants = list(await uow.tenants.list())
            elif (one := await uow.tenants.get(command.tenant_id)) is None:
                raise TenantNotFound(f"no tenant {command.tenant_id}")
            else:
                tenants = [one]
        recorder = Recorder(self._clock, self._ids, command.actor)
        expired: list[ExpiredCall] = []
        changed = 0
        for tenant in tenants:
            recordings_before, content_before = tenant.config.retention.cutoffs(self._clock.now())
            if recordings_before is None and content_before is None:
                continue
            after: str | None = None
            while True:
                async with self._uow(read_only=True) as uow:
                    call_ids = await uow.calls.expirable(
                        tenant.tenant_id,
                        recordings_before=recordings_before,
                        content_before=content_before,
                        after=after,
                        limit=self._page_size,
                    )
                if not call_ids:
                    break
                after = call_ids[-1]
                for call_id in call_ids:
                    try:
                        item = await self._expire(tenant, call_id, command.dry_run, recorder)
                    except ConcurrentUpdate:
                        changed += 1
                        continue
                    if item is not None:
                        expired.append(item)
                        progress(_expired_line(item, command.dry_run))
        return ExpiryReport(command.dry_run, tuple(expired), changed)

    async def _expire(
        self, tenant: Tenant, call_id: str, dry_run: bool, recorder: Recorder
    ) -> ExpiredCall | None:
        policy, tenant_id = tenant.config.retention, tenant.tenant_id
        async with self._uow(read_only=True) as uow:
            call = await uow.calls.get(tenant_id, call_id)
        if call is None or not (expiry := expiry_of(call, policy, self._clock.now())):
            return None
        if dry_run:
            return ExpiredCall(tenant_id, call_id, expiry.recording, expiry.content)
        # The audio first: a crash after it leaves the call pointing at nothing, and the next
        # run finds the call again (it still has a recording) and finishes the job.
        objects = await delete_audio(self._audio, tenant_id, call_id) if expiry.recording else 0
        async with self._uow() as uow:
            call = await uow.calls.get(tenant_id, call_id)
            if call is None:
                return None
            now = self._clock.now()
            expiry = expiry_of(call, policy, now)
            reference = call_reference(tenant_id, call_id)
            if expiry.recording:
                erase_recording(call, now)
                await recorder.record(
                    uow, RECORDING_EXPIRED, tenant_id, reference, {"objects": objects}
                )
            if expiry.content:
                erase_content(call, now)
                await recorder.record(uow, CONTENT_EXPIRED, tenant_id, reference, {"calls": 1})
            if not expiry:
                return None
            await uow.calls.update(call)
            await uow.commit()
        return ExpiredCall(tenant_id, call_id, expiry.recording, expiry.content, objects)


def _expired_line(item: ExpiredCall, dry_run: bool) -> str:
    parts = [
        p
        for p, on in (("recording", item.recording), ("transcript and analysis", item.content))
        if on
    ]
    verb = "would expire" if dry_run else "expired"
    return f"{item.tenant_id} {item.call_id}: {verb} {' and '.join(parts)}"
