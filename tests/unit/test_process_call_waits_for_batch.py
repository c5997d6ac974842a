"""ProcessCall with a transcriber that answers later (Speech-to-Text's dynamic batching): the
call waits in its stage with the ticket saved, spends no attempt waiting, starts the work once
and collects it; a recording being redacted is downloaded once and its original stays in
quarantine while it waits; a wait past two days ends in FAILED with the reason. Waits are
counted from when the call entered its stage: a call reprocessed long after it was received
waits afresh, for its transcription as for a rate limit."""

from __future__ import annotations

import json
from pathlib import Path

import attrs

from adapters.memory.fakes import FixedClock, InMemoryRecordingSource
from domain.call import Call
from domain.call_changes import Change, apply_change
from domain.errors import RateLimited, TranscriptionPending
from domain.results import StoredRecording, Transcript
from domain.stages import Stage
from domain.tenant import Tenant
from domain.transcription_hint import TranscriptionHint
from domain.usecases.processing import Outcome
from domain.webhook import parse_incoming_call
from ports.recording import Download
from ports.speech import Transcriber
from tests.support import CardReadingTranscriber, callrail_body
from tests.unit.test_process_call import CountingTranscriber, FlakyRecordingSource, Harness
from tests.unit.test_process_call_redaction import ORIGINAL, Pipeline

CHECK_EVERY_S = 600.0


class AnswersLater:
    """A batch engine over `inner`: a recording without a ticket starts an operation (named
    op-1, op-2, ...); a ticket is answered "still running" until `finish()`, then collected."""

    def __init__(self, inner: Transcriber) -> None:
        self.inner = inner
        self.started: list[str] = []  # the recordings each operation was started for
        self.asked: list[str | None] = []  # the ticket of each request
        self.done = False

    def finish(self) -> None:
        self.done = True

    async def transcribe(
        self,
        recording: StoredRecording,
        language: str = "en-US",
        hint: TranscriptionHint | None = None,
        ticket: str | None = None,
    ) -> Transcript:
        self.asked.append(ticket)
        if ticket is None:
            self.started.append(recording.uri)
            raise TranscriptionPending(f"op-{len(self.started)}", CHECK_EVERY_S)
        if not self.done:
            raise TranscriptionPending(ticket, CHECK_EVERY_S)
        return await self.inner.transcribe(recording, language, hint)


async def test_a_call_waits_without_spending_attempts_then_completes(clock: FixedClock) -> None:
    engine = AnswersLater(CountingTranscriber("my furnace is out, can you come today"))
    h = Harness(clock, transcriber=engine, max_attempts=3)
    await h.setup()

    for _ in range(6):  # twice the attempt limit: waiting is not failing
        result = await h.run()
        assert result.outcome is Outcome.RETRY
        assert result.retry_after_s == CHECK_EVERY_S
        clock.advance(CHECK_EVERY_S)
    waiting = await h.call()
    assert waiting.stage is Stage.RECORDING_STORED
    assert waiting.failure is not None
    assert waiting.failure.transient
    assert "waiting for the batch transcription" in waiting.failure.reason

    engine.finish()
    assert (await h.run()).outcome is Outcome.DONE
    call = await h.call()
    assert call.stage is Stage.COMPLETED
    assert call.transcript is not None
    assert call.transcript.text.startswith("my furnace is out")
    assert call.pending_transcription is None
    assert call.failure is None
    assert engine.started == [call.recording.uri if call.recording else ""]  # started once
    assert engine.asked == [None] + ["op-1"] * 6


async def test_a_wait_past_two_days_fails_with_the_reason(clock: FixedClock) -> None:
    engine = AnswersLater(CountingTranscriber("hello"))
    h = Harness(clock, transcriber=engine)
    await h.setup()
    assert (await h.run()).outcome is Outcome.RETRY

    clock.advance(2 * 86400 + 1)
    result = await h.run()

    assert result.outcome is Outcome.FAILED
    call = await h.call()
    assert call.stage is Stage.FAILED
    assert call.failure is not None
    assert call.failure.reason == "the batch transcription did not finish within 48 hours"


async def test_a_call_reprocessed_after_the_wait_failed_waits_again(clock: FixedClock) -> None:
    engine = AnswersLater(CountingTranscriber("hello"))
    h = Harness(clock, transcriber=engine)
    await h.setup()
    assert (await h.run()).outcome is Outcome.RETRY
    clock.advance(2 * 86400 + 1)
    assert (await h.run()).outcome is Outcome.FAILED

    clock.advance(3 * 86400)  # the operator reprocesses it days later
    async with h.uow() as uow:
        failed = await uow.calls.get("acme", "CALc1")
        assert failed is not None
        failed.restart_from(Stage.TRANSCRIBED, clock.now())
        await uow.calls.update(failed)
        await uow.commit()
    result = await h.run()

    assert result.outcome is Outcome.RETRY  # waits its own two days, not the call's age
    engine.finish()
    assert (await h.run()).outcome is Outcome.DONE
    assert len(engine.started) == 2


