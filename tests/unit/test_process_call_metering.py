"""What ProcessCall meters: usage per tenant per day, saved with the stage that consumed it
(and never twice when a delivery is repeated), and the operational metrics it emits."""

from __future__ import annotations

from datetime import date

from adapters.memory.fakes import (
    FixedClock,
    InMemoryCrmGateway,
    InMemoryCrmGatewayFactory,
    ScriptedCallAnalyzer,
)
from adapters.memory.metrics import RecordedMetrics
from domain.crm import CrmContact
from domain.errors import PermanentFailure, TransientFailure
from domain.results import CallAnalysis, Intent, StoredRecording, SyncStatus, Tier, Transcript
from domain.retry import RetryPolicy
from domain.stages import PIPELINE, Stage
from domain.transcription_hint import TranscriptionHint
from domain.usage import DailyUsage, UsageDelta
from domain.usecases.processing import Outcome, ProcessCall
from tests.unit.test_process_call import CountingTranscriber, Harness, MissingRecordingSource

RECORDING = b"ID3 mp3"  # the Harness's recording: 7 bytes
TOKENS = UsageDelta(llm_tokens_in=1_200, llm_tokens_out=300)


class TimedTranscriber(CountingTranscriber):
    """Reports the audio's length, as the real transcribers do; fails the first `failures`."""

    def __init__(self, failures: int = 0):
        super().__init__("my furnace is out")
        self.failures = failures

    async def transcribe(
        self,
        recording: StoredRecording,
        language: str = "en-US",
        hint: TranscriptionHint | None = None,
        ticket: str | None = None,
    ) -> Transcript:
        if self.failures:
            self.failures -= 1
            raise TransientFailure("speech service answered 503")
        transcript = await super().transcribe(recording, language, hint)
        return Transcript(
            transcript.engine, language, transcript.text, transcript.segments, False, 42.25
        )


class FlakyCrm(InMemoryCrmGateway):
    """Answers the lookup, then refuses the contact: transiently `failures` times, or for good."""

    def __init__(self, failures: int = 0, permanent: bool = False):
        super().__init__("hubspot")
        self.failures = failures
        self.permanent = permanent

    async def upsert_contact(self, contact: CrmContact) -> str:
        if self.permanent:
            self.requests += 1
            raise PermanentFailure("hubspot rejected the token")
        if self.failures:
            self.failures -= 1
            self.requests += 1
            raise TransientFailure("hubspot answered 503")
        return await super().upsert_contact(contact)


def metered(
    h: Harness, clock: FixedClock, crm: InMemoryCrmGateway | None = None
) -> RecordedMetrics:
    """Rewires the harness's ProcessCall with a tokens-reporting analyzer and recorded metrics."""
    metrics = RecordedMetrics()
    analysis = CallAnalysis("scripted", "furnace out", Intent.NEW_SERVICE_REQUEST, usage=TOKENS)
    gateway = crm or h.crm_gateway
    h.crm_gateway = gateway
    h.process = ProcessCall(
        h.uow,
        h.recordings,
        h.audio,
        h.transcriber,
        ScriptedCallAnalyzer(analysis),
        InMemoryCrmGatewayFactory(gateway),
        clock,
        RetryPolicy(max_attempts=3, base_delay_s=2),
        lease_s=60,
        metrics=metrics,
    )
    return metrics


async def usage(h: Harness) -> list[DailyUsage]:
    async with h.uow(read_only=True) as uow:
        return list(await uow.usage.for_tenant("acme", date(2026, 1, 1)))


async def test_a_processed_call_meters_every_resource_on_its_day(clock: FixedClock) -> None:
    h = Harness(clock, transcriber=TimedTranscriber())
    metered(h, clock)
    await h.setup()

    assert (await h.run()).outcome is Outcome.DONE

    # find_activity, upsert_contact, create_activity: three CRM requests.
    expected = UsageDelta(42.25, 1_200, 300, 3, len(RECORDING))
    assert await usage(h) == [DailyUsage(clock.now().date(), expected)]
    call = await h.call()
    assert not call.unsaved_usage


