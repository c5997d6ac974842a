"""`calls reanalyze` (ReanalyzeCalls) over 50 calls after the tenant adds custom questions: the
real HubSpot adapter against the HubSpot stand-in, the OpenAI-compatible analyzer against the
chat-completions stand-in, in-memory stores. Each call's CRM activity is updated in place once
(50 creates, then 50 updates, never a 51st create), nothing is transcribed again, the answers
reach the activity's body and the mapped property, and a run stopped half-way resumes where it
stopped."""

from __future__ import annotations

import html
import json
from collections import Counter
from collections.abc import AsyncIterator

import aiohttp
import attrs
import pytest

from adapters.memory.fakes import (
    FixedClock,
    InMemoryAudioStore,
    InMemoryJobQueue,
    InMemoryRecordingSource,
    ScriptedTranscriber,
    SequentialIds,
)
from adapters.memory.repositories import InMemoryUnitOfWorkFactory
from adapters.openai.analyzer import OpenAiCallAnalyzer
from adapters.rules.analyzer import RulesCallAnalyzer
from domain.call import Call
from domain.retry import RetryPolicy
from domain.stages import Stage
from domain.tenant import apply_patch, parse_tenant
from domain.throttle import TokenBucket
from domain.usecases.llm_analysis import LlmPolicy
from domain.usecases.processing import Outcome, ProcessCall, ProcessCallCommand
from domain.usecases.reanalyze import ReanalyzeCalls, ReanalyzeCommand
from domain.webhook import parse_incoming_call
from entrypoints.standins import serve
from entrypoints.standins.hubspot import FakeHubSpot
from entrypoints.standins.openai import FakeOpenAi
from tests.integration.test_crm_sync_pipeline import TOKEN, StandInHubSpotFactory
from tests.integration.test_custom_questions import ANSWER, MODEL, TRANSCRIPT
from tests.support import callrail_body, tenant_document

CALLS = 50
QUESTIONS = [
    {"key": "budget", "question": "What budget did the caller mention?", "type": "number"},
    {"key": "fuel", "question": "Which fuel?", "type": "choice", "choices": ["gas", "oil"]},
]


class Stop(Exception):
    """An operator's Ctrl-C, half-way through a run."""


class World:
    def __init__(
        self, clock: FixedClock, hubspot_url: str, openai_url: str, http: aiohttp.ClientSession
    ):
        self.clock = clock
        self.uow = InMemoryUnitOfWorkFactory()
        self.transcriber = ScriptedTranscriber([TRANSCRIPT] * CALLS)
        self.recordings = InMemoryRecordingSource()
        self.analyzer = OpenAiCallAnalyzer(
            RulesCallAnalyzer(),
            base_url=openai_url + "/v1",
            model=MODEL,
            http_hosts=("127.0.0.1",),
            request_timeout_s=5.0,
            policy=LlmPolicy(backoff_base_s=0.01, backoff_cap_s=0.1, max_output_tokens=1024),
        )
        self.process = ProcessCall(
            self.uow,
            self.recordings,
            InMemoryAudioStore(),
            self.transcriber,
            self.analyzer,
            StandInHubSpotFactory(hubspot_url, http, TokenBucket(1000, 1000)),
            clock,
            RetryPolicy(max_attempts=3, base_delay_s=0.01),
        )
        self.reanalyze = ReanalyzeCalls(
            self.uow, self.process, InMemoryJobQueue(), clock, SequentialIds()
        )

    async def add_tenant(self) -> None:
        document = tenant_document("acme")
        document["config"]["crm_config"] = {"type": "hubspot", "access_token": TOKEN}
        document["config"]["ai_config"] = {"analysis_model": MODEL}
        async with self.uow() as uow:
            await uow.tenants.add(parse_tenant(document, self.clock.now()))
            await uow.commit()

    async def add_questions(self) -> None:
        patch = {
            "config": {
                "ai_config": {"questions": QUESTIONS},
                "crm_config": {"answer_property_map": {"budget": "budget_mentioned"}},
            }
        }
        async with self.uow() as uow:
            tenant = await uow.tenants.get("acme")
            assert tenant is not None
            await uow.tenants.update(apply_patch(tenant, patch, self.clock.now()))
            await uow.commit()

    async def add_call(self, n: int) -> str:
        body = callrail_body(f"{n:04d}", customer_phone_number=f"+1303555{n:04d}")
        call = Call.receive("acme", parse_incoming_call(json.loads(body)), self.clock.now())
        self.recordings.recordings[call.call_id] = b"ID3 mp3 bytes of call %d" % n
        async with self.uow() as uow:
            await uow.calls.add(call)
            await uow.commit()
        self.clock.advance(60)  # received a minute apart: listed oldest first
        return call.call_id

    async def call(self, call_id: str) -> Call:
        async with self.uow(read_only=True) as uow:
            call = await uow.calls.get("acme", call_id)
        assert call is not None
        return call