class LimitedLater(InMemoryRecordingSource):
    """Serves the recording until `limited`, then answers as a rate-limited API."""

    limited = False

    async def open(self, tenant: Tenant, call: Call) -> Download:
        if self.limited:
            raise RateLimited("daily API limit reached", 3600)
        return await super().open(tenant, call)


async def test_an_old_call_reprocessed_waits_out_a_rate_limit(clock: FixedClock) -> None:
    source = LimitedLater({"CALc1": b"ID3 mp3"})
    h = Harness(clock, recordings=source)
    await h.setup()
    assert (await h.run()).outcome is Outcome.DONE
    clock.advance(30 * 86400)  # the operator reprocesses it a month later
    async with h.uow() as uow:
        done = await uow.calls.get("acme", "CALc1")
        assert done is not None
        done.restart_from(Stage.RECORDING_STORED, clock.now())
        await uow.calls.update(done)
        await uow.commit()
    source.limited = True

    result = await h.run()

    assert result.outcome is Outcome.RETRY  # the week's bound counts from the restart
    assert result.retry_after_s == 3600


async def test_a_recording_being_redacted_is_downloaded_once_and_kept_in_quarantine(
    clock: FixedClock, tmp_path: Path
) -> None:
    engine = AnswersLater(CardReadingTranscriber(channel=1))
    downloads = FlakyRecordingSource(failures=0)
    downloads.recordings["CALc1"] = ORIGINAL
    p = Pipeline(clock, tmp_path, engine, recordings=downloads)  # type: ignore[arg-type]
    await p.setup()

    for _ in range(3):
        assert await p.run() is Outcome.RETRY
        assert p.quarantined()  # the original waits where only the pipeline names it
        waiting = await p.call()
        assert waiting.recording is None  # nothing unredacted is the call's recording
        clock.advance(CHECK_EVERY_S)

    engine.finish()
    assert await p.run() is Outcome.DONE
    call = await p.call()
    assert call.recording is not None
    assert call.recording.redacted
    assert b"silenced CARD" in p.audio.objects[call.recording.uri][0]
    assert not p.quarantined()
    assert call.transcript is not None
    assert "4111" not in call.transcript.text
    assert len(engine.started) == 1
    assert downloads.opened == 1  # not once a poll


async def test_a_recording_modified_while_it_waits_is_the_one_redacted(
    clock: FixedClock, tmp_path: Path
) -> None:
    engine = AnswersLater(CardReadingTranscriber(channel=1))
    downloads = FlakyRecordingSource(failures=0)
    downloads.recordings["CALc1"] = ORIGINAL
    p = Pipeline(clock, tmp_path, engine, recordings=downloads)  # type: ignore[arg-type]
    await p.setup()
    assert await p.run() is Outcome.RETRY

    # CallRail's Call Modified brings another recording while the first is transcribed
    downloads.recordings["CALc1"] = b"ID3 the recording CallRail has now"
    modified = callrail_body("c1", recording="https://app.callrail.com/calls/1/recording/new")
    async with p.uow() as uow:
        waiting = await uow.calls.get("acme", "CALc1")
        assert waiting is not None
        incoming = parse_incoming_call(json.loads(modified))
        apply_change(waiting, incoming, Change.RECORDING, clock.now())
        await uow.calls.update(waiting)
        await uow.commit()
    assert await p.run() is Outcome.RETRY  # the new recording's transcription is started

    engine.finish()
    assert await p.run() is Outcome.DONE
    call = await p.call()
    assert call.recording is not None
    assert p.audio.objects[call.recording.uri][0].startswith(b"ID3 the recording CallRail has")
    assert downloads.opened == 2
    assert engine.asked == [None, None, "op-2"]
    assert not p.quarantined()


async def test_an_original_waiting_when_redaction_is_turned_off_is_not_kept(
    clock: FixedClock, tmp_path: Path
) -> None:
    engine = AnswersLater(CardReadingTranscriber(channel=1))
    p = Pipeline(clock, tmp_path, engine)  # type: ignore[arg-type]
    await p.setup()
    assert await p.run() is Outcome.RETRY
    assert p.quarantined()

    async with p.uow() as uow:  # the tenant stops redacting while the call waits
        tenant = await uow.tenants.get("acme")
        assert tenant is not None
        config = attrs.evolve(tenant.config, redact_pii=False)
        await uow.tenants.update(attrs.evolve(tenant, config=config))
        await uow.commit()
    engine.finish()
    assert await p.run() is Outcome.RETRY  # transcribed again, from the stored recording
    assert await p.run() is Outcome.DONE

    assert not p.quarantined()  # no unredacted copy left where nothing names it
    call = await p.call()
    assert call.recording is not None
    assert not call.recording.redacted
