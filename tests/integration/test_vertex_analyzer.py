"""VertexCallAnalyzer through google-genai against the Vertex AI stand-in on 127.0.0.1: what
the request carries (and does not), a safety block, a late answer. What every transport of the
shared LLM core does alike (valid, malformed and schema-invalid answers, 429, 5xx, 4xx, token
metering) is tests/contract/test_llm_analyzer_contract.py, run on this stand-in too."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest
from aiohttp import web
from google.oauth2.credentials import Credentials

from adapters.rules.analyzer import RulesCallAnalyzer
from adapters.vertex.analyzer import VertexCallAnalyzer
from domain.call import CallMetadata
from domain.results import Intent, Segment, Transcript
from domain.tenant import AiConfig
from domain.usecases.llm_analysis import LlmPolicy
from entrypoints.standins import serve
from entrypoints.standins.vertex import FakeVertex

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
FAST = LlmPolicy(backoff_base_s=0.01, backoff_cap_s=0.05)


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeVertex, str]]:
    vertex = FakeVertex()
    async with serve(vertex.app()) as url:
        yield vertex, url


@pytest.fixture
async def analyzer(fake: tuple[FakeVertex, str]) -> AsyncIterator[VertexCallAnalyzer]:
    subject = vertex_analyzer(fake[1])
    yield subject
    await subject.aclose()


def vertex_analyzer(url: str, **options: Any) -> VertexCallAnalyzer:
    return VertexCallAnalyzer(
        RulesCallAnalyzer(),
        project="acme-project",
        location="us-central1",
        credentials=Credentials(token="test"),  # type: ignore[no-untyped-call]
        base_url=url + "/",
        request_timeout_s=5.0,
        **{"policy": FAST, **options},
    )


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


async def test_an_answer_later_than_the_deadline_falls_back() -> None:
    released = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        await released.wait()
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/{tail:.*}", slow)
    async with serve(app) as url:
        subject = vertex_analyzer(url, policy=attrs.evolve(FAST, deadline_s=0.5))
        try:
            analysis = await subject.analyze(TRANSCRIPT, METADATA, AI)
        finally:
            released.set()
            await subject.aclose()

    assert analysis.engine == "rules (vertex fallback: timed out)"
