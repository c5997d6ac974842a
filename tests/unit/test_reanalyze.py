"""ReanalyzeCalls on the in-memory stores and the real ProcessCall: a call an earlier run left
FAILED is tried again and counted by what happens to it this time; calls done earlier with the
same settings (`already`) and calls never completed (`skipped`) are counted apart."""

from __future__ import annotations

import json

import pytest

from adapters.memory.fakes import (
    FixedClock,
    InMemoryAudioStore,
    InMemoryCrmGateway,
    InMemoryCrmGatewayFactory,
    InMemoryJobQueue,
    InMemoryRecordingSource,
    ScriptedCallAnalyzer,
    ScriptedTranscriber,
    SequentialIds,
)
from adapters.memory.repositories import InMemoryUnitOfWorkFactory
from domain.call import Call, CallMetadata
from domain.errors import PermanentFailure
from domain.results import CallAnalysis, Intent, Transcript
from domain.retry import RetryPolicy
from domain.stages import Stage
from domain.tenant import AiConfig, parse_tenant
from domain.usecases.processing import Outcome, ProcessCall, ProcessCallCommand
from domain.usecases.reanalyze import ReanalyzeCalls, ReanalyzeCommand, ReanalyzeReport
from domain.webhook import parse_incoming_call
from tests.support import callrail_body, tenant_document

CALLS = ("CALc1", "CALc2", "CALc3")
WAITING = "CALc4"  # received, never processed


class RefusingAnalyzer(ScriptedCallAnalyzer):
    """An LLM that refuses the calls named in `refused`, permanently, as a model does a
    prompt it will not answer; counts what it is asked."""

    def __init__(self) -> None:
        super().__init__(
            CallAnalysis(engine="scripted", summary="furnace out", intent=Intent.OTHER)
        )
        self.refused: set[str] = set()
        self.asked: list[str] = []

    async def analyze(
        self, transcript: Transcript | None, metadata: CallMetadata, ai: AiConfig
    ) -> CallAnalysis:
        self.asked.append(metadata.caller or "")
        if metadata.caller in self.refused:
            raise PermanentFailure("the model refused to answer")
        return await super().analyze(transcript, metadata, ai)


class World:
    def __init__(self, clock: FixedClock):
        self.clock = clock
        self.uow = InMemoryUnitOfWorkFactory()
        self.analyzer = RefusingAnalyzer()
        self.crm = InMemoryCrmGateway("hubspot")
        self.transcriber = ScriptedTranscriber()
        self.process = ProcessCall(
            self.uow,
            InMemoryRecordingSource({c: b"ID3 mp3" for c in (*CALLS, WAITING)}),
            InMemoryAudioStore(),
            self.transcriber,
            self.analyzer,
            InMemoryCrmGatewayFactory(self.crm),
            clock,
            RetryPolicy(max_attempts=3, base_delay_s=0.01),
        )
        self.reanalyze = ReanalyzeCalls(
            self.uow, self.process, InMemoryJobQueue(), clock, SequentialIds()
        )
        self.phones: dict[str, str] = {}

    async def setup(self) -> None:
        """Three completed calls and one still waiting for its first run."""
        document = tenant_document()
        document["config"]["crm_config"] = {"type": "hubspot"}
        async with self.uow() as uow:
            await uow.tenants.add(parse_tenant(document, self.clock.now()))
            for n, call_id in enumerate((*CALLS, WAITING), start=1):
                phone = f"+1303555000{n}"
                body = callrail_body(call_id[3:], customer_phone_number=phone)
                call = Call.receive("acme", parse_incoming_call(json.loads(body)), self.clock.now())
                self.phones[call.call_id] = call.metadata.caller or ""
                await uow.calls.add(call)
                self.clock.advance(60)  # listed oldest first
            await uow.commit()
        for call_id in CALLS:
            result = await self.process(ProcessCallCommand("acme", call_id, "worker-1"))
            assert result.outcome is Outcome.DONE, result

    def refuse(self, *call_ids: str) -> None:
        self.analyzer.refused = {self.phones[c] for c in call_ids}

    async def run(self, stage: Stage = Stage.ANALYZED) -> tuple[ReanalyzeReport, list[str]]:
        lines: list[str] = []
        report = await self.reanalyze(ReanalyzeCommand("acme", from_stage=stage), lines.append)
        return report, lines

    async def call(self, call_id: str) -> Call:
        async with self.uow(read_only=True) as uow:
            call = await uow.calls.get("acme", call_id)
        assert call is not None
        return call


