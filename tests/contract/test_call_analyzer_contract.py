"""The CallAnalyzer contract, run against every adapter of it.

Whatever the engine (rules, the scripted fake, Gemini and an OpenAI-compatible server through
their stand-ins), the pipeline stores and scores what it returns: a CallAnalysis with valid
enums and at most 8 key phrases, for any transcript a call can produce, including none at all
and a very long one.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator

import pytest
from google.oauth2.credentials import Credentials

from adapters.memory.fakes import ScriptedCallAnalyzer
from adapters.openai.analyzer import OpenAiCallAnalyzer
from adapters.rules.analyzer import RulesCallAnalyzer
from adapters.vertex.analyzer import VertexCallAnalyzer
from domain.call import CallMetadata
from domain.results import CallAnalysis, Intent, Segment, Sentiment, Transcript, Urgency
from domain.tenant import AiConfig
from entrypoints.standins import serve
from entrypoints.standins.openai import FakeOpenAi
from entrypoints.standins.vertex import FakeVertex
from ports.analysis import CallAnalyzer

AI = AiConfig(business_context="HVAC contractor: furnace repair, AC installation.")
ANSWERED = CallMetadata(caller="+13035550142", duration_s=95, answered=True, first_call=True)
MISSED = CallMetadata(caller="+13035550142", duration_s=0, answered=False)
SERVICE_CALL = Transcript(
    "whisper-tiny.en",
    "en-US",
    "comfort heating how can i help my furnas stopped working and we have no heat",
    (
        Segment("agent", 0.0, 2.0, "comfort heating how can i help"),
        Segment("caller", 2.0, 6.0, "my furnas stopped working and we have no heat"),
    ),
)
LONG_CALL_WORDS = 30_000


@pytest.fixture(params=["rules", "scripted", "vertex", "openai"])
async def analyzer(request: pytest.FixtureRequest) -> AsyncIterator[CallAnalyzer]:
    if request.param == "rules":
        yield RulesCallAnalyzer()
        return
    if request.param == "vertex":
        # Gemini through google-genai against the Vertex AI stand-in, rules as its fallback.
        async with serve(FakeVertex().app()) as url:
            vertex = VertexCallAnalyzer(
                RulesCallAnalyzer(),
                project="contract-project",
                credentials=Credentials(token="test"),  # type: ignore[no-untyped-call]
                base_url=url + "/",
            )
            try:
                yield vertex
            finally:
                await vertex.aclose()
        return
    if request.param == "openai":
        # Chat completions against the OpenAI-compatible stand-in, rules as its fallback.
        async with serve(FakeOpenAi().app()) as url:
            openai = OpenAiCallAnalyzer(
                RulesCallAnalyzer(), base_url=url, model="llama3.2", http_hosts=("127.0.0.1",)
            )
            try:
                yield openai
            finally:
                await openai.aclose()
        return
    yield ScriptedCallAnalyzer(
        CallAnalysis(
            engine="scripted",
            summary="furnace out",
            intent=Intent.NEW_SERVICE_REQUEST,
            key_phrases=("furnace", "no heat"),
        )
    )


def assert_well_formed(analysis: CallAnalysis) -> None:
    assert isinstance(analysis, CallAnalysis)
    assert isinstance(analysis.engine, str)
    assert analysis.engine
    assert isinstance(analysis.summary, str)
    assert analysis.intent in set(Intent)
    assert analysis.sentiment in set(Sentiment)
    assert analysis.urgency in set(Urgency)
    assert isinstance(analysis.key_phrases, tuple)
    assert len(analysis.key_phrases) <= 8
    assert all(isinstance(p, str) and p for p in analysis.key_phrases)


async def test_a_service_call_gives_a_well_formed_analysis(analyzer: CallAnalyzer) -> None:
    assert_well_formed(await analyzer.analyze(SERVICE_CALL, ANSWERED, AI))


async def test_a_missed_call_without_transcript_is_analysed(analyzer: CallAnalyzer) -> None:
    assert_well_formed(await analyzer.analyze(None, MISSED, AI))


async def test_an_empty_transcript_is_analysed(analyzer: CallAnalyzer) -> None:
    empty = Transcript("whisper-tiny.en", "en-US", "")
    assert_well_formed(await analyzer.analyze(empty, ANSWERED, AI))


async def test_a_transcript_of_only_segments_is_analysed(analyzer: CallAnalyzer) -> None:
    segments_only = Transcript("google-chirp_3", "en-US", "", SERVICE_CALL.segments)
    assert_well_formed(await analyzer.analyze(segments_only, ANSWERED, AI))


async def test_a_30000_word_transcript_is_analysed_in_reasonable_time(
    analyzer: CallAnalyzer,
) -> None:
    sentence = re.findall(
        r"\[REDACTED CARD\]|\S+",
        "yeah so um the furnace is making a clicking noise again and it's 4111 [REDACTED CARD]"
        " no heat since tuesday how much would a repair cost this is frustrating",
    )
    words = (sentence * (LONG_CALL_WORDS // len(sentence) + 1))[:LONG_CALL_WORDS]
    segments = tuple(
        Segment("caller" if i % 2 else "agent", float(i), float(i) + 0.9, " ".join(chunk))
        for i, chunk in enumerate(words[n : n + 40] for n in range(0, len(words), 40))
    )
    transcript = Transcript("whisper-tiny.en", "en-US", " ".join(words), segments)
    started = time.perf_counter()
    analysis = await analyzer.analyze(transcript, ANSWERED, AI)
    assert time.perf_counter() - started < 20, "an hour-long call must not stall the worker"
    assert_well_formed(analysis)


async def test_the_same_call_gives_the_same_analysis(analyzer: CallAnalyzer) -> None:
    first = await analyzer.analyze(SERVICE_CALL, ANSWERED, AI)
    assert await analyzer.analyze(SERVICE_CALL, ANSWERED, AI) == first
