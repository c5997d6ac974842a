"""The CRM as the service composes it: ConfiguredCrmGatewayFactory builds each tenant's gateway
from its crm_config, and ProcessCall drives it. Salesforce's token expiring mid-run costs one
refresh; a revoked credential ends the call FAILED with a readable reason, not a retry loop."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from adapters.memory.fakes import (
    FixedClock,
    InMemoryAudioStore,
    InMemoryRecordingSource,
    InMemorySecretStore,
    ScriptedCallAnalyzer,
    ScriptedTranscriber,
)
from adapters.memory.repositories import InMemoryUnitOfWorkFactory
from domain.call import Call
from domain.errors import PermanentFailure
from domain.results import CallAnalysis, Intent, SyncStatus
from domain.retry import RetryPolicy
from domain.stages import Stage
from domain.tenant import parse_tenant
from domain.usecases.processing import Outcome, ProcessCall, ProcessCallCommand
from domain.webhook import parse_incoming_call
from entrypoints.crm import ConfiguredCrmGatewayFactory
from entrypoints.standins import serve
from entrypoints.standins.salesforce import FakeSalesforce
from tests.support import callrail_body, tenant_document


@pytest.fixture
async def salesforce() -> AsyncIterator[tuple[FakeSalesforce, str]]:
    fake = FakeSalesforce()
    async with serve(fake.app()) as url:
        yield fake, url


class Service:
    def __init__(self, clock: FixedClock, instance_url: str):
        self.clock = clock
        self.uow = InMemoryUnitOfWorkFactory()
        self.secrets = InMemorySecretStore({"acme-sf-secret": "fake-client-secret"})
        self.crm = ConfiguredCrmGatewayFactory(self.secrets, http_hosts=("127.0.0.1",))
        self.instance_url = instance_url
        analysis = CallAnalysis(
            engine="scripted", summary="Needs a furnace", intent=Intent.NEW_SERVICE_REQUEST
        )
        self.process = ProcessCall(
            self.uow,
            InMemoryRecordingSource(),
            InMemoryAudioStore(),
            ScriptedTranscriber(),
            ScriptedCallAnalyzer(analysis),
            self.crm,
            clock,
            RetryPolicy(max_attempts=3, base_delay_s=0.01),
        )

    async def setup(self) -> None:
        document = tenant_document("acme")
        document["config"]["crm_config"] = {
            "type": "salesforce",
            "instance_url": self.instance_url,
            "client_id": "fake-client-id",
            "client_secret_ref": "acme-sf-secret",
        }
        async with self.uow() as uow:
            await uow.tenants.add(parse_tenant(document, self.clock.now()))
            await uow.commit()

    async def call(self, number: str) -> str:
        body = callrail_body(
            number, recording=None, answered="false", customer_phone_number="+13035550142"
        )
        call = Call.receive("acme", parse_incoming_call(json.loads(body)), self.clock.now())
        async with self.uow() as uow:
            await uow.calls.add(call)
            await uow.commit()
        return call.call_id

    async def deliver(self, call_id: str) -> Outcome:
        return (await self.process(ProcessCallCommand("acme", call_id, "w1"))).outcome

    async def get(self, call_id: str) -> Call:
        async with self.uow(read_only=True) as uow:
            call = await uow.calls.get("acme", call_id)
        assert call is not None
        return call


async def test_token_expiry_mid_run_costs_one_refresh(
    clock: FixedClock, salesforce: tuple[FakeSalesforce, str]
) -> None:
    fake, url = salesforce
    service = Service(clock, url)
    await service.setup()
    try:
        first = await service.call("1")
        assert await service.deliver(first) is Outcome.DONE
        assert fake.token_requests == 1
        fake.expire_tokens()
        second = await service.call("2")
        assert await service.deliver(second) is Outcome.DONE
        assert fake.token_requests == 2  # exactly one refresh
        assert len(fake.tasks) == 2
        assert (await service.get(second)).stage is Stage.COMPLETED
    finally:
        await service.crm.close()


async def test_a_revoked_credential_fails_the_call_with_a_reason(
    clock: FixedClock, salesforce: tuple[FakeSalesforce, str]
) -> None:
    fake, url = salesforce
    fake.revoke_credentials()
    service = Service(clock, url)
    await service.setup()
    try:
        call_id = await service.call("3")
        assert await service.deliver(call_id) is Outcome.FAILED
        call = await service.get(call_id)
        assert call.stage is Stage.FAILED
        assert call.failure is not None
        assert call.failure.stage is Stage.SYNCED
        assert "salesforce rejected the credentials" in call.failure.reason
        assert "fake-client-secret" not in call.failure.reason
        assert call.crm_sync is not None
        assert call.crm_sync.status is SyncStatus.FAILED
        assert fake.token_requests <= 2  # refused at once: no retry loop
        # A redelivery of the dead call does nothing more.
        assert await service.deliver(call_id) is Outcome.DONE
        assert fake.token_requests <= 2
    finally:
        await service.crm.close()


async def test_a_crm_url_off_the_vendors_domain_is_refused(clock: FixedClock) -> None:
    service = Service(clock, "https://evil.example.com")
    await service.setup()
    async with service.uow(read_only=True) as uow:
        tenant = await uow.tenants.get("acme")
    assert tenant is not None
    with pytest.raises(PermanentFailure, match="vendor's own domain"):
        await service.crm.for_tenant(tenant)
