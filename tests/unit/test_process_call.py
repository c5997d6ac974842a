"""ProcessCall through the real wiring of its ports, with in-memory adapters: stages in order,
each persisted; resumption; leases; transient and permanent failures; the dead end."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from adapters.memory.fakes import (
    FixedClock,
    InMemoryAudioStore,
    InMemoryCrmGateway,
    InMemoryCrmGatewayFactory,
    InMemoryRecordingSource,
    ScriptedCallAnalyzer,
    ScriptedTranscriber,
)
from adapters.memory.repositories import InMemoryUnitOfWorkFactory
from domain.call import Call
from domain.errors import RateLimited, RecordingUnavailable, TransientFailure
from domain.results import CallAnalysis, Intent, Segment, StoredRecording, SyncStatus, Transcript
from domain.retry import RetryPolicy
from domain.stages import PIPELINE, Stage
from domain.tenant import Tenant, parse_tenant
from domain.transcription_hint import TranscriptionHint
from domain.usecases.processing import Outcome, ProcessCall, ProcessCallCommand
from domain.webhook import parse_incoming_call
from ports.recording import Download
from tests.support import callrail_body, tenant_document

CARD = "4111 1111 1111 1111"


class CountingTranscriber(ScriptedTranscriber):
    def __init__(self, text: str):
        super().__init__()
        self.text = text
        self.calls = 0

    async def transcribe(
        self,
        recording: StoredRecording,
        language: str = "en-US",
        hint: TranscriptionHint | None = None,
        ticket: str | None = None,
    ) -> Transcript:
        self.calls += 1
        return Transcript("test", language, self.text, (Segment("caller", 0, 5, self.text),))


class FlakyRecordingSource(InMemoryRecordingSource):
    """Fails transiently `failures` times, then serves the recording."""

    def __init__(self, failures: int, retry_after_s: float | None = None):
        super().__init__({"CALc1": b"ID3 fake mp3"})
        self.failures = failures
        self.retry_after_s = retry_after_s
        self.opened = 0

    async def open(self, tenant: Tenant, call: Call) -> Download:
        self.opened += 1
        if self.failures > 0:
            self.failures -= 1
            raise TransientFailure("503 from the recording host", self.retry_after_s)
        return await super().open(tenant, call)


class MissingRecordingSource(InMemoryRecordingSource):
    async def open(self, tenant: Tenant, call: Call) -> Download:
        raise RecordingUnavailable("the recording is gone (404)")


class Harness:
    def __init__(self, clock: FixedClock, **overrides: Any):
        self.uow = overrides.get("uow") or InMemoryUnitOfWorkFactory()
        self.clock = clock
        self.recordings = overrides.get("recordings") or InMemoryRecordingSource(
            {"CALc1": b"ID3 mp3"}
        )
        self.audio = InMemoryAudioStore()
        self.transcriber = overrides.get("transcriber") or CountingTranscriber("my furnace is out")
        self.analyzer = ScriptedCallAnalyzer(
            CallAnalysis(
                engine="scripted", summary="furnace out", intent=Intent.NEW_SERVICE_REQUEST
            )
        )
        self.crm_gateway = InMemoryCrmGateway("hubspot")
        self.process = ProcessCall(
            self.uow,
            self.recordings,
            self.audio,
            self.transcriber,
            self.analyzer,
            InMemoryCrmGatewayFactory(self.crm_gateway),
            clock,
            RetryPolicy(max_attempts=overrides.get("max_attempts", 3), base_delay_s=2),
            lease_s=60,
        )

    async def setup(self, crm: str = "hubspot", redact: bool = True, **fields: Any) -> None:
        document = tenant_document(redact_pii=redact)
        document["config"]["crm_config"] = {"type": crm}
        tenant = parse_tenant(document, self.clock.now())
        payload = json.loads(callrail_body("c1", **fields))
        call = Call.receive("acme", parse_incoming_call(payload), self.clock.now())
        async with self.uow() as uow:
            await uow.tenants.add(tenant)
            await uow.calls.add(call)
            await uow.commit()

    async def run(self, worker: str = "w1") -> Any:
        return await self.process(ProcessCallCommand("acme", "CALc1", worker))

    async def call(self) -> Call:
        async with self.uow(read_only=True) as uow:
            call = await uow.calls.get("acme", "CALc1")
        assert call is not None
        return call


async def test_a_call_goes_through_every_stage_once(clock: FixedClock) -> None:
    h = Harness(clock)
    await h.setup()
    result = await h.run()
    assert result.outcome is Outcome.DONE
    call = await h.call()
    assert call.stage is Stage.COMPLETED
    assert [e.stage for e in call.timeline] == list(PIPELINE)
    assert call.recording is not None
    assert call.recording.uri == "memory://acme/calls/CALc1/recording.mp3"
    assert call.transcript is not None
    assert call.analysis is not None
    assert call.lead_score is not None
    assert call.crm_sync is not None
    assert call.crm_sync.status is SyncStatus.SUCCESS
    assert call.lease_owner is None
    assert len(h.crm_gateway.activities) == 1


async def test_redelivery_of_a_finished_call_repeats_nothing(clock: FixedClock) -> None:
    h = Harness(clock)
    await h.setup()
    await h.run()
    again = await h.run(worker="w2")
    assert again.outcome is Outcome.DONE
    assert isinstance(h.transcriber, CountingTranscriber)
    assert h.transcriber.calls == 1
    assert len(h.crm_gateway.activities) == 1


async def test_a_transient_failure_retries_later_and_resumes_at_that_stage(
    clock: FixedClock,
) -> None:
    recordings = FlakyRecordingSource(failures=1, retry_after_s=30)
    h = Harness(clock, recordings=recordings)
    await h.setup()
    first = await h.run()
    assert first.outcome is Outcome.RETRY
    assert first.stage is Stage.RECORDING_STORED
    assert first.retry_after_s >= 30  # the server's Retry-After is honoured
    stalled = await h.call()
    assert stalled.stage is Stage.RECEIVED
    assert stalled.failure is not None
    assert stalled.failure.transient
    assert stalled.lease_owner is None
    second = await h.run()
    assert second.outcome is Outcome.DONE
    done = await h.call()
    assert done.stage is Stage.COMPLETED
    assert done.failure is None
    assert done.attempts == 2


async def test_a_later_stage_failure_resumes_without_redoing_earlier_stages(
    clock: FixedClock,
) -> None:
    class FlakyTranscriber(CountingTranscriber):
        async def transcribe(
            self,
            recording: StoredRecording,
            language: str = "en-US",
            hint: TranscriptionHint | None = None,
            ticket: str | None = None,
        ) -> Transcript:
            if self.calls == 0:
                self.calls += 1
                raise TransientFailure("speech service busy")
            return await super().transcribe(recording, language, hint)

    recordings = FlakyRecordingSource(failures=0)
    h = Harness(clock, recordings=recordings, transcriber=FlakyTranscriber("hello"))
    await h.setup()
    assert (await h.run()).outcome is Outcome.RETRY
    assert (await h.call()).stage is Stage.RECORDING_STORED
    assert (await h.run()).outcome is Outcome.DONE
    assert recordings.opened == 1  # the stored recording was not downloaded again


async def test_backoff_grows_and_the_attempts_are_bounded(clock: FixedClock) -> None:
    h = Harness(clock, recordings=FlakyRecordingSource(failures=100), max_attempts=3)
    await h.setup()
    delays = []
    for _ in range(2):
        result = await h.run()
        assert result.outcome is Outcome.RETRY
        delays.append(result.retry_after_s)
    assert delays[1] > delays[0]
    final = await h.run()
    assert final.outcome is Outcome.FAILED
    call = await h.call()
    assert call.stage is Stage.FAILED
    assert call.failure is not None
    assert call.failure.stage is Stage.RECORDING_STORED
    assert "gave up after 3 attempts" in call.failure.reason
    assert "503" in call.failure.reason


async def test_a_permanent_failure_fails_the_call_with_stage_and_reason(clock: FixedClock) -> None:
    h = Harness(clock, recordings=MissingRecordingSource())
    await h.setup()
    result = await h.run()
    assert result.outcome is Outcome.FAILED
    call = await h.call()
    assert call.stage is Stage.FAILED
    assert call.failure is not None
    assert call.failure.stage is Stage.RECORDING_STORED
    assert call.failure.reason == "the recording is gone (404)"
    assert call.lease_owner is None


async def test_a_missed_call_skips_to_scoring_from_its_metadata(clock: FixedClock) -> None:
    h = Harness(clock)
    await h.setup(recording=None, answered="false", duration="0")
    await h.run()
    call = await h.call()
    assert call.stage is Stage.COMPLETED
    assert call.recording is None
    assert call.transcript is None
    skipped = [e.stage for e in call.timeline if e.skipped]
    assert skipped == [Stage.RECORDING_STORED, Stage.TRANSCRIBED]
    assert call.lead_score is not None
    assert call.crm_sync is not None
    assert call.crm_sync.status is SyncStatus.SUCCESS


async def test_no_crm_is_a_skipped_sync(clock: FixedClock) -> None:
    h = Harness(clock)
    await h.setup(crm="none")
    await h.run()
    call = await h.call()
    assert call.stage is Stage.COMPLETED
    assert call.crm_sync is not None
    assert call.crm_sync.status is SyncStatus.SKIPPED
    assert [e.stage for e in call.timeline if e.skipped] == [Stage.SYNCED]


async def test_the_transcript_is_redacted_before_it_is_stored(clock: FixedClock) -> None:
    h = Harness(clock, transcriber=CountingTranscriber(f"my card number is {CARD} thanks"))
    await h.setup()
    await h.run()
    call = await h.call()
    assert call.transcript is not None
    assert call.transcript.redacted
    assert CARD not in call.transcript.text
    assert "1111" not in json.dumps([s.text for s in call.transcript.segments])


async def test_redaction_can_be_turned_off_per_tenant(clock: FixedClock) -> None:
    h = Harness(clock, transcriber=CountingTranscriber(f"card {CARD}"))
    await h.setup(redact=False)
    await h.run()
    call = await h.call()
    assert call.transcript is not None
    assert CARD in call.transcript.text


async def test_a_lease_held_by_another_worker_makes_the_delivery_wait(clock: FixedClock) -> None:
    h = Harness(clock)
    await h.setup()
    call = await h.call()
    call.take_lease("other-worker", clock.now(), 60)
    async with h.uow() as uow:
        await uow.calls.update(call)
        await uow.commit()
    result = await h.run()
    assert result.outcome is Outcome.BUSY
    assert result.retry_after_s == pytest.approx(60)
    assert (await h.call()).stage is Stage.RECEIVED
    # Once the other worker's lease has expired, the call is taken over.
    clock.advance(61)
    assert (await h.run()).outcome is Outcome.DONE


async def test_two_workers_at_once_process_a_call_once(clock: FixedClock) -> None:
    class SlowTranscriber(CountingTranscriber):
        async def transcribe(
            self,
            recording: StoredRecording,
            language: str = "en-US",
            hint: TranscriptionHint | None = None,
            ticket: str | None = None,
        ) -> Transcript:
            await asyncio.sleep(0.05)
            return await super().transcribe(recording, language, hint)

    h = Harness(clock, transcriber=SlowTranscriber("hello"))
    await h.setup()
    results = await asyncio.gather(h.run("w1"), h.run("w2"))
    assert sorted(r.outcome for r in results) == [Outcome.BUSY, Outcome.DONE]
    assert isinstance(h.transcriber, CountingTranscriber)
    assert h.transcriber.calls == 1


async def test_attempts_that_never_finish_end_in_failed(clock: FixedClock) -> None:
    """A worker killed mid-stage records nothing; the attempt count still ends it."""
    h = Harness(clock, max_attempts=2)
    await h.setup()
    call = await h.call()
    call.attempts = 2  # two deliveries took the lease and died
    async with h.uow() as uow:
        await uow.calls.update(call)
        await uow.commit()
    result = await h.run()
    assert result.outcome is Outcome.FAILED
    failed = await h.call()
    assert failed.failure is not None
    assert "never finished" in failed.failure.reason


async def test_an_unknown_call_is_gone(clock: FixedClock) -> None:
    h = Harness(clock)
    await h.setup()
    result = await h.process(ProcessCallCommand("acme", "CALnope", "w1"))
    assert result.outcome is Outcome.GONE


async def test_an_unexpected_error_is_retried_without_its_message(clock: FixedClock) -> None:
    class BrokenSource(InMemoryRecordingSource):
        async def open(self, tenant: Tenant, call: Call) -> Download:
            raise ValueError("https://x/?access_key=SECRET-KEY")

    h = Harness(clock, recordings=BrokenSource())
    await h.setup()
    result = await h.run()
    assert result.outcome is Outcome.RETRY
    call = await h.call()
    assert call.failure is not None
    assert "SECRET-KEY" not in call.failure.reason
    assert call.failure.reason == "unexpected ValueError"


class RateLimitedSource(InMemoryRecordingSource):
    def __init__(self, hint_s: float):
        super().__init__({"CALc1": b"ID3 mp3"})
        self.hint_s = hint_s

    async def open(self, tenant: Tenant, call: Call) -> Download:
        raise RateLimited("daily API limit reached", self.hint_s)


async def test_a_rate_limit_waits_as_long_as_asked_without_spending_attempts(
    clock: FixedClock,
) -> None:
    h = Harness(clock, recordings=RateLimitedSource(hint_s=6 * 3600), max_attempts=2)
    await h.setup()
    for _ in range(5):  # more deliveries than max_attempts: none of them counts
        result = await h.run()
        assert result.outcome is Outcome.RETRY
        assert result.retry_after_s == 6 * 3600
        clock.advance(6 * 3600)
    call = await h.call()
    assert call.stage is Stage.RECEIVED
    assert call.attempts == 0
    assert call.failure is not None
    assert "daily API limit" in call.failure.reason


async def test_a_rate_limit_that_never_lifts_ends_in_failed(clock: FixedClock) -> None:
    h = Harness(clock, recordings=RateLimitedSource(hint_s=86400))
    await h.setup()
    clock.advance(8 * 86400)
    result = await h.run()
    assert result.outcome is Outcome.FAILED
    call = await h.call()
    assert call.failure is not None
    assert "still rate limited after 7 days" in call.failure.reason