async def test_a_redelivery_meters_only_the_work_it_does(clock: FixedClock) -> None:
    h = Harness(clock, transcriber=TimedTranscriber(failures=1))
    metered(h, clock)
    await h.setup()

    assert (await h.run()).outcome is Outcome.RETRY  # recording stored, transcription failed
    [first] = await usage(h)
    assert first.totals == UsageDelta(stored_bytes=len(RECORDING))

    clock.advance(86400)  # delivered again the next day
    assert (await h.run()).outcome is Outcome.DONE
    assert await usage(h) == [
        first,
        DailyUsage(clock.now().date(), UsageDelta(42.25, 1_200, 300, 3, 0)),
    ]


async def test_crm_requests_of_a_failed_sync_attempt_still_count(clock: FixedClock) -> None:
    h = Harness(clock, transcriber=TimedTranscriber())
    metrics = metered(h, clock, FlakyCrm(failures=1))
    await h.setup()

    assert (await h.run()).outcome is Outcome.RETRY
    [day] = await usage(h)
    assert day.totals.crm_api_calls == 2  # the lookup and the refused contact
    assert ("crm", "hubspot", SyncStatus.PENDING) in metrics.events
    assert ("retry", Stage.SYNCED, "transient") in metrics.events

    assert (await h.run()).outcome is Outcome.DONE
    [day] = await usage(h)
    assert day.totals.crm_api_calls == 5
    assert metrics.events[-4:] == [
        ("stage", Stage.SYNCED, False),
        ("crm", "hubspot", SyncStatus.SUCCESS),
        ("stage", Stage.COMPLETED, False),
        ("completed",),  # webhook to COMPLETED, once
    ]


async def test_a_completed_call_reports_each_stage_its_tier_and_its_sync(
    clock: FixedClock,
) -> None:
    h = Harness(clock)
    metrics = metered(h, clock)
    await h.setup()

    await h.run()

    stages = [e[1] for e in metrics.events if e[0] == "stage"]
    assert stages == list(PIPELINE[1:])
    call = await h.call()
    assert call.lead_score is not None
    assert ("tier", call.lead_score.tier) in metrics.events
    assert ("score", call.lead_score.score) in metrics.events
    assert isinstance(call.lead_score.tier, Tier)
    assert ("crm", "hubspot", SyncStatus.SUCCESS) in metrics.events
    assert not [e for e in metrics.events if e[0] in ("retry", "dead_end")]


async def test_a_skipped_sync_is_reported_as_skipped(clock: FixedClock) -> None:
    h = Harness(clock)
    metrics = metered(h, clock)
    await h.setup(crm="none")

    await h.run()

    assert ("stage", Stage.SYNCED, True) in metrics.events
    assert ("crm", "none", SyncStatus.SKIPPED) in metrics.events


async def test_a_dead_end_is_reported_at_its_stage(clock: FixedClock) -> None:
    h = Harness(clock, recordings=MissingRecordingSource())
    metrics = metered(h, clock)
    await h.setup()

    assert (await h.run()).outcome is Outcome.FAILED

    assert metrics.events == [("dead_end", Stage.RECORDING_STORED)]
    assert await usage(h) == []


async def test_a_refused_sync_is_a_failed_crm_outcome_and_a_dead_end(clock: FixedClock) -> None:
    h = Harness(clock)
    metrics = metered(h, clock, FlakyCrm(permanent=True))
    await h.setup()

    assert (await h.run()).outcome is Outcome.FAILED

    assert metrics.events[-2:] == [
        ("dead_end", Stage.SYNCED),
        ("crm", "hubspot", SyncStatus.FAILED),
    ]
    [day] = await usage(h)
    assert day.totals.crm_api_calls == 2
