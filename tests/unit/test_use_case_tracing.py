"""The use cases' spans, through the in-memory tracer: admission hands its trace to the job,
processing is one span with a span per stage, and nothing outside the allow-list is offered."""

from __future__ import annotations

import json

from adapters.memory.fakes import (
    FixedClock,
    InMemoryAudioStore,
    InMemoryCrmGateway,
    InMemoryCrmGatewayFactory,
    InMemoryJobQueue,
    InMemoryRecordingSource,
    InMemorySecretStore,
    ScriptedCallAnalyzer,
    ScriptedTranscriber,
    SequentialIds,
)
from adapters.memory.repositories import InMemoryUnitOfWorkFactory
from adapters.memory.tracer import RecordedSpan, RecordingTracer
from domain.call import Call
from domain.errors import RecordingUnavailable
from domain.retry import RetryPolicy
from domain.stages import PIPELINE
from domain.tenant import Tenant, parse_tenant
from domain.usecases.intake import AcceptWebhook, ReceiveWebhook
from domain.usecases.processing import Outcome, ProcessCall, ProcessCallCommand
from domain.webhook import parse_incoming_call
from ports.recording import Download
from tests.support import (
    VECTOR_CALL_ID,
    VECTOR_SIGNATURE,
    callrail_body,
    tenant_document,
    vector_body,
)


class GoneRecordingSource(InMemoryRecordingSource):
    async def open(self, tenant: Tenant, call: Call) -> Download:
        raise RecordingUnavailable("404 for +13035550142")


async def stored_call(uow: InMemoryUnitOfWorkFactory, clock: FixedClock, crm: str) -> None:
    document = tenant_document()
    document["config"]["crm_config"] = {"type": crm}
    payload = json.loads(callrail_body("c1"))
    async with uow() as tx:
        await tx.tenants.add(parse_tenant(document, clock.now()))
        await tx.calls.add(Call.receive("acme", parse_incoming_call(payload), clock.now()))
        await tx.commit()


def processing(
    uow: InMemoryUnitOfWorkFactory,
    clock: FixedClock,
    tracer: RecordingTracer,
    recordings: InMemoryRecordingSource | None = None,
) -> ProcessCall:
    return ProcessCall(
        uow,
        recordings or InMemoryRecordingSource({"CALc1": b"ID3 mp3"}),
        InMemoryAudioStore(),
        ScriptedTranscriber(),
        ScriptedCallAnalyzer(),
        InMemoryCrmGatewayFactory(InMemoryCrmGateway()),
        clock,
        RetryPolicy(max_attempts=3, base_delay_s=1),
        tracer=tracer,
    )


def children(tracer: RecordingTracer, parent: RecordedSpan) -> list[RecordedSpan]:
    return [span for span in tracer.spans if span.parent_id == parent.span_id]


async def test_processing_is_one_span_with_a_span_per_stage(clock: FixedClock) -> None:
    uow, tracer = InMemoryUnitOfWorkFactory(), RecordingTracer()
    await stored_call(uow, clock, crm="none")

    result = await processing(uow, clock, tracer)(ProcessCallCommand("acme", "CALc1", "w1"))

    assert result.outcome is Outcome.DONE
    [run] = tracer.named("process_call")
    assert run.attributes == {
        "tenant_id": "acme",
        "call_id": "CALc1",
        "attempt": 1,
        "outcome": "done",
        "stage": "COMPLETED",
    }
    stages = children(tracer, run)
    assert [s.name for s in stages] == [f"stage.{stage}" for stage in PIPELINE[1:]]
    for span, stage in zip(stages, PIPELINE[1:], strict=True):
        assert span.attributes["stage"] == stage.value
        assert span.attributes["attempt"] == 1
        assert (span.attributes["tenant_id"], span.attributes["call_id"]) == ("acme", "CALc1")
        assert span.ended
        assert span.error is None
    outcomes = {s.name: s.attributes["outcome"] for s in stages}
    assert outcomes["stage.RECORDING_STORED"] == "done"
    assert outcomes["stage.SYNCED"] == "skipped"  # CRM "none"
    assert tracer.dropped == []


async def test_a_failing_stage_carries_the_error_type_and_the_next_attempt_its_number(
    clock: FixedClock,
) -> None:
    uow, tracer = InMemoryUnitOfWorkFactory(), RecordingTracer()
    await stored_call(uow, clock, crm="none")
    process = processing(uow, clock, tracer, GoneRecordingSource())

    result = await process(ProcessCallCommand("acme", "CALc1", "w1"))

    assert result.outcome is Outcome.FAILED
    [stage] = tracer.named("stage.RECORDING_STORED")
    assert stage.error == "RecordingUnavailable"
    assert "outcome" not in stage.attributes
    assert tracer.named("process_call")[0].attributes["outcome"] == "failed"
    assert tracer.dropped == []


async def test_a_retried_stage_says_which_attempt_it_is(clock: FixedClock) -> None:
    uow, tracer = InMemoryUnitOfWorkFactory(), RecordingTracer()
    await stored_call(uow, clock, crm="none")
    async with uow() as tx:  # as if a first delivery had died mid-way
        call = await tx.calls.get("acme", "CALc1")
        assert call is not None
        call.attempts = 1
        await tx.calls.update(call)
        await tx.commit()

    await processing(uow, clock, tracer)(ProcessCallCommand("acme", "CALc1", "w2"))

    assert {s.attributes["attempt"] for s in tracer.spans if s.name.startswith("stage.")} == {2}


async def test_admission_hands_its_trace_to_the_job(
    memory_uow: InMemoryUnitOfWorkFactory,
    secret_store: InMemorySecretStore,
    queue: InMemoryJobQueue,
    clock: FixedClock,
    ids: SequentialIds,
) -> None:
    tracer = RecordingTracer()
    async with memory_uow() as tx:
        await tx.tenants.add(parse_tenant(tenant_document(), clock.now()))
        await tx.commit()
    accept = AcceptWebhook(memory_uow, secret_store, queue, clock, ids, tracer)
    command = ReceiveWebhook(vector_body(), VECTOR_SIGNATURE)

    with tracer.span("POST /v1/callrail/webhook", kind="server"):
        await accept(command)
        await accept(command)  # CallRail's retry: a duplicate, not enqueued again

    [request] = tracer.named("POST /v1/callrail/webhook")
    accepted = tracer.named("accept_webhook")
    assert [s.parent_id for s in accepted] == [request.span_id] * 2
    assert accepted[0].attributes == {
        "tenant_id": "acme",
        "call_id": VECTOR_CALL_ID,
        "tenant_lookup": "store",
    }
    assert accepted[1].attributes["tenant_lookup"] == "remembered"  # the same AcceptWebhook
    admitted = tracer.named("admit_call")
    assert [s.attributes["outcome"] for s in admitted] == ["created", "duplicate"]
    [enqueue] = tracer.named("enqueue")
    assert enqueue.kind == "producer"
    assert enqueue.parent_id == admitted[0].span_id
    assert {s.trace_id for s in tracer.spans} == {request.trace_id}
    [job] = queue.enqueued
    # The job names the admission's span: its deliveries are that span's children.
    assert job.trace_context == {"traceparent": f"00-{request.trace_id}-{admitted[0].span_id}-01"}
    assert tracer.dropped == []
