"""Accepting CallRail's webhook, and tenant API keys, through the in-memory adapters."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import attrs
import pytest

from adapters.memory.fakes import FixedClock, InMemoryJobQueue, InMemorySecretStore, SequentialIds
from adapters.memory.repositories import InMemoryUnitOfWorkFactory
from adapters.system.orjson_reader import orjson_loads
from domain.apikeys import hash_api_key
from domain.errors import (
    AuthenticationFailed,
    InvalidSignature,
    MalformedPayload,
    SecretNotFound,
    TenantInactive,
    TenantNotFound,
    ValidationFailed,
)
from domain.stages import Stage
from domain.tenant import Tenant, parse_tenant
from domain.usecases.intake import AcceptWebhook, ReceiveWebhook, TenantsSeen
from domain.usecases.tenants import AuthenticateApiKey, CreateTenant, IssueApiKey, UpdateTenant
from domain.webhook import JsonLoads, sign
from tests.support import (
    VECTOR_CALL_ID,
    VECTOR_KEY,
    VECTOR_SIGNATURE,
    callrail_body,
    tenant_document,
    vector_body,
    with_secret_ref,
)


@pytest.fixture
def accept(
    memory_uow: InMemoryUnitOfWorkFactory,
    secret_store: InMemorySecretStore,
    queue: InMemoryJobQueue,
    clock: FixedClock,
    ids: SequentialIds,
) -> AcceptWebhook:
    return AcceptWebhook(memory_uow, secret_store, queue, clock, ids)


async def create_tenant(
    uow: InMemoryUnitOfWorkFactory, clock: FixedClock, document: dict[str, Any] | None = None
) -> Tenant:
    return await CreateTenant(uow, clock)(document or tenant_document())


async def stored_state(uow: InMemoryUnitOfWorkFactory, tenant_id: str, call_id: str) -> Any:
    async with uow(read_only=True) as tx:
        call = await tx.calls.get(tenant_id, call_id)
        jobs = await tx.jobs.pending_for(tenant_id, call_id)
        pending = await tx.jobs.pending_count()
    return call, jobs, pending


# --- AcceptWebhook --------------------------------------------------------------------------


async def test_the_vector_creates_a_received_call_and_one_job(
    accept: AcceptWebhook,
    memory_uow: InMemoryUnitOfWorkFactory,
    queue: InMemoryJobQueue,
    clock: FixedClock,
) -> None:
    await create_tenant(memory_uow, clock)
    trace = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}

    result = await accept(ReceiveWebhook(vector_body(), VECTOR_SIGNATURE, trace_context=trace))

    assert result.created is True
    assert result.call.tenant_id == "acme"
    assert result.call.call_id == VECTOR_CALL_ID
    assert result.call.stage is Stage.RECEIVED
    assert result.call.received_at == clock.now()
    stored, jobs, pending = await stored_state(memory_uow, "acme", VECTOR_CALL_ID)
    assert stored == result.call
    assert stored.stage is Stage.RECEIVED
    assert stored.metadata.caller == "+12148654559"
    assert pending == 1
    assert len(jobs) == 1
    assert queue.enqueued == list(jobs)
    assert (jobs[0].tenant_id, jobs[0].call_id) == ("acme", VECTOR_CALL_ID)
    assert jobs[0].trace_context == trace


async def test_the_same_webhook_again_changes_nothing(
    accept: AcceptWebhook,
    memory_uow: InMemoryUnitOfWorkFactory,
    queue: InMemoryJobQueue,
    clock: FixedClock,
) -> None:
    await create_tenant(memory_uow, clock)
    first = await accept(ReceiveWebhook(vector_body(), VECTOR_SIGNATURE))
    first_seen = clock.now()
    clock.advance(60)

    again = await accept(ReceiveWebhook(vector_body(), VECTOR_SIGNATURE))

    assert again.created is False
    assert again.call == first.call
    assert again.call.received_at == first_seen
    assert again.call.stage is Stage.RECEIVED
    _, jobs, pending = await stored_state(memory_uow, "acme", VECTOR_CALL_ID)
    assert pending == 1
    assert len(jobs) == 1
    assert len(queue.enqueued) == 1


async def test_an_unknown_company_is_tenant_not_found(
    accept: AcceptWebhook,
    memory_uow: InMemoryUnitOfWorkFactory,
    queue: InMemoryJobQueue,
    clock: FixedClock,
) -> None:
    await create_tenant(memory_uow, clock, tenant_document(company_id="999"))
    with pytest.raises(TenantNotFound):
        await accept(ReceiveWebhook(vector_body(), VECTOR_SIGNATURE))
    assert queue.enqueued == []


async def test_a_body_naming_no_company_and_no_tenant_is_malformed(
    accept: AcceptWebhook, memory_uow: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await create_tenant(memory_uow, clock)
    body = json.dumps({"resource_id": "CAL1"}).encode()
    with pytest.raises(MalformedPayload):
        await accept(ReceiveWebhook(body, sign(VECTOR_KEY, body)))


@pytest.mark.parametrize(
    "signature",
    [None, "", "garbage", sign("another-key", vector_body()), VECTOR_SIGNATURE.lower()],
)
async def test_a_wrong_signature_is_refused_and_nothing_is_stored(
    signature: str | None,
    accept: AcceptWebhook,
    memory_uow: InMemoryUnitOfWorkFactory,
    queue: InMemoryJobQueue,
    clock: FixedClock,
) -> None:
    await create_tenant(memory_uow, clock)
    with pytest.raises(InvalidSignature):
        await accept(ReceiveWebhook(vector_body(), signature))
    call, jobs, pending = await stored_state(memory_uow, "acme", VECTOR_CALL_ID)
    assert call is None
    assert list(jobs) == []
    assert pending == 0
    assert queue.enqueued == []


async def test_a_signature_by_another_tenants_key_is_refused(
    accept: AcceptWebhook, memory_uow: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await create_tenant(memory_uow, clock)
    await create_tenant(
        memory_uow, clock, tenant_document("globex", company_id="777", secret="globex-key")
    )
    with pytest.raises(InvalidSignature):
        await accept(ReceiveWebhook(vector_body(), sign("globex-key", vector_body())))


async def test_the_tenant_from_the_path_needs_no_company_in_the_body(
    accept: AcceptWebhook, memory_uow: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await create_tenant(memory_uow, clock)
    body = json.dumps({"resource_id": "CAL42", "duration": "30", "answered": "true"}).encode()

    result = await accept(ReceiveWebhook(body, sign(VECTOR_KEY, body), tenant_id="acme"))

    assert result.created is True
    assert (result.call.tenant_id, result.call.call_id) == ("acme", "CAL42")
    assert result.call.metadata.duration_s == 30
    call, jobs, _ = await stored_state(memory_uow, "acme", "CAL42")
    assert call is not None
    assert len(jobs) == 1


async def test_an_unknown_tenant_in_the_path_is_tenant_not_found(
    accept: AcceptWebhook, memory_uow: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await create_tenant(memory_uow, clock)
    with pytest.raises(TenantNotFound):
        await accept(ReceiveWebhook(vector_body(), VECTOR_SIGNATURE, tenant_id="globex"))


async def test_a_signed_body_that_is_not_a_call_is_refused_and_nothing_is_stored(
    accept: AcceptWebhook,
    memory_uow: InMemoryUnitOfWorkFactory,
    queue: InMemoryJobQueue,
    clock: FixedClock,
) -> None:
    await create_tenant(memory_uow, clock)
    body = json.dumps({"company_id": 155920786, "duration": "abc"}).encode()
    with pytest.raises(ValidationFailed):
        await accept(ReceiveWebhook(body, sign(VECTOR_KEY, body)))
    _, _, pending = await stored_state(memory_uow, "acme", "x")
    assert pending == 0
    assert queue.enqueued == []


async def test_a_suspended_tenant_is_inactive(
    accept: AcceptWebhook,
    memory_uow: InMemoryUnitOfWorkFactory,
    queue: InMemoryJobQueue,
    clock: FixedClock,
) -> None:
    document = tenant_document()
    document["status"] = "suspended"
    await create_tenant(memory_uow, clock, document)
    with pytest.raises(TenantInactive):
        await accept(ReceiveWebhook(vector_body(), VECTOR_SIGNATURE))
    call, _, _ = await stored_state(memory_uow, "acme", VECTOR_CALL_ID)
    assert call is None
    assert queue.enqueued == []


async def test_a_suspended_tenant_is_refused_in_the_words_used_for_an_unknown_company(
    accept: AcceptWebhook, memory_uow: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    document = tenant_document("acme-hidden-id")
    document["status"] = "suspended"
    await create_tenant(memory_uow, clock, document)
    with pytest.raises(TenantInactive) as suspended:
        await accept(ReceiveWebhook(vector_body(), None))
    with pytest.raises(TenantNotFound) as unknown:
        await accept(ReceiveWebhook(callrail_body("1", company_id="999"), None))
    with pytest.raises(TenantInactive) as by_path:
        await accept(ReceiveWebhook(vector_body(), None, tenant_id="acme-hidden-id"))
    assert str(suspended.value) == str(unknown.value) == str(by_path.value)
    assert "acme-hidden-id" not in str(suspended.value)


@pytest.mark.parametrize("loads", [json.loads, orjson_loads], ids=["json", "orjson"])
@pytest.mark.parametrize("tenant_id", [None, "acme"], ids=["from the body", "from the path"])
async def test_a_signed_body_nested_past_the_limit_stores_nothing(
    memory_uow: InMemoryUnitOfWorkFactory,
    secret_store: InMemorySecretStore,
    queue: InMemoryJobQueue,
    clock: FixedClock,
    ids: SequentialIds,
    tenant_id: str | None,
    loads: JsonLoads,
) -> None:
    """Whoever reads it: orjson (the service's reader) reads 1,000 levels, json.loads, which
    every later read uses, does not."""
    accept = AcceptWebhook(memory_uow, secret_store, queue, clock, ids, loads=loads)
    await create_tenant(memory_uow, clock)
    body = callrail_body("7001", custom=0).replace(
        b'"custom": 0', b'"custom": ' + b"[" * 1000 + b"]" * 1000
    )
    with pytest.raises(MalformedPayload):
        await accept(ReceiveWebhook(body, sign(VECTOR_KEY, body), tenant_id=tenant_id))
    call, _, pending = await stored_state(memory_uow, "acme", "CAL7001")
    assert (call, pending, queue.enqueued) == (None, 0, [])


async def test_a_signed_body_with_a_lone_surrogate_stores_nothing(
    accept: AcceptWebhook,
    memory_uow: InMemoryUnitOfWorkFactory,
    queue: InMemoryJobQueue,
    clock: FixedClock,
) -> None:
    await create_tenant(memory_uow, clock)
    body = callrail_body("7002", customer_name="Bob \ud800")
    with pytest.raises(ValidationFailed) as refused:
        await accept(ReceiveWebhook(body, sign(VECTOR_KEY, body)))
    assert [f.field for f in refused.value.fields] == ["customer_name"]
    call, _, pending = await stored_state(memory_uow, "acme", "CAL7002")
    assert (call, pending, queue.enqueued) == (None, 0, [])


async def test_a_webhook_secret_ref_is_resolved_through_the_secret_store(
    accept: AcceptWebhook,
    memory_uow: InMemoryUnitOfWorkFactory,
    secret_store: InMemorySecretStore,
    clock: FixedClock,
) -> None:
    secret_store.secrets["acme-webhook-key"] = VECTOR_KEY
    await create_tenant(memory_uow, clock, with_secret_ref("acme-webhook-key"))

    result = await accept(ReceiveWebhook(vector_body(), VECTOR_SIGNATURE))

    assert result.created is True
    assert result.call.call_id == VECTOR_CALL_ID


async def test_a_missing_secret_is_secret_not_found_without_the_value(
    accept: AcceptWebhook,
    memory_uow: InMemoryUnitOfWorkFactory,
    secret_store: InMemorySecretStore,
    queue: InMemoryJobQueue,
    clock: FixedClock,
) -> None:
    secret_store.secrets["another-tenants-key"] = VECTOR_KEY
    await create_tenant(memory_uow, clock, with_secret_ref("acme-webhook-key"))

    with pytest.raises(SecretNotFound) as caught:
        await accept(ReceiveWebhook(vector_body(), VECTOR_SIGNATURE))

    assert "acme-webhook-key" in str(caught.value)
    assert VECTOR_KEY not in str(caught.value)
    call, _, _ = await stored_state(memory_uow, "acme", VECTOR_CALL_ID)
    assert call is None
    assert queue.enqueued == []


# --- tenants seen lately ------------------------------------------------------------------


@pytest.fixture
def shared(
    memory_uow: InMemoryUnitOfWorkFactory,
    secret_store: InMemorySecretStore,
    queue: InMemoryJobQueue,
    clock: FixedClock,
    ids: SequentialIds,
) -> Callable[[], AcceptWebhook]:
    """A new AcceptWebhook per request, as the container makes them, sharing what was seen."""
    seen = TenantsSeen(ttl_s=2)
    return lambda: AcceptWebhook(memory_uow, secret_store, queue, clock, ids, seen=seen)


def signed(call_id: str, key: str = VECTOR_KEY) -> ReceiveWebhook:
    body = callrail_body(call_id)
    return ReceiveWebhook(body, sign(key, body))


async def test_a_rotated_signing_key_is_accepted_at_once(
    shared: Callable[[], AcceptWebhook], memory_uow: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await create_tenant(memory_uow, clock)
    assert (await shared()(signed("1"))).created  # the tenant, with its old key, is remembered
    await UpdateTenant(memory_uow, clock)("acme", {"config": {"webhook_secret": "new-key-0001"}})

    assert (await shared()(signed("2", "new-key-0001"))).created
    with pytest.raises(InvalidSignature):
        await shared()(signed("3"))  # the old key, now that the new one is known


async def test_a_deactivated_tenant_is_refused_once_what_was_seen_expires(
    shared: Callable[[], AcceptWebhook], memory_uow: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await create_tenant(memory_uow, clock)
    assert (await shared()(signed("1"))).created
    await UpdateTenant(memory_uow, clock)("acme", {"status": "suspended"})

    clock.advance(1)  # the documented window: up to 2 s as it was
    assert (await shared()(signed("2"))).created
    clock.advance(1.5)
    with pytest.raises(TenantInactive):
        await shared()(signed("3"))


async def test_an_unknown_company_is_not_remembered(
    shared: Callable[[], AcceptWebhook], memory_uow: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    with pytest.raises(TenantNotFound):
        await shared()(signed("1"))
    await create_tenant(memory_uow, clock)
    assert (await shared()(signed("1"))).created  # at once, not after 2 s


async def test_a_wrong_signature_is_refused_whether_the_tenant_was_remembered_or_not(
    shared: Callable[[], AcceptWebhook], memory_uow: InMemoryUnitOfWorkFactory, clock: FixedClock
) -> None:
    await create_tenant(memory_uow, clock)
    with pytest.raises(InvalidSignature):
        await shared()(signed("1", "not-the-key"))
    assert (await shared()(signed("2"))).created
    with pytest.raises(InvalidSignature):
        await shared()(signed("3", "not-the-key"))
    call, _, _ = await stored_state(memory_uow, "acme", "CAL3")
    assert call is None


def test_tenants_seen_holds_at_most_its_size() -> None:
    seen = TenantsSeen(ttl_s=60, size=2)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    tenants = [parse_tenant(tenant_document(f"t{n}"), now) for n in range(3)]
    for n, tenant in enumerate(tenants):
        seen.remember((f"t{n}", (), None), tenant, now)
    assert seen.get(("t0", (), None), now) is None
    assert seen.get(("t2", (), None), now) is tenants[2]


def test_the_webhook_command_never_shows_the_body() -> None:
    command = ReceiveWebhook(b'{"customer_name": "Kaylah Mills"}', VECTOR_SIGNATURE)
    assert "Kaylah" not in repr(command)


# --- API keys -------------------------------------------------------------------------------


async def test_an_issued_key_authenticates_to_its_tenant(
    memory_uow: InMemoryUnitOfWorkFactory, clock: FixedClock, ids: SequentialIds
) -> None:
    await create_tenant(memory_uow, clock)
    await create_tenant(memory_uow, clock, tenant_document("globex", company_id="777"))
    issue = IssueApiKey(memory_uow, clock, ids)

    acme_key = await issue("acme")
    globex_key = await issue("globex")

    authenticate = AuthenticateApiKey(memory_uow)
    assert acme_key != globex_key
    assert await authenticate(acme_key) == "acme"
    assert await authenticate(globex_key) == "globex"


@pytest.mark.parametrize("key", ["", "ipk_unknown", "ipk_token000003" + "x" * 36])
async def test_an_unknown_key_is_refused(
    key: str, memory_uow: InMemoryUnitOfWorkFactory, clock: FixedClock, ids: SequentialIds
) -> None:
    await create_tenant(memory_uow, clock)
    issued = await IssueApiKey(memory_uow, clock, ids)("acme")
    assert key != issued
    with pytest.raises(AuthenticationFailed):
        await AuthenticateApiKey(memory_uow)(key)


async def test_a_key_for_an_unknown_tenant_is_not_issued(
    memory_uow: InMemoryUnitOfWorkFactory, clock: FixedClock, ids: SequentialIds
) -> None:
    with pytest.raises(TenantNotFound):
        await IssueApiKey(memory_uow, clock, ids)("nobody")


async def test_only_a_hash_of_the_key_is_stored(
    memory_uow: InMemoryUnitOfWorkFactory, clock: FixedClock, ids: SequentialIds
) -> None:
    await create_tenant(memory_uow, clock)
    key = await IssueApiKey(memory_uow, clock, ids)("acme")

    async with memory_uow(read_only=True) as tx:
        record = await tx.api_keys.find(hash_api_key(key))

    assert record is not None
    assert record.tenant_id == "acme"
    assert record.created_at == clock.now()
    assert key.startswith(record.hint)
    stored_text = [str(value) for value in attrs.astuple(record)]
    assert all(key not in text for text in stored_text)
    assert key not in repr(record)
