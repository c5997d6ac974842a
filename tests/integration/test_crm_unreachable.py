"""A tenant's CRM that cannot be reached, through the service's own CRM factory and ProcessCall:
a refused or reset connection is a transient failure that spends the call's attempts, so after
max_attempts deliveries the call is FAILED with a readable reason; only the CRM's own rate-limit
answer (HubSpot's 429) waits without spending them."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable, Iterator

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
from domain.results import CallAnalysis, Intent
from domain.retry import RetryPolicy
from domain.stages import Stage
from domain.tenant import parse_tenant
from domain.usecases.processing import Outcome, ProcessCall, ProcessCallCommand
from domain.webhook import parse_incoming_call
from entrypoints.crm import ConfiguredCrmGatewayFactory
from entrypoints.standins import serve
from entrypoints.standins.hubspot import FakeHubSpot
from tests.support import callrail_body, tenant_document

MAX_ATTEMPTS = 3
TOKEN = "pat-na1-SECRET-unreachable-token"
CLIENT_SECRET = "sf-SECRET-unreachable-client-secret"


class Service:
    """ProcessCall as the container wires it for the sync stage: the configured CRM factory (its
    per-tenant limiter and circuit breaker at their defaults), in-memory everything else."""

    def __init__(self, clock: FixedClock, crm_config: dict[str, str]):
        self.clock = clock
        self.crm_config = crm_config
        self.uow = InMemoryUnitOfWorkFactory()
        secrets = InMemorySecretStore({"acme-crm-secret": CLIENT_SECRET})
        self.crm = ConfiguredCrmGatewayFactory(secrets, http_hosts=("127.0.0.1",))
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
            RetryPolicy(max_attempts=MAX_ATTEMPTS, base_delay_s=0.01),
        )

    async def call(self) -> str:
        document = tenant_document("acme")
        document["config"]["crm_config"] = self.crm_config
        body = callrail_body(
            "1", recording=None, answered="false", customer_phone_number="+13035550142"
        )
        call = Call.receive("acme", parse_incoming_call(json.loads(body)), self.clock.now())
        async with self.uow() as uow:
            await uow.tenants.add(parse_tenant(document, self.clock.now()))
            await uow.calls.add(call)
            await uow.commit()
        return call.call_id

    async def deliver_until_settled(self, call_id: str, at_most: int) -> list[Outcome]:
        """Delivers the job as the queue would, until it is settled or `at_most` deliveries."""
        outcomes: list[Outcome] = []
        while len(outcomes) < at_most:
            result = await self.process(ProcessCallCommand("acme", call_id, "w1"))
            outcomes.append(result.outcome)
            if result.outcome is not Outcome.RETRY:
                break
        return outcomes

    async def get(self, call_id: str) -> Call:
        async with self.uow(read_only=True) as uow:
            call = await uow.calls.get("acme", call_id)
        assert call is not None
        return call


def hubspot_at(url: str) -> dict[str, str]:
    return {"type": "hubspot", "base_url": url, "access_token": TOKEN}


def salesforce_at(url: str) -> dict[str, str]:
    return {
        "type": "salesforce",
        "instance_url": url,
        "client_id": "sf-client",
        "client_secret_ref": "acme-crm-secret",
    }


@pytest.fixture
def refusing_url() -> Iterator[str]:
    """A 127.0.0.1 port that is bound but not listening: every connection to it is refused,
    and no other test can take the port meanwhile."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
async def resetting_url() -> AsyncIterator[str]:
    """A 127.0.0.1 server that accepts each connection and closes it without a word."""

    async def hang_up(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        await server.wait_closed()


async def assert_failed_after_max_attempts(service: Service, crm: str, why: str) -> None:
    call_id = await service.call()
    try:
        outcomes = await service.deliver_until_settled(call_id, at_most=3 * MAX_ATTEMPTS)
    finally:
        await service.crm.close()

    assert outcomes == [Outcome.RETRY] * (MAX_ATTEMPTS - 1) + [Outcome.FAILED]
    call = await service.get(call_id)
    assert call.stage is Stage.FAILED
    assert call.attempts == MAX_ATTEMPTS
    assert call.failure is not None
    assert call.failure.stage is Stage.SYNCED
    reason = call.failure.reason
    assert reason.startswith(f"gave up after {MAX_ATTEMPTS} attempts: {crm}")
    assert why in reason
    assert "rate limit" not in reason
    for secret in (TOKEN, CLIENT_SECRET, "Bearer"):
        assert secret not in reason


@pytest.mark.parametrize(
    ("crm", "config"), [("hubspot", hubspot_at), ("salesforce", salesforce_at)]
)
async def test_a_refused_connection_spends_attempts_and_ends_failed(
    clock: FixedClock, refusing_url: str, crm: str, config: Callable[[str], dict[str, str]]
) -> None:
    service = Service(clock, config(refusing_url))
    await assert_failed_after_max_attempts(service, crm, "connection refused")


async def test_a_reset_connection_spends_attempts_and_ends_failed(
    clock: FixedClock, resetting_url: str
) -> None:
    service = Service(clock, hubspot_at(resetting_url))
    await assert_failed_after_max_attempts(service, "hubspot", "ServerDisconnectedError")


async def test_hubspot_429s_wait_without_spending_attempts(clock: FixedClock) -> None:
    fake = FakeHubSpot(token=TOKEN)
    async with serve(fake.app()) as url:
        # Enough refusals to open the tenant's circuit: it opened on a rate limit, so the
        # deliveries it fails fast are still waits, not failures.
        fake.throttle_next(2 * MAX_ATTEMPTS + 10, interval_ms=20)
        service = Service(clock, hubspot_at(url))
        call_id = await service.call()
        try:
            outcomes = await service.deliver_until_settled(call_id, at_most=2 * MAX_ATTEMPTS)
        finally:
            await service.crm.close()

    assert outcomes == [Outcome.RETRY] * (2 * MAX_ATTEMPTS)
    call = await service.get(call_id)
    assert call.stage is Stage.SCORED  # waiting to sync, not FAILED
    assert call.attempts == 0
    assert call.failure is not None
    assert "rate limit" in call.failure.reason
    assert 0 < len(fake.requests) <= 2 * MAX_ATTEMPTS + 10
