"""Retention's policy (what is expired when, which objects are whose, the tenant document's
`retention`) and erasure's refusals, on the in-memory stores."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from adapters.memory.fakes import FixedClock, InMemoryAudioStore
from adapters.memory.repositories import InMemoryUnitOfWorkFactory
from adapters.system.clock import UuidIdGenerator
from domain.call import Call, quarantine_object_name, recording_object_name
from domain.errors import ConcurrentUpdate, ValidationFailed
from domain.results import StoredRecording, Transcript
from domain.retention import RetentionPolicy, call_reference, expiry_of, owns_object
from domain.stages import PIPELINE, Stage
from domain.tenant import apply_patch, parse_tenant, tenant_document
from domain.usecases.erasure import DeleteCall, DeleteCallCommand, secret_names
from domain.usecases.retention import delete_audio
from domain.webhook import parse_incoming_call
from tests.support import callrail_body, stream
from tests.support import tenant_document as tenant_doc

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def call_received(days_ago: int, stage: Stage = Stage.COMPLETED) -> Call:
    payload = json.loads(callrail_body("1", "111"))
    call = Call.receive("acme", parse_incoming_call(payload), NOW - timedelta(days=days_ago))
    call.recording = StoredRecording("memory://acme/calls/CAL1/recording.mp3", 3, "b" * 64)
    call.transcript = Transcript("whisper", "en-US", "hello")
    for step in PIPELINE[1 : PIPELINE.index(stage) + 1]:
        call.advance(step, call.received_at)
    return call


def test_the_tenant_document_takes_retention_and_refuses_unknown_keys_by_name() -> None:
    document = tenant_doc("acme", "111", retention={"recordings_days": 90, "transcripts_days": 365})
    tenant = parse_tenant(document, NOW)
    assert tenant.config.retention == RetentionPolicy(90, 365)
    assert tenant_document(tenant)["config"]["retention"] == {
        "recordings_days": 90,
        "transcripts_days": 365,
    }
    # null in a patch removes a limit: kept again.
    patched = apply_patch(tenant, {"config": {"retention": {"recordings_days": None}}}, NOW)
    assert patched.config.retention == RetentionPolicy(None, 365)
    with pytest.raises(ValidationFailed) as refused:
        parse_tenant(
            tenant_doc("acme", "111", retention={"audio_days": 3, "transcripts_days": 0}), NOW
        )
    assert [e.field for e in refused.value.fields] == [
        "config.retention.audio_days",
        "config.retention.transcripts_days",
    ]
    # No retention: nothing ever expires, and the document says nothing of it.
    plain = parse_tenant(tenant_doc("acme", "111"), NOW)
    assert "retention" not in tenant_document(plain)["config"]
    assert not expiry_of(call_received(10_000), plain.config.retention, NOW)


def test_what_expires_depends_on_age_and_on_the_call_being_finished() -> None:
    policy = RetentionPolicy(recordings_days=30, transcripts_days=90)
    assert expiry_of(call_received(10), policy, NOW).recording is False
    expired = expiry_of(call_received(31), policy, NOW)
    assert (expired.recording, expired.content) == (True, False)
    expired = expiry_of(call_received(91), policy, NOW)
    assert (expired.recording, expired.content) == (True, True)
    # A call still in the pipeline keeps everything until it finishes.
    assert not expiry_of(call_received(400, Stage.TRANSCRIBED), policy, NOW)


def test_objects_are_told_apart_by_their_parts_not_their_prefix() -> None:
    # Tenant "quarantine"'s recordings and tenant "calls"' quarantine share the prefix
    # quarantine/calls/: each is only its own tenant's.
    theirs = recording_object_name("quarantine", "CAL1", "mp3")
    quarantined = quarantine_object_name("calls", "CAL1")
    assert theirs.startswith("quarantine/calls/")
    assert quarantined.startswith("quarantine/calls/")
    assert owns_object(theirs, "quarantine")
    assert not owns_object(theirs, "calls")
    assert owns_object(quarantined, "calls", "CAL1")
    assert not owns_object(quarantined, "quarantine")
    assert not owns_object(recording_object_name("acme2", "CAL1", "mp3"), "acme")
    assert not owns_object(recording_object_name("acme", "CAL10", "mp3"), "acme", "CAL1")


async def test_deleting_tenant_quarantine_keeps_tenant_calls_quarantined_audio() -> None:
    audio = InMemoryAudioStore()
    for name in (
        recording_object_name("quarantine", "CAL1", "mp3"),
        quarantine_object_name("calls", "CAL1"),
    ):
        await audio.put(name, stream(b"ID3"), "audio/mpeg")
    assert await delete_audio(audio, "quarantine") == 1
    assert list(audio.objects) == [audio.uri_for(quarantine_object_name("calls", "CAL1"))]


def test_a_call_reference_is_stable_and_does_not_hold_the_id() -> None:
    reference = call_reference("acme", "CAL8154748ae6bd4e278a7cddd38a662f4f")
    assert reference == call_reference("acme", "CAL8154748ae6bd4e278a7cddd38a662f4f")
    assert reference != call_reference("beta", "CAL8154748ae6bd4e278a7cddd38a662f4f")
    assert "8154748ae6bd4e278a7" not in reference


def test_secret_names_lists_every_reference_the_tenant_holds_once() -> None:
    document = tenant_doc("acme", "111")
    del document["config"]["webhook_secret"]
    document["config"] |= {
        "webhook_secret_ref": "acme/signing",
        "callrail_api_key_ref": "acme/callrail",
        "crm_config": {"type": "hubspot", "access_token_ref": "acme/hubspot"},
        "alerts": {"destinations": [{"type": "slack", "webhook_url_ref": "acme/slack"}]},
    }
    tenant = parse_tenant(document, NOW, alert_http_hosts=())
    assert secret_names(tenant) == ("acme/signing", "acme/callrail", "acme/hubspot", "acme/slack")


async def test_a_call_a_worker_holds_is_not_deleted_under_it() -> None:
    uow_factory = InMemoryUnitOfWorkFactory()
    audio = InMemoryAudioStore()
    async with uow_factory() as uow:
        await uow.tenants.add(parse_tenant(tenant_doc("acme", "111"), NOW))
        call = call_received(1, Stage.RECORDING_STORED)
        call.take_lease("worker-1", NOW, 60)
        await uow.calls.add(call)
        await uow.commit()
    await audio.put(
        recording_object_name("acme", call.call_id, "mp3"), stream(b"ID3"), "audio/mpeg"
    )
    delete = DeleteCall(uow_factory, audio, FixedClock(NOW), UuidIdGenerator())

    with pytest.raises(ConcurrentUpdate):
        await delete(DeleteCallCommand("acme", call.call_id, "test"))

    assert len(audio.objects) == 1
    async with uow_factory(read_only=True) as uow:
        assert await uow.calls.get("acme", call.call_id) is not None
        assert await uow.deletions.list() == []
