"""Accepting a CallRail webhook: verify, dedupe, persist the call and its job, then answer.

A post-call body and a Call Modified body come to the same routes and are told apart by the
body: a Call Modified has a `changes` list (domain/webhook.py). The first of either for a call
admits it; a later post-call is a duplicate; a later Call Modified is applied to the stored
call (domain/usecases/modify_call.py), and an identical one again is a duplicate."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta

import attrs

from domain.call import Call, IncomingCall
from domain.call_changes import Change
from domain.errors import (
    ConcurrentUpdate,
    InvalidSignature,
    MalformedPayload,
    TenantInactive,
    TenantNotFound,
)
from domain.jobs import Job
from domain.tenant import Tenant
from domain.usecases.modify_call import ModifyCall, ModifyCommand
from domain.usecases.secrets import reveal
from domain.webhook import (
    JsonLoads,
    body_text,
    company_ids,
    decode_body,
    parse_incoming_call,
    signature_matches,
)
from ports.queue import JobQueue
from ports.repositories import UnitOfWorkFactory
from ports.secrets import SecretStore
from ports.system import Clock, IdGenerator
from ports.telemetry import NoTracing, Tracer

UNKNOWN_COMPANY = "no tenant has this CallRail company"


@attrs.frozen
class ReceiveWebhook:
    body: bytes = attrs.field(repr=False)
    signature: str | None
    tenant_id: str | None = None  # from the path, when CallRail posts to a tenant's own URL
    trace_context: dict[str, str] = attrs.field(factory=dict)


@attrs.frozen
class WebhookAccepted:
    call: Call
    created: bool
    # A Call Modified for a call already stored: what it changed (Change.NONE: a duplicate),
    # and whether the call runs again. None for every other body.
    change: Change | None = None
    reruns: bool = False

    @property
    def duplicate(self) -> bool:
        return not self.created and self.change in (None, Change.NONE)


@attrs.frozen
class AdmitCommand:
    tenant_id: str
    incoming: IncomingCall
    received_at: datetime
    trace_context: Mapping[str, str] = attrs.field(factory=dict)


class AdmitCall:
    """The one way into the pipeline, for webhooks and reconciliation alike: the call and its
    first job are stored in one transaction, then the job goes to the queue. A call already
    stored is returned as it is, and nothing else happens, unless the body is a Call Modified:
    then the change is applied (ModifyCall).

    The job carries the trace context of this admission, so its deliveries continue the trace
    that brought the call in."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        queue: JobQueue,
        ids: IdGenerator,
        tracer: Tracer | None = None,
    ):
        self._uow = uow
        self._queue = queue
        self._ids = ids
        self._tracer = tracer or NoTracing()
        self._modify = ModifyCall(uow, queue, ids)

    async def __call__(self, command: AdmitCommand) -> WebhookAccepted:
        attributes = {"tenant_id": command.tenant_id, "call_id": command.incoming.call_id}
        with self._tracer.span("admit_call", attributes) as span:
            accepted = await self._admit(command, attributes)
            outcome = "created" if accepted.created else "duplicate"
            if not accepted.duplicate and accepted.change is not None:
                outcome = f"modified:{accepted.change.value}"
            span.set_attribute("outcome", outcome)
        return accepted

    async def _admit(self, command: AdmitCommand, attributes: dict[str, str]) -> WebhookAccepted:
        tenant_id, now = command.tenant_id, command.received_at
        call = Call.receive(tenant_id, command.incoming, now)
        trace_context = self._tracer.inject() or dict(command.trace_context)
        job = Job(self._ids.new_id(), tenant_id, call.call_id, now, trace_context)
        try:
            async with self._uow() as uow:
                stored = await uow.calls.add(call)
                if stored:
                    # Handed over now; due again (as lost) only once its delivery's grace has
                    # passed.
                    grace = timedelta(seconds=self._queue.dispatch_grace_s)
                    await uow.jobs.add(job, due_at=now + grace)
                    await uow.commit()
        except ConcurrentUpdate:
            # The same call arrived twice at once and the other delivery stored it first (a
            # store that checks at commit, like Spanner): this one is the duplicate.
            stored = False
        if not stored:  # after the unit above has ended: a modification writes in its own
            return await self._existing(command)
        with self._tracer.span("enqueue", attributes, kind="producer"):
            await self._queue.enqueue(job)
        return WebhookAccepted(call, created=True)

    async def _existing(self, command: AdmitCommand) -> WebhookAccepted:
        if command.incoming.changes is not None:
            context = self._tracer.inject() or dict(command.trace_context)
            modified = await self._modify(
                ModifyCommand(command.tenant_id, command.incoming, command.received_at, context)
            )
            return WebhookAccepted(modified.call, False, modified.change, modified.reruns)
        tenant_id, call_id = command.tenant_id, command.incoming.call_id
        async with self._uow(read_only=True) as uow:
            existing = await uow.calls.get(tenant_id, call_id)
        if existing is None:
            raise ConcurrentUpdate(f"call {call_id} changed while it was being stored; retry")
        return WebhookAccepted(existing, created=False)


_LookupKey = tuple[str | None, tuple[str, ...], str | None]


