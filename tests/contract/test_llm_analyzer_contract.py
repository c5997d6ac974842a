"""The LLM-analysis core (domain.usecases.llm_analysis), run through every transport of the
StructuredModel port against its stand-in on 127.0.0.1: Gemini on Vertex AI (google-genai) and
any OpenAI-compatible server (aiohttp). The same answers, failures and limits give the same
analyses, engine labels, request counts and token metering whichever server is behind.
What only one transport has (its request's shape, a safety block, Retry-After, timeouts, an API
key) is in tests/integration/test_vertex_analyzer.py and test_openai_analyzer.py."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest

from domain.call import CallMetadata
from domain.codec import analysis_to_dict
from domain.llm import TokenUsage
from domain.results import Intent, Segment, Sentiment, Transcript, Urgency
from domain.usage import UsageDelta
from domain.usecases.llm_analysis import LlmCallAnalyzer
from entrypoints.standins import RecordedRequest, serve
from entrypoints.standins.openai import FakeOpenAi
from entrypoints.standins.vertex import DEFAULT_ANSWER, FakeVertex
from tests.integration.test_openai_analyzer import openai_analyzer
from tests.integration.test_vertex_analyzer import (
    AI,
    CALLER,
    METADATA,
    TRANSCRIPT,
    vertex_analyzer,
)


@attrs.frozen
class Stack:
    name: str  # "vertex" or "openai": the transport's name in engine labels
    model: str
    analyzer: LlmCallAnalyzer
    fake: Any  # FakeVertex or FakeOpenAi: the same switches
    usages: list[TokenUsage]

    @property
    def requests(self) -> list[RecordedRequest]:
        if isinstance(self.fake, FakeVertex):
            return self.fake.generate_requests
        completions: list[RecordedRequest] = self.fake.completions
        return completions

    @property
    def engine(self) -> str:
        return f"{self.name}:{self.model}"


@pytest.fixture(params=["vertex", "openai"])
async def stack(request: pytest.FixtureRequest) -> AsyncIterator[Stack]:
    usages: list[TokenUsage] = []
    fake = FakeVertex() if request.param == "vertex" else FakeOpenAi(model="llama3.2")
    async with serve(fake.app()) as url:
        if request.param == "vertex":
            analyzer: LlmCallAnalyzer = vertex_analyzer(url, on_usage=usages.append)
        else:
            analyzer = openai_analyzer(url, on_usage=usages.append)
        model = AI.analysis_model if request.param == "vertex" else "llama3.2"
        try:
            yield Stack(request.param, model, analyzer, fake, usages)
        finally:
            await analyzer.aclose()


async def test_a_valid_answer_is_the_analysis_with_its_token_counts(stack: Stack) -> None:
    analysis = await stack.analyzer.analyze(TRANSCRIPT, METADATA, AI)

    assert analysis.engine == stack.engine
    assert analysis.intent is Intent.NEW_SERVICE_REQUEST
    assert analysis.urgency is Urgency.HIGH
    assert analysis.sentiment is Sentiment.NEUTRAL
    assert analysis.summary == DEFAULT_ANSWER["summary"]
    assert analysis.service_requested == "furnace repair"
    assert analysis.key_phrases == ("furnace stopped working", "no heat")
    assert len(stack.requests) == 1
    usage = stack.analyzer.last_usage
    assert usage is not None
    assert usage.model == stack.model
    assert usage.prompt_tokens > 0
    assert usage.output_tokens == -(-len(json.dumps(DEFAULT_ANSWER)) // 4)
    assert usage.total_tokens == usage.prompt_tokens + usage.output_tokens
    assert usage.responses == 1
    assert stack.usages == [usage]
    # What the pipeline meters, carried by the analysis (not part of its JSON).
    assert analysis.usage == UsageDelta(
        llm_tokens_in=usage.prompt_tokens, llm_tokens_out=usage.output_tokens
    )
    assert "usage" not in (analysis_to_dict(analysis) or {})


async def test_malformed_json_is_asked_again_once_then_the_rules_answer(stack: Stack) -> None:
    stack.fake.always = "malformed"

    analysis = await stack.analyzer.analyze(TRANSCRIPT, METADATA, AI)

    assert analysis.engine == f"rules ({stack.name} fallback: invalid output)"
    assert analysis.intent in set(Intent)
    assert len(stack.requests) == 2
    usage = stack.analyzer.last_usage
    assert usage is not None
    assert usage.responses == 2  # the rejected answers cost tokens too
    assert analysis.usage.llm_tokens_in == usage.prompt_tokens > 0
    assert analysis.usage.llm_tokens_out == usage.output_tokens > 0


async def test_one_malformed_answer_then_a_valid_one_is_the_analysis(stack: Stack) -> None:
    stack.fake.malformed_next(1)

    analysis = await stack.analyzer.analyze(TRANSCRIPT, METADATA, AI)

    assert analysis.engine == stack.engine
    assert len(stack.requests) == 2


async def test_429_then_success_is_the_analysis_after_a_bounded_number_of_requests(
    stack: Stack,
) -> None:
    stack.fake.throttle_next(2)

    analysis = await stack.analyzer.analyze(TRANSCRIPT, METADATA, AI)

    assert analysis.engine == stack.engine
    assert len(stack.requests) == 3


@pytest.mark.parametrize("status", [500, 503])
async def test_5xx_every_time_falls_back_after_bounded_retries(stack: Stack, status: int) -> None:
    stack.fake.always = status

    analysis = await stack.analyzer.analyze(TRANSCRIPT, METADATA, AI)

    assert analysis.engine == f"rules ({stack.name} fallback: HTTP {status})"
    assert len(stack.requests) == 3
    assert stack.analyzer.last_usage is None  # no answer, no tokens
    assert not analysis.usage


async def test_a_503_then_success_is_the_analysis(stack: Stack) -> None:
    stack.fake.fail_next(1, status=503)

    analysis = await stack.analyzer.analyze(TRANSCRIPT, METADATA, AI)

    assert analysis.engine == stack.engine
    assert len(stack.requests) == 2


async def test_429_every_time_falls_back_as_rate_limited(stack: Stack) -> None:
    stack.fake.always = 429

    analysis = await stack.analyzer.analyze(TRANSCRIPT, METADATA, AI)

    assert analysis.engine == f"rules ({stack.name} fallback: rate limited (HTTP 429))"
    assert len(stack.requests) == 3


@pytest.mark.parametrize("status", [400, 403, 404])
async def test_a_4xx_falls_back_without_retrying(stack: Stack, status: int) -> None:
    stack.fake.fail_next(1, status=status)

    analysis = await stack.analyzer.analyze(TRANSCRIPT, METADATA, AI)

    assert analysis.engine == f"rules ({stack.name} fallback: HTTP {status})"
    assert len(stack.requests) == 1


async def test_a_call_without_speech_goes_to_the_fallback_without_a_request(
    stack: Stack,
) -> None:
    analysis = await stack.analyzer.analyze(None, CallMetadata(caller=CALLER, answered=False), AI)

    assert analysis.engine == f"rules ({stack.name} skipped: no speech)"
    assert stack.requests == []
    assert stack.analyzer.last_usage is None


async def test_the_answer_is_validated_before_use(stack: Stack) -> None:
    stack.fake.answer = {
        **DEFAULT_ANSWER,
        "intent": " SPAM ",
        "summary": "  word " * 200,
        "caller_name": "   ",
        "caller_email": "g palmer 76 at yahoo dot com",
        "key_phrases": [f"phrase {n}" for n in range(12)] + ["phrase 1", 7],
        "lead_score": 100,  # not ours to take
    }

    analysis = await stack.analyzer.analyze(TRANSCRIPT, METADATA, AI)

    assert analysis.engine == stack.engine
    assert analysis.intent is Intent.SPAM
    assert len(analysis.summary) <= 500
    assert analysis.summary.endswith("\u2026")
    assert analysis.caller_name is None
    assert analysis.caller_email is None  # not an address: dropped, never a wrong one
    assert analysis.key_phrases == tuple(f"phrase {n}" for n in range(8))


@pytest.mark.parametrize(
    ("field", "value"),
    [("intent", "hot_lead"), ("is_spam", "yes"), ("key_phrases", "furnace"), ("summary", "")],
)
async def test_a_schema_invalid_answer_counts_as_malformed(
    stack: Stack, field: str, value: Any
) -> None:
    stack.fake.answer = {**DEFAULT_ANSWER, field: value}

    analysis = await stack.analyzer.analyze(TRANSCRIPT, METADATA, AI)

    assert analysis.engine == f"rules ({stack.name} fallback: invalid output)"
    assert len(stack.requests) == 2


async def test_contact_details_are_what_the_caller_said_never_what_the_model_wrote(
    stack: Stack,
) -> None:
    """A well-formed address no one spelled out is still a wrong one in the CRM."""
    stack.fake.answer = {
        **DEFAULT_ANSWER,
        "caller_name": "Direct",
        "caller_email": "jane@comfortheating.com",
    }
    spoken = Transcript(
        "whisper-tiny.en",
        "en-US",
        "comfort heating can i get your name. it's dana reyes. my furnace stopped working",
        (
            Segment("agent", 0.0, 2.0, "comfort heating can i get your name"),
            Segment("caller", 2.0, 6.0, "it's dana reyes. my furnace stopped working"),
        ),
    )

    analysis = await stack.analyzer.analyze(spoken, METADATA, AI)

    assert analysis.engine == stack.engine  # the model's analysis, but not its contact details
    assert analysis.caller_email is None
    assert analysis.caller_name == "Dana Reyes"
