"""The Call aggregate: its timeline, its failure, and a re-run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.call import Call, CallMetadata, Failure, IncomingCall
from domain.errors import IllegalTransition
from domain.stages import Stage
from domain.usage import NO_USAGE, UsageDelta

T0 = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)
AFTER_RECEIVED = [
    Stage.RECORDING_STORED,
    Stage.TRANSCRIBED,
    Stage.ANALYZED,
    Stage.SCORED,
    Stage.SYNCED,
    Stage.COMPLETED,
]


def incoming(call_id: str = "CAL1", caller: str = "+12148654559") -> IncomingCall:
    return IncomingCall(
        call_id=call_id,
        metadata=CallMetadata(caller=caller, duration_s=95, answered=True),
        recording_url="https://app.callrail.com/calls/1/recording/redirect",
        company_ids=("155920786",),
        raw={"id": call_id, "unknown_field": [1, 2]},
    )


def received(tenant_id: str = "acme", call_id: str = "CAL1") -> Call:
    return Call.receive(tenant_id, incoming(call_id), T0)


def advance_to(call: Call, stage: Stage) -> datetime:
    at = T0
    for step in AFTER_RECEIVED[: AFTER_RECEIVED.index(stage) + 1]:
        at += timedelta(seconds=1)
        call.advance(step, at)
    return at


def test_receive_starts_at_received_with_one_timeline_event() -> None:
    call = received()
    assert call.stage is Stage.RECEIVED
    assert call.status == "received"
    assert [(e.stage, e.at) for e in call.timeline] == [(Stage.RECEIVED, T0)]
    assert call.received_at == T0
    assert call.completed_at is None
    assert call.processing_time_ms is None
    assert call.failure is None


def test_receive_keeps_what_the_webhook_said() -> None:
    call = received()
    assert call.tenant_id == "acme"
    assert call.call_id == "CAL1"
    assert call.metadata.caller == "+12148654559"
    assert call.recording_url == "https://app.callrail.com/calls/1/recording/redirect"
    assert call.raw_payload == {"id": "CAL1", "unknown_field": [1, 2]}


def test_advancing_through_the_whole_pipeline_records_the_timeline() -> None:
    call = received()
    for n, stage in enumerate(AFTER_RECEIVED, start=1):
        call.advance(
            stage, T0 + timedelta(seconds=n), duration_ms=n * 100, skipped=stage is Stage.SYNCED
        )
        assert call.stage is stage
        assert call.completed_at is None or stage is Stage.COMPLETED

    assert [e.stage for e in call.timeline] == [Stage.RECEIVED, *AFTER_RECEIVED]
    assert [e.duration_ms for e in call.timeline[1:]] == [100, 200, 300, 400, 500, 600]
    assert [e.stage for e in call.timeline if e.skipped] == [Stage.SYNCED]
    assert call.status == "completed"
    assert call.completed_at == T0 + timedelta(seconds=6)
    assert call.processing_time_ms == 6000


def test_a_stage_in_progress_is_reported_as_processing() -> None:
    call = received()
    advance_to(call, Stage.ANALYZED)
    assert call.status == "processing"
    assert call.completed_at is None


@pytest.mark.parametrize("skip_to", AFTER_RECEIVED[1:])
def test_skipping_a_stage_is_refused_and_changes_nothing(skip_to: Stage) -> None:
    call = received()
    with pytest.raises(IllegalTransition):
        call.advance(skip_to, T0 + timedelta(seconds=1))
    assert call.stage is Stage.RECEIVED
    assert len(call.timeline) == 1


def test_repeating_a_finished_stage_is_refused() -> None:
    call = received()
    advance_to(call, Stage.TRANSCRIBED)
    with pytest.raises(IllegalTransition):
        call.advance(Stage.TRANSCRIBED, T0 + timedelta(minutes=1))
    assert call.stage is Stage.TRANSCRIBED


def test_advance_cannot_be_used_to_fail_a_call() -> None:
    call = received()
    with pytest.raises(IllegalTransition):
        call.advance(Stage.FAILED, T0)
    assert call.stage is Stage.RECEIVED
    assert call.failure is None


def test_fail_records_the_stage_and_the_reason() -> None:
    call = received()
    at = advance_to(call, Stage.TRANSCRIBED) + timedelta(seconds=5)
    call.fail(Stage.ANALYZED, "the analyzer refused the transcript", at)

    assert call.stage is Stage.FAILED
    assert call.status == "failed"
    assert call.failure == Failure(Stage.ANALYZED, "the analyzer refused the transcript")
    last = call.timeline[-1]
    assert (last.stage, last.at, last.note) == (
        Stage.FAILED,
        at,
        "the analyzer refused the transcript",
    )
    assert call.completed_at == at


def test_a_failed_call_cannot_advance_or_fail_again() -> None:
    call = received()
    call.fail(Stage.RECORDING_STORED, "recording 404", T0 + timedelta(seconds=1))
    events = len(call.timeline)
    with pytest.raises(IllegalTransition):
        call.advance(Stage.RECORDING_STORED, T0 + timedelta(seconds=2))
    with pytest.raises(IllegalTransition):
        call.fail(Stage.RECORDING_STORED, "again", T0 + timedelta(seconds=2))
    assert call.stage is Stage.FAILED
    assert call.failure == Failure(Stage.RECORDING_STORED, "recording 404")
    assert len(call.timeline) == events


def test_a_completed_call_cannot_fail() -> None:
    call = received()
    advance_to(call, Stage.COMPLETED)
    with pytest.raises(IllegalTransition):
        call.fail(Stage.SYNCED, "late", T0 + timedelta(hours=1))
    assert call.stage is Stage.COMPLETED
    assert call.failure is None


def test_restart_after_failure_puts_the_call_back_and_clears_the_failure() -> None:
    call = received()
    advance_to(call, Stage.TRANSCRIBED)
    call.attempts = 3
    call.fail(Stage.ANALYZED, "analyzer down", T0 + timedelta(seconds=10))

    call.restart_from(Stage.ANALYZED, T0 + timedelta(minutes=5))

    assert call.stage is Stage.TRANSCRIBED
    assert call.status == "processing"
    assert call.failure is None
    assert call.completed_at is None
    assert call.attempts == 0
    assert call.timeline[-1].stage is Stage.TRANSCRIBED
    assert call.timeline[-1].note == "reprocess from ANALYZED"
    call.advance(Stage.ANALYZED, T0 + timedelta(minutes=6))
    assert [e.stage for e in call.timeline[-2:]] == [Stage.TRANSCRIBED, Stage.ANALYZED]


def test_a_completed_call_can_be_rerun_from_its_recording() -> None:
    call = received()
    advance_to(call, Stage.COMPLETED)
    call.restart_from(Stage.RECORDING_STORED, T0 + timedelta(hours=1))
    assert call.stage is Stage.RECEIVED
    assert call.completed_at is None
    assert call.processing_time_ms is None


def test_a_call_in_progress_cannot_be_restarted() -> None:
    call = received()
    advance_to(call, Stage.SCORED)
    with pytest.raises(IllegalTransition):
        call.restart_from(Stage.ANALYZED, T0 + timedelta(minutes=1))
    assert call.stage is Stage.SCORED


def test_equality_is_by_tenant_and_call_id() -> None:
    a = received("acme", "CAL1")
    same = Call.receive("acme", incoming("CAL1", caller="+14045558514"), T0 + timedelta(days=1))
    same.advance(Stage.RECORDING_STORED, T0 + timedelta(days=1))
    other_tenant = received("globex", "CAL1")
    other_call = received("acme", "CAL2")

    assert a == same
    assert hash(a) == hash(same)
    assert a != other_tenant
    assert a != other_call
    assert len({a, same, other_tenant, other_call}) == 3
    assert a != ("acme", "CAL1")


def test_an_analysis_keeps_its_llm_token_counts_per_call() -> None:
    from domain.codec import analysis_from_dict, analysis_to_dict
    from domain.results import CallAnalysis, Intent
    from domain.usage import UsageDelta

    analysis = CallAnalysis(
        engine="vertex:gemini-2.5-flash",
        summary="s",
        intent=Intent.QUOTE_REQUEST,
        usage=UsageDelta(llm_tokens_in=812, llm_tokens_out=95),
    )
    stored = analysis_to_dict(analysis)
    assert stored is not None
    assert stored["tokens"] == {"input": 812, "output": 95}
    again = analysis_from_dict(stored)
    assert again is not None
    assert (again.usage.llm_tokens_in, again.usage.llm_tokens_out) == (812, 95)
    rules = analysis_to_dict(CallAnalysis(engine="rules", summary="s", intent=Intent.OTHER))
    assert rules is not None
    assert "tokens" not in rules  # no model, no tokens


def test_a_stored_transcript_carries_no_words_or_channel() -> None:
    """The words spell what redaction hid (they are what audio redaction silences): the stored
    transcript is the redacted text and its segments, never the words, nor the channel."""
    import json

    from domain.codec import transcript_from_dict, transcript_to_dict
    from domain.results import Segment, Transcript, Word

    heard = (Word(11.0, 11.4, "It's"), Word(11.5, 12.0, "4111"), Word(12.1, 12.6, "1111."))
    segment = Segment("caller", 11.0, 12.6, "It's [REDACTED CARD].", heard, channel=1)
    transcript = Transcript("whisper-tiny.en", "en-US", segment.text, (segment,), redacted=True)

    stored = transcript_to_dict(transcript)
    assert stored is not None
    assert "4111" not in json.dumps(stored)
    assert transcript_from_dict(stored) == Transcript(
        "whisper-tiny.en",
        "en-US",
        "It's [REDACTED CARD].",
        (Segment("caller", 11.0, 12.6, "It's [REDACTED CARD]."),),
        redacted=True,
    )


def test_a_copy_moves_on_alone_and_leaves_out_unrecorded_usage() -> None:
    original = received()
    original.consumed(UsageDelta(audio_seconds=12.0))
    copied = original.copy()

    copied.advance(Stage.RECORDING_STORED, T0 + timedelta(seconds=1))
    copied.lease_owner = "w1"

    assert [e.stage for e in original.timeline] == [Stage.RECEIVED]
    assert (original.stage, original.lease_owner) == (Stage.RECEIVED, None)
    assert [e.stage for e in copied.timeline] == [Stage.RECEIVED, Stage.RECORDING_STORED]
    assert copied.unsaved_usage == NO_USAGE
    assert original.unsaved_usage == UsageDelta(audio_seconds=12.0)
    assert copied == original  # the same call (tenant, id): an entity
