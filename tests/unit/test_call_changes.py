"""Call Modified in the domain: which bodies are one, what each changes in a stored call, and
how a call is put back; through the intake use case on the in-memory stores."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.memory.fakes import InMemoryJobQueue, SequentialIds
from adapters.memory.repositories import InMemoryUnitOfWorkFactory
from domain.call import Call
from domain.call_changes import Change, apply_change, plan_change
from domain.results import StoredRecording
from domain.stages import Stage
from domain.tenant import parse_tenant
from domain.usecases.intake import AdmitCall, AdmitCommand
from domain.webhook import parse_changes, parse_incoming_call
from tests.support import tenant_document

T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
RECORDING = "https://api.callrail.com/v3/a/ACC1/calls/CAL1/recording.json"


def body(**fields: Any) -> dict[str, Any]:
    return {"resource_id": "CAL1", "company_resource_id": "COM1", "answered": "true", **fields}


@pytest.mark.parametrize(
    ("changes", "names"),
    [
        (["tags", "note", "Tags"], ("tags", "note")),
        ([{"field": "recording_duration"}, {"value": 12}], ("recording_duration", "value")),
        ({"tags": ["a"], "note": "x"}, ("tags", "note")),
        ("tags, note", ("tags", "note")),
        ([3, None, "two words", "x" * 80, ["tags"]], ()),
        (7, ()),
    ],
)
def test_changes_are_read_from_any_shape_and_what_is_no_field_name_is_skipped(
    changes: Any, names: tuple[str, ...]
) -> None:
    assert parse_changes({"changes": changes}) == names


def test_a_body_is_a_call_modified_only_with_changes() -> None:
    assert parse_incoming_call(body()).changes is None
    assert parse_incoming_call(body(changes=[])).changes == ()
    assert parse_changes({"changes": ["tags"] * 500}) == ("tags",)
    assert len(parse_changes({"changes": [f"f{i}" for i in range(200)]}) or ()) == 100


def test_spam_is_the_spam_field_or_a_change_named_spam() -> None:
    assert parse_incoming_call(body(spam="true")).metadata.marked_spam
    assert parse_incoming_call(body(changes=["spam"])).metadata.marked_spam
    assert not parse_incoming_call(body(spam=False, changes=["spam"])).metadata.marked_spam
    assert not parse_incoming_call(body(note="n", changes=["note"])).metadata.marked_spam


def stored(stage: Stage, **fields: Any) -> Call:
    call = Call.receive("acme", parse_incoming_call(body(**fields)), T0)
    call.stage = stage
    return call


def test_what_a_modified_body_changes() -> None:
    finished = stored(Stage.COMPLETED)
    same = parse_incoming_call(body())
    assert plan_change(finished, same) is Change.NONE
    assert plan_change(finished, parse_incoming_call(body(changes=["note"], note="hi"))) is (
        Change.METADATA
    )
    with_recording = parse_incoming_call(body(recording=RECORDING, changes=["recording"]))
    assert plan_change(finished, with_recording) is Change.RECORDING
    assert plan_change(finished, parse_incoming_call(body(spam=True))) is Change.SPAM
    # A recording already stored is not fetched again; one on its way is only relinked.
    finished.recording = StoredRecording("file://x", 10, "ab" * 32, "audio/mpeg")
    assert plan_change(finished, with_recording) is Change.METADATA
    waiting = stored(Stage.RECEIVED, recording=RECORDING)
    assert plan_change(waiting, parse_incoming_call(body(recording=RECORDING, note="n"))) is (
        Change.METADATA
    )


def test_a_call_in_progress_is_put_back_only_if_it_got_that_far_and_keeps_its_lease() -> None:
    call = stored(Stage.SCORED)
    call.take_lease("worker-1", T0, 60)
    assert call.redo_from(Stage.RECORDING_STORED, T0, "recording") is False
    assert call.stage is Stage.RECEIVED
    assert call.lease_owner == "worker-1"
    early = stored(Stage.TRANSCRIBED)
    assert early.redo_from(Stage.SCORED, T0, "spam") is False
    assert early.stage is Stage.TRANSCRIBED
    assert len(early.timeline) == 1
    done = stored(Stage.COMPLETED)
    assert done.redo_from(Stage.SCORED, T0, "spam") is True
    assert done.stage is Stage.ANALYZED
    assert done.timeline[-1].note == "spam"


async def test_the_intake_applies_a_modification_once_and_queues_a_finished_call_again() -> None:
    uow, queue = InMemoryUnitOfWorkFactory(), InMemoryJobQueue()
    async with uow() as unit:
        await unit.tenants.add(parse_tenant(tenant_document("acme"), T0))
        await unit.commit()
    admit = AdmitCall(uow, queue, SequentialIds())

    async def send(payload: dict[str, Any], at: datetime) -> Any:
        incoming = parse_incoming_call(payload, json.dumps(payload))
        return await admit(AdmitCommand("acme", incoming, at))

    first = await send(body(), T0)
    assert first.created
    assert len(queue.enqueued) == 1
    async with uow() as unit:
        call = await unit.calls.get("acme", "CAL1")
        assert call is not None
        call.stage = Stage.COMPLETED
        await unit.calls.update(call)
        await unit.commit()

    modified = body(recording=RECORDING, changes=["recording_duration"])
    result = await send(modified, T0 + timedelta(minutes=25))
    assert (result.created, result.duplicate, result.change, result.reruns) == (
        False,
        False,
        Change.RECORDING,
        True,
    )
    assert result.call.stage is Stage.RECEIVED
    assert result.call.recording_url == RECORDING
    assert len(queue.enqueued) == 2
    again = await send(modified, T0 + timedelta(minutes=26))
    assert again.duplicate
    assert again.change is Change.NONE
    assert len(queue.enqueued) == 2
    post_call_again = await send(body(), T0 + timedelta(minutes=27))
    assert post_call_again.duplicate
    assert post_call_again.change is None


def test_a_repeat_without_the_recording_link_of_a_call_that_has_one_is_a_duplicate() -> None:
    call = stored(Stage.COMPLETED, recording=RECORDING)
    note_only = parse_incoming_call(body(note="n", changes=["note"]))
    assert plan_change(call, note_only) is Change.METADATA
    assert apply_change(call, note_only, Change.METADATA, T0) is False
    assert call.recording_url == RECORDING
    assert plan_change(call, note_only) is Change.NONE


def test_a_failed_call_is_run_again_from_where_it_failed() -> None:
    call = stored(Stage.RECORDING_STORED)
    call.fail(Stage.TRANSCRIBED, "bad audio", T0)
    spam = parse_incoming_call(body(spam=True, changes=["spam"]))
    assert apply_change(call, spam, Change.SPAM, T0) is True
    assert call.stage is Stage.RECORDING_STORED
    assert call.failure is None