@pytest.fixture
async def world(clock: FixedClock) -> World:
    w = World(clock)
    await w.setup()
    return w


def counts(report: ReanalyzeReport) -> tuple[int, int, int, int, list[str]]:
    return (
        report.done,
        report.already,
        report.skipped,
        report.queued,
        [call_id for call_id, _ in report.failed],
    )


async def test_a_call_whose_rerun_failed_is_tried_again_and_completes(world: World) -> None:
    world.refuse("CALc2")
    first, _ = await world.run()
    assert (first.done, first.failed) == (2, (("CALc2", "ANALYZED: the model refused to answer"),))
    assert (await world.call("CALc2")).stage is Stage.FAILED

    world.refuse()  # the operator fixed the cause (a key, a prompt) and runs the same again
    asked = len(world.analyzer.asked)
    second, lines = await world.run()

    assert world.analyzer.asked[asked:] == [world.phones["CALc2"]]  # analysed again, alone
    call = await world.call("CALc2")
    assert call.stage is Stage.COMPLETED
    assert call.failure is None
    assert call.analysis is not None
    assert call.lead_score is not None
    assert len(world.crm.activities) == 3  # its CRM activity made once, at its first run
    assert len(world.transcriber.hints) == 3  # nothing transcribed again
    assert counts(second) == (1, 2, 1, 0, [])
    assert lines == [
        "1/4 CALc1: already reanalysed with these settings",
        "2/4 CALc2: done",
        "3/4 CALc3: already reanalysed with these settings",
        f"4/4 {WAITING}: skipped, RECEIVED (not completed)",
    ]

    third, _ = await world.run()
    assert counts(third) == (0, 3, 1, 0, [])


async def test_a_retry_that_fails_again_counts_as_failed_not_done(world: World) -> None:
    world.refuse("CALc2")
    await world.run()
    asked = len(world.analyzer.asked)

    again, lines = await world.run()  # the cause not fixed yet

    assert world.analyzer.asked[asked:] == [world.phones["CALc2"]]  # it was tried, not assumed
    assert lines[1] == "2/4 CALc2: failed at ANALYZED"
    assert counts(again) == (0, 2, 1, 0, ["CALc2"])
    assert again.failed == (("CALc2", "ANALYZED: the model refused to answer"),)
    assert (await world.call("CALc2")).stage is Stage.FAILED


async def test_a_failed_call_with_nothing_to_redo_from_the_stage_is_skipped_with_the_reason(
    world: World,
) -> None:
    world.refuse("CALc2")
    await world.run(Stage.ANALYZED)  # CALc2 FAILED at ANALYZED: it has no analysis
    world.refuse()

    report, lines = await world.run(Stage.SCORED)

    assert counts(report) == (2, 0, 2, 0, [])
    assert lines[1] == "2/4 CALc2: skipped, FAILED at ANALYZED, before SCORED: nothing to reanalyse"
    assert lines[3] == f"4/4 {WAITING}: skipped, RECEIVED (not completed)"
    assert (await world.call("CALc2")).stage is Stage.FAILED


async def test_a_call_that_failed_on_its_first_run_is_skipped_not_reanalysed(
    world: World,
) -> None:
    world.refuse(WAITING)
    failed = await world.process(ProcessCallCommand("acme", WAITING, "worker-1"))
    assert failed.outcome is Outcome.FAILED
    world.refuse()

    report, lines = await world.run()

    assert counts(report) == (3, 0, 1, 0, [])
    assert lines[3] == f"4/4 {WAITING}: skipped, FAILED (not completed)"
    assert (await world.call(WAITING)).stage is Stage.FAILED
