"""VertexCallAnalyzer through google-genai against the Vertex AI stand-in on 127.0.0.1: a valid
answer with its token counts, malformed JSON, 429 then success, 500 every time, a safety block,
a 4xx, a late answer, and what the request carries (and does not)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from google.oauth2.credentials import Credentials

from adapters.rules.analyzer import RulesCallAnalyzer
from adapters.vertex.analyzer import TokenUsage, VertexCallAnalyzer
from domain.call import CallMetadata
from domain.codec import analysis_to_dict
from domain.results import Intent, Segment, Sentiment, Transcript, Urgency
from domain.tenant import AiConfig
from domain.usage import UsageDelta
from entrypoints.standins import serve
from entrypoints.standins.vertex import DEFAULT_ANSWER, FakeVertex

MODEL = "gemini-2.5-flash"
CALLER = "+13035550142"
AI = AiConfig(
    analysis_model=MODEL,
    business_context="Comfort Heating: furnace repair and AC installation in Denver.",
)
METADATA = CallMetadata(
    caller=CALLER,
    caller_name="JANE DOE",
    duration_s=95,
    answered=True,
    first_call=True,
    source="Google Ads",
    tracking_number="+17205550100",
    business_number="+13035550199",
)
TRANSCRIPT = Transcript(
    "google-chirp_3",
    "en-US",
    "comfort heating how can i help my furnace stopped working card [REDACTED CARD]",
    (
        Segment("1", 0.0, 2.0, "comfort heating how can i help"),
        Segment("2", 2.0, 6.0, "my furnace stopped working card [REDACTED CARD]"),
    ),
    redacted=True,
)
FAST = {
    "backoff_initial_s": 0.01,
    "backoff_max_s": 0.05,
    "request_timeout_s": 5.0,
}


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeVertex, str]]:
    vertex = FakeVertex()
    async with serve(vertex.app()) as url:
        yield vertex, url


@pytest.fixture
async def usages() -> list[TokenUsage]:
    return []


@pytest.fixture
async def analyzer(
    fake: tuple[FakeVertex, str], usages: list[TokenUsage]
) -> AsyncIterator[VertexCallAnalyzer]:
    _, url = fake
    subject = vertex_analyzer(url, on_usage=usages.append)
    yield subject
    await subject.aclose()


def vertex_analyzer(url: str, **options: Any) -> VertexCallAnalyzer:
    return VertexCallAnalyzer(
        RulesCallAnalyzer(),
        project="acme-project",
        location="us-central1",
        credentials=Credentials(token="test"),  # type: ignore[no-untyped-call]
        base_url=url + "/",
        **{**FAST, **options},
    )


async def test_a_valid_answer_is_the_analysis_with_its_token_counts(
    fake: tuple[FakeVertex, str], analyzer: VertexCallAnalyzer, usages: list[TokenUsage]
) -> None:
    vertex, _ = fake

    analysis = await analyzer.analyze(TRANSCRIPT, METADATA, AI)

    assert analysis.engine == f"vertex:{MODEL}"
    assert analysis.intent is Intent.NEW_SERVICE_REQUEST
    assert analysis.urgency is Urgency.HIGH
    assert analysis.sentiment is Sentiment.NEUTRAL
    assert analysis.summary == DEFAULT_ANSWER["summary"]
    assert analysis.service_requested == "furnace repair"
    assert analysis.key_phrases == ("furnace stopped working", "no heat")
    [request] = vertex.generate_requests
    assert request.path == (
        f"/v1beta1/projects/acme-project/locations/us-central1/publishers/google/models/"
        f"{MODEL}:generateContent"
    )
    usage = analyzer.last_usage
    assert usage is not None
    assert usage.model == MODEL
    assert usage.prompt_tokens > 0
    assert usage.output_tokens == -(-len(json.dumps(DEFAULT_ANSWER)) // 4)
    assert usage.total_tokens == usage.prompt_tokens + usage.output_tokens
    assert usage.responses == 1
    assert usages == [usage]
    # What the pipeline meters, carried by the analysis (not part of its JSON).
    assert analysis.usage == UsageDelta(
        llm_tokens_in=usage.prompt_tokens, llm_tokens_out=usage.output_tokens
    )
    assert "usage" not in (analysis_to_dict(analysis) or {})


async def test_the_request_has_the_context_and_transcript_but_no_phone_number(
    fake: tuple[FakeVertex, str], analyzer: VertexCallAnalyzer
) -> None:
    vertex, _ = fake

    await analyzer.analyze(TRANSCRIPT, METADATA, AI)

    [request] = vertex.generate_requests
    sent = json.dumps(request.body)
    assert AI.business_context in sent
    assert "[00:02] speaker 2: my furnace stopped working card [REDACTED CARD]" in sent
    assert "Google Ads" in sent
    for number in (CALLER, "3035550142", "+17205550100", "+13035550199"):
        assert number not in sent
    assert "JANE DOE" not in sent
    config = request.body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    schema = config["responseSchema"]
    assert schema["properties"]["intent"]["enum"] == [i.value for i in Intent]
    phrases = schema["properties"]["key_phrases"]
    assert phrases.get("maxItems", phrases.get("max_items")) == 8  # the SDK's spelling varies
    assert "engine" not in schema["properties"]


async def test_malformed_json_is_retried_once_then_the_rules_answer(
    fake: tuple[FakeVertex, str], analyzer: VertexCallAnalyzer
) -> None:
    vertex, _ = fake
    vertex.always = "malformed"

    analysis = await analyzer.analyze(TRANSCRIPT, METADATA, AI)

    assert analysis.engine == "rules (vertex fallback: invalid output)"
    assert analysis.intent in set(Intent)
    assert len(vertex.generate_requests) == 2
    usage = analyzer.last_usage
    assert usage is not None
    assert usage.responses == 2  # the rejected answers cost tokens too
    assert analysis.usage.llm_tokens_in == usage.prompt_tokens > 0
    assert analysis.usage.llm_tokens_out == usage.output_tokens > 0


async def test_one_malformed_answer_then_a_valid_one_is_the_analysis(
    fake: tuple[FakeVertex, str], analyzer: VertexCallAnalyzer
) -> None:
    vertex, _ = fake
    vertex.malformed_next(1)

    analysis = await analyzer.analyze(TRANSCRIPT, METADATA, AI)

    assert analysis.engine == f"vertex:{MODEL}"
    assert len(vertex.generate_requests) == 2


async def test_429_then_success_is_the_analysis_after_a_bounded_number_of_requests(
    fake: tuple[FakeVertex, str], analyzer: VertexCallAnalyzer
) -> None:
    vertex, _ = fake
    vertex.throttle_next(2)

    analysis = await analyzer.analyze(TRANSCRIPT, METADATA, AI)

    assert analysis.engine == f"vertex:{MODEL}"
    assert len(vertex.generate_requests) == 3


async def test_500_every_time_falls_back_after_bounded_retries(
    fake: tuple[FakeVertex, str], analyzer: VertexCallAnalyzer
) -> None:
    vertex, _ = fake
    vertex.always = 500

    analysis = await analyzer.analyze(TRANSCRIPT, METADATA, AI)

    assert analysis.engine == "rules (vertex fallback: HTTP 500)"
    assert len(vertex.generate_requests) == 3
    assert analyzer.last_usage is None  # no answer, no tokens
    assert not analysis.usage


async def test_429_every_time_falls_back_as_rate_limited(
    fake: tuple[FakeVertex, str], analyzer: VertexCallAnalyzer
) -> None:
    vertex, _ = fake
    vertex.always = 429

    analysis = await analyzer.analyze(TRANSCRIPT, METADATA, AI)

    assert analysis.engine == "rules (vertex fallback: rate limited (HTTP 429))"
    assert len(vertex.generate_requests) == 3


@pytest.mark.parametrize("prompt", [False, True], ids=["answer", "prompt"])
async def test_a_safety_block_falls_back_without_retrying(
    fake: tuple[FakeVertex, str], analyzer: VertexCallAnalyzer, prompt: bool
) -> None:
    vertex, _ = fake
    vertex.block_next(1, prompt=prompt)

    analysis = await analyzer.analyze(TRANSCRIPT, METADATA, AI)

    assert analysis.engine.startswith("rules (vertex fallback: blocked (")
    assert "SAFETY" in analysis.engine
    assert len(vertex.generate_requests) == 1


async def test_a_4xx_falls_back_without_retrying(
    fake: tuple[FakeVertex, str], analyzer: VertexCallAnalyzer
) -> None:
    vertex, _ = fake
    vertex.fail_next(1, status=403)

    analysis = await analyzer.analyze(TRANSCRIPT, METADATA, AI)

    assert analysis.engine == "rules (vertex fallback: HTTP 403)"
    assert len(vertex.generate_requests) == 1


async def test_an_answer_later_than_the_deadline_falls_back() -> None:
    released = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        await released.wait()
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/{tail:.*}", slow)
    async with serve(app) as url:
        subject = vertex_analyzer(url, deadline_s=0.5)
        try:
            analysis = await subject.analyze(TRANSCRIPT, METADATA, AI)
        finally:
            released.set()
            await subject.aclose()

    assert analysis.engine == "rules (vertex fallback: timed out)"


async def test_a_call_without_speech_goes_to_the_fallback_without_a_request(
    fake: tuple[FakeVertex, str], analyzer: VertexCallAnalyzer
) -> None:
    vertex, _ = fake

    analysis = await analyzer.analyze(None, CallMetadata(caller=CALLER, answered=False), AI)

    assert analysis.engine == "rules (vertex skipped: no speech)"
    assert vertex.generate_requests == []
    assert analyzer.last_usage is None


async def test_the_answer_is_validated_before_use(
    fake: tuple[FakeVertex, str], analyzer: VertexCallAnalyzer
) -> None:
    vertex, _ = fake
    vertex.answer = {
        **DEFAULT_ANSWER,
        "intent": " SPAM ",
        "summary": "  word " * 200,
        "caller_name": "   ",
        "caller_email": "not an email",
        "key_phrases": [f"phrase {n}" for n in range(12)] + ["phrase 1", 7],
        "lead_score": 100,  # not ours to take
    }

    analysis = await analyzer.analyze(TRANSCRIPT, METADATA, AI)

    assert analysis.engine == f"vertex:{MODEL}"
    assert analysis.intent is Intent.SPAM
    assert len(analysis.summary) <= 500
    assert analysis.summary.endswith("\u2026")
    assert analysis.caller_name is None
    assert analysis.caller_email is None
    assert analysis.key_phrases == tuple(f"phrase {n}" for n in range(8))


@pytest.mark.parametrize(
    ("field", "value"),
    [("intent", "hot_lead"), ("is_spam", "yes"), ("key_phrases", "furnace"), ("summary", "")],
)
async def test_an_answer_with_a_wrong_field_counts_as_malformed(
    fake: tuple[FakeVertex, str], analyzer: VertexCallAnalyzer, field: str, value: Any
) -> None:
    vertex, _ = fake
    vertex.answer = {**DEFAULT_ANSWER, field: value}

    analysis = await analyzer.analyze(TRANSCRIPT, METADATA, AI)

    assert analysis.engine == "rules (vertex fallback: invalid output)"
    assert len(vertex.generate_requests) == 2