class TenantsSeen:
    """Active tenants the webhook found lately, by what it looked them up by (the path's tenant
    id, or the body's company ids and tenant hint), for `ttl_s` seconds: at hundreds of
    webhooks a second, most would otherwise read the same tenant again.

    What that costs: a tenant deactivated, or a company moved to another tenant, is still
    seen as it was for up to `ttl_s` by a process that had it. A rotated signing key costs
    nothing: a signature that does not match a remembered tenant's key is checked again
    against the tenant read afresh. Absent and inactive tenants are never remembered."""

    def __init__(self, ttl_s: float = 2.0, size: int = 1024):
        self._ttl = timedelta(seconds=ttl_s)
        self._size = size
        self._seen: dict[_LookupKey, tuple[Tenant, datetime]] = {}

    def get(self, key: _LookupKey, now: datetime) -> Tenant | None:
        found = self._seen.get(key)
        if found is None:
            return None
        tenant, at = found
        if not at <= now < at + self._ttl:
            del self._seen[key]
            return None
        return tenant

    def remember(self, key: _LookupKey, tenant: Tenant, now: datetime) -> None:
        if len(self._seen) >= self._size:
            self._seen.pop(next(iter(self._seen)))  # the oldest: dicts keep insertion order
        self._seen[key] = (tenant, now)

    def forget(self, key: _LookupKey) -> None:
        self._seen.pop(key, None)


class AcceptWebhook:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        secrets: SecretStore,
        queue: JobQueue,
        clock: Clock,
        ids: IdGenerator,
        tracer: Tracer | None = None,
        seen: TenantsSeen | None = None,
        loads: JsonLoads = json.loads,
    ):
        """`seen`: shared by the webhooks of a process (one per AcceptWebhook otherwise).
        `loads`: reads the body's JSON exactly as json.loads does, perhaps faster."""
        self._uow = uow
        self._loads = loads
        self._secrets = secrets
        self._clock = clock
        self._tracer = tracer or NoTracing()
        self._seen = seen or TenantsSeen()
        self._admit = AdmitCall(uow, queue, ids, self._tracer)

    async def __call__(self, command: ReceiveWebhook) -> WebhookAccepted:
        with self._tracer.span("accept_webhook") as span:
            accepted, remembered = await self._accept(command)
            # Whether the tenant came from the store or from what this process saw lately.
            span.set_attribute("tenant_lookup", "remembered" if remembered else "store")
            span.set_attribute("tenant_id", accepted.call.tenant_id)
            span.set_attribute("call_id", accepted.call.call_id)
        return accepted

    async def _accept(self, command: ReceiveWebhook) -> tuple[WebhookAccepted, bool]:
        # The signing key is per company, so the tenant comes first, from the path or from the
        # unverified body; nothing from the body is trusted until the signature is checked.
        now = self._clock.now()
        payload = None
        if command.tenant_id is None:
            payload = decode_body(command.body, self._loads)
        key = _lookup_key(command.tenant_id, payload)
        tenant = self._seen.get(key, now)
        remembered = tenant is not None
        if tenant is None:
            tenant = await self._find_tenant(command.tenant_id, payload)
            self._seen.remember(key, tenant, now)
        if not await self._signed_by(tenant, command):
            if remembered:  # its key may have been rotated since: ask the store again
                self._seen.forget(key)
                tenant = await self._find_tenant(command.tenant_id, payload)
                self._seen.remember(key, tenant, now)
            if not remembered or not await self._signed_by(tenant, command):
                raise InvalidSignature("the Signature header does not match the body")
            remembered = False
        if payload is None:
            payload = decode_body(command.body, self._loads)
        incoming = parse_incoming_call(payload, body_text(command.body))
        accepted = await self._admit(
            AdmitCommand(tenant.tenant_id, incoming, now, command.trace_context)
        )
        return accepted, remembered

    async def _signed_by(self, tenant: Tenant, command: ReceiveWebhook) -> bool:
        secret = await reveal(tenant.config.webhook_secret, self._secrets)
        return signature_matches(secret, command.body, command.signature)

    async def _find_tenant(
        self, tenant_id: str | None, payload: dict[str, object] | None
    ) -> Tenant:
        async with self._uow(read_only=True) as uow:
            if tenant_id is not None:
                tenant = await uow.tenants.get(tenant_id)
            else:
                assert payload is not None
                ids = company_ids(payload)
                tenant = await uow.tenants.get_by_company(ids) if ids else None
                hint = payload.get("tenant_id")
                if tenant is None and isinstance(hint, str):
                    tenant = await uow.tenants.get(hint)
                if tenant is None and not ids and not isinstance(hint, str):
                    raise MalformedPayload(
                        "the body names no company (company_resource_id or company_id)"
                    )
        # An inactive tenant is answered as an unknown one, in the same words: an unsigned
        # request learns nothing of which companies have (had) a tenant here, nor its id.
        if tenant is None:
            raise TenantNotFound(UNKNOWN_COMPANY)
        if not tenant.active:
            raise TenantInactive(UNKNOWN_COMPANY)
        return tenant


def _lookup_key(tenant_id: str | None, payload: dict[str, object] | None) -> _LookupKey:
    if tenant_id is not None or payload is None:
        return (tenant_id, (), None)
    hint = payload.get("tenant_id")
    return (None, company_ids(payload), hint if isinstance(hint, str) else None)