@pytest.fixture
async def world(clock: FixedClock) -> AsyncIterator[tuple[World, FakeHubSpot, FakeOpenAi]]:
    hubspot = FakeHubSpot(token=TOKEN, call_properties={"callrail_call_key", "budget_mentioned"})
    model = FakeOpenAi(ANSWER, model=MODEL)
    async with (
        serve(hubspot.app()) as hubspot_url,
        serve(model.app()) as openai_url,
        aiohttp.ClientSession() as http,
    ):
        subject = World(clock, hubspot_url, openai_url, http)
        yield subject, hubspot, model
        await subject.analyzer.aclose()


async def activity_of(w: World, call_id: str) -> str:
    sync = (await w.call(call_id)).crm_sync
    assert sync is not None
    assert sync.activity_id is not None
    return sync.activity_id


def updates_per_call(hubspot: FakeHubSpot) -> Counter[str]:
    return Counter(
        r.path.rsplit("/", 1)[1]
        for r in hubspot.requests
        if r.method == "PATCH" and r.path.startswith("/crm/v3/objects/calls/")
    )


async def test_reanalyze_over_50_calls_updates_each_crm_record_once_and_resumes(
    world: tuple[World, FakeHubSpot, FakeOpenAi],
) -> None:
    w, hubspot, _ = world
    await w.add_tenant()
    call_ids = [await w.add_call(n) for n in range(CALLS)]
    for call_id in call_ids:
        result = await w.process(ProcessCallCommand("acme", call_id, "worker-1"))
        assert result.outcome is Outcome.DONE, result
    assert (hubspot.call_creates, hubspot.call_updates) == (CALLS, 0)
    first_activity = {c: await activity_of(w, c) for c in call_ids}
    assert all("Answers:" not in hubspot.calls[a]["hs_call_body"] for a in first_activity.values())

    await w.add_questions()
    lines: list[str] = []

    def stop_after_20(line: str) -> None:
        lines.append(line)
        if len(lines) == 20:
            raise Stop

    with pytest.raises(Stop):
        await w.reanalyze(ReanalyzeCommand("acme"), stop_after_20)
    assert lines[0] == f"1/{CALLS} {call_ids[0]}: done"
    assert hubspot.call_updates == 20

    lines.clear()
    report = await w.reanalyze(ReanalyzeCommand("acme"), lines.append)

    assert (report.done, report.already, report.skipped, report.queued, report.failed) == (
        30,
        20,
        0,
        0,
        (),
    )
    assert lines[0] == f"1/{CALLS} {call_ids[0]}: already reanalysed with these settings"
    assert lines[-1] == f"{CALLS}/{CALLS} {call_ids[-1]}: done"
    # One create and one in-place update for each call's activity; nothing transcribed again.
    assert (hubspot.call_creates, hubspot.call_updates) == (CALLS, CALLS)
    assert updates_per_call(hubspot) == Counter({a: 1 for a in first_activity.values()})
    assert len(hubspot.calls) == CALLS
    assert len(w.transcriber.hints) == CALLS
    for call_id in call_ids:
        call = await w.call(call_id)
        assert call.stage is Stage.COMPLETED
        assert call.crm_sync is not None
        assert call.crm_sync.activity_id == first_activity[call_id]
        assert call.analysis is not None
        assert call.analysis.answers_by_key() == {"budget": 5000.0, "fuel": "gas"}
        properties = hubspot.calls[first_activity[call_id]]
        body = html.unescape(properties["hs_call_body"])
        assert "Answers:<br>  budget: 5000<br>  fuel: gas" in body
        assert (
            '+30 intent: the caller asked for new service — "My gas furnace stopped working"'
            in body
        )
        assert properties["budget_mentioned"] == "5000"

    # The same settings again: nothing to do, nothing sent.
    sent = len(hubspot.requests)
    again = await w.reanalyze(ReanalyzeCommand("acme"))
    assert (again.done, again.already, again.skipped) == (0, CALLS, 0)
    assert len(hubspot.requests) == sent


async def test_reanalyze_from_scored_keeps_the_analysis_and_refuses_earlier_stages(
    world: tuple[World, FakeHubSpot, FakeOpenAi],
) -> None:
    w, hubspot, model = world
    await w.add_tenant()
    call_id = await w.add_call(1)
    await w.process(ProcessCallCommand("acme", call_id, "worker-1"))
    analysed = (await w.call(call_id)).analysis

    asked = len(model.completions)

    report = await w.reanalyze(ReanalyzeCommand("acme", from_stage=Stage.SCORED))

    assert report.done == 1
    assert len(model.completions) == asked  # scored again from the analysis kept
    call = await w.call(call_id)
    assert call.analysis == analysed
    assert (hubspot.call_creates, hubspot.call_updates) == (1, 1)
    with pytest.raises(Exception, match="from_stage"):
        await w.reanalyze(attrs.evolve(ReanalyzeCommand("acme"), from_stage=Stage.TRANSCRIBED))
