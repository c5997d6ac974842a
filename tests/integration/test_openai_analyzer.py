"""OpenAiCallAnalyzer over aiohttp against the OpenAI-compatible stand-in on 127.0.0.1: what
the request carries (and does not), 429 with Retry-After (honoured, capped), timeouts, a
refusal, an unreachable server, the API key through the secret store, and llama-cpp-python's
refusal of the json_schema form. What every transport of the shared LLM core does alike (valid,
malformed and schema-invalid answers, 429, 5xx, 4xx, token metering) is
tests/contract/test_llm_analyzer_contract.py, run on this stand-in too; the real llama.cpp
server is test_llama_cpp_analyzer.py."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest

from adapters.memory.fakes import InMemorySecretStore
from adapters.openai.analyzer import OpenAiCallAnalyzer
from adapters.rules.analyzer import RulesCallAnalyzer
from domain.results import CallAnalysis, Intent
from domain.usecases.llm_analysis import LlmPolicy
from entrypoints.config import load_settings
from entrypoints.container import build_container
from entrypoints.standins import serve
from entrypoints.standins.openai import FakeOpenAi
from tests.emulators import free_port
from tests.integration.test_vertex_analyzer import AI, CALLER, METADATA, TRANSCRIPT

MODEL = "llama3.2"
API_KEY = "sk-test-0123456789abcdef"
FAST = LlmPolicy(backoff_base_s=0.01, backoff_cap_s=0.2, max_output_tokens=1024)
Fake = tuple[FakeOpenAi, str]


@pytest.fixture
async def fake() -> AsyncIterator[Fake]:
    server = FakeOpenAi(model=MODEL)
    async with serve(server.app()) as url:
        yield server, url
        server.release.set()


def openai_analyzer(url: str, **options: Any) -> OpenAiCallAnalyzer:
    settings: dict[str, Any] = {
        "base_url": url + "/v1",
        "model": MODEL,
        "http_hosts": ("127.0.0.1",),
        "request_timeout_s": 5.0,
        "policy": FAST,
        **options,
    }
    return OpenAiCallAnalyzer(RulesCallAnalyzer(), **settings)


async def analyze_once(url: str, **options: Any) -> CallAnalysis:
    subject = openai_analyzer(url, **options)
    try:
        return await subject.analyze(TRANSCRIPT, METADATA, AI)
    finally:
        await subject.aclose()


@pytest.fixture
async def analyzer(fake: Fake) -> AsyncIterator[OpenAiCallAnalyzer]:
    subject = openai_analyzer(fake[1])
    yield subject
    await subject.aclose()


async def test_the_request_is_chat_completions_with_the_schema_and_no_phone_number(
    fake: Fake, analyzer: OpenAiCallAnalyzer
) -> None:
    server, _ = fake

    await analyzer.analyze(TRANSCRIPT, METADATA, AI)

    [request] = server.completions
    body = request.body
    assert body["model"] == MODEL
    assert body["temperature"] == 0
    assert body["max_tokens"] == 1024
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    sent = json.dumps(body)
    assert AI.business_context in sent
    assert "[00:02] speaker 2: my furnace stopped working card [REDACTED CARD]" in sent
    for number in (CALLER, "3035550142", "+17205550100", "+13035550199"):
        assert number not in sent
    assert "JANE DOE" not in sent
    response_format = body["response_format"]
    assert response_format["type"] == "json_schema"
    schema = response_format["json_schema"]["schema"]
    assert response_format["json_schema"]["name"] == "call_analysis"
    assert schema["properties"]["intent"]["enum"] == [i.value for i in Intent]
    assert schema["properties"]["key_phrases"]["maxItems"] == 8
    assert schema["properties"]["caller_email"]["type"] == ["string", "null"]
    assert schema["additionalProperties"] is False
    assert "engine" not in schema["properties"]
    assert "Authorization" not in server.headers[0]  # no key configured, none sent


async def test_429_with_retry_after_is_honoured_then_the_analysis(
    fake: Fake, analyzer: OpenAiCallAnalyzer
) -> None:
    server, _ = fake
    server.throttle_next(2, retry_after="0.15")

    analysis = await analyzer.analyze(TRANSCRIPT, METADATA, AI)

    assert analysis.engine == f"openai:{MODEL}"
    first, second, third = server.completions
    assert second.at - first.at >= 0.15
    assert third.at - second.at >= 0.15


async def test_a_long_retry_after_is_capped(fake: Fake) -> None:
    server, url = fake
    server.throttle_next(1, retry_after="3600")
    started = time.monotonic()
    analysis = await analyze_once(url)

    assert analysis.engine == f"openai:{MODEL}"
    assert time.monotonic() - started < 2  # waited the cap (0.2 s), not an hour


async def test_a_schema_invalid_answer_then_a_valid_one_is_the_analysis(
    fake: Fake, analyzer: OpenAiCallAnalyzer
) -> None:
    server, _ = fake
    server.invalid_next(1)

    analysis = await analyzer.analyze(TRANSCRIPT, METADATA, AI)

    assert analysis.engine == f"openai:{MODEL}"


async def test_requests_that_time_out_are_retried_then_fall_back(fake: Fake) -> None:
    server, url = fake
    server.always = "stall"
    analysis = await analyze_once(url, request_timeout_s=0.3)

    assert analysis.engine == "rules (openai fallback: timed out)"
    assert len(server.completions) == 3


async def test_one_timeout_then_an_answer_is_the_analysis(fake: Fake) -> None:
    server, url = fake
    server.stall_next(1)
    analysis = await analyze_once(url, request_timeout_s=0.3)

    assert analysis.engine == f"openai:{MODEL}"


async def test_the_deadline_bounds_the_whole_analysis(fake: Fake) -> None:
    server, url = fake
    server.always = "stall"
    policy = attrs.evolve(FAST, deadline_s=0.5)
    started = time.monotonic()
    analysis = await analyze_once(url, request_timeout_s=30.0, policy=policy)

    assert analysis.engine == "rules (openai fallback: timed out)"
    assert time.monotonic() - started < 3


async def test_a_refusal_falls_back_without_asking_again(
    fake: Fake, analyzer: OpenAiCallAnalyzer
) -> None:
    server, _ = fake
    server.refuse_next(1)

    analysis = await analyzer.analyze(TRANSCRIPT, METADATA, AI)

    assert analysis.engine == "rules (openai fallback: blocked (refusal))"
    assert len(server.completions) == 1


async def test_an_unreachable_server_falls_back() -> None:
    subject = openai_analyzer(f"http://127.0.0.1:{free_port()}")  # nothing listens there
    try:
        analysis = await subject.analyze(TRANSCRIPT, METADATA, AI)
    finally:
        await subject.aclose()

    assert analysis.engine == "rules (openai fallback: unreachable)"


async def test_the_api_key_comes_from_the_secret_store_and_is_never_logged(
    fake: Fake, caplog: pytest.LogCaptureFixture
) -> None:
    server, url = fake
    server.api_key = API_KEY
    server.always = 503
    secrets = InMemorySecretStore({"llm-key": API_KEY})
    subject = openai_analyzer(url, secrets=secrets, api_key_ref="llm-key")
    caplog.set_level(logging.DEBUG)
    try:
        analysis = await subject.analyze(TRANSCRIPT, METADATA, AI)
        server.always = "valid"
        answered = await subject.analyze(TRANSCRIPT, METADATA, AI)
    finally:
        await subject.aclose()

    assert analysis.engine == "rules (openai fallback: HTTP 503)"
    assert answered.engine == f"openai:{MODEL}"
    assert all(h["Authorization"] == f"Bearer {API_KEY}" for h in server.headers)
    assert API_KEY not in caplog.text
    assert "sk-test" not in caplog.text
    assert "HTTP 503" in caplog.text  # the failure is logged, by its status only


async def test_a_wrong_api_key_falls_back_as_a_401(fake: Fake) -> None:
    server, url = fake
    server.api_key = API_KEY
    secrets = InMemorySecretStore({"llm-key": "sk-wrong"})
    analysis = await analyze_once(url, secrets=secrets, api_key_ref="llm-key")

    assert analysis.engine == "rules (openai fallback: HTTP 401)"
    assert len(server.completions) == 1


async def test_a_missing_api_key_secret_falls_back_without_a_request(fake: Fake) -> None:
    server, url = fake
    analysis = await analyze_once(url, secrets=InMemorySecretStore(), api_key_ref="llm-key")

    assert analysis.engine == "rules (openai fallback: API key reference not found)"
    assert server.completions == []


async def test_a_server_that_refuses_json_schema_gets_json_object_from_then_on(
    fake: Fake, analyzer: OpenAiCallAnalyzer
) -> None:
    server, _ = fake
    server.json_schema_refused = True  # as llama-cpp-python's server: 500, naming the field

    first = await analyzer.analyze(TRANSCRIPT, METADATA, AI)
    second = await analyzer.analyze(TRANSCRIPT, METADATA, AI)

    assert first.engine == second.engine == f"openai:{MODEL}"
    kinds = [r.body["response_format"]["type"] for r in server.completions]
    assert kinds == ["json_schema", "json_object", "json_object"]
    response_format = server.completions[1].body["response_format"]
    assert response_format["schema"]["properties"]["intent"]["enum"] == [i.value for i in Intent]
    system = server.completions[1].body["messages"][0]["content"]
    assert '"key_phrases"' in system  # a server that ignores the schema still reads it


async def test_json_schema_only_does_not_switch(fake: Fake) -> None:
    server, url = fake
    server.json_schema_refused = True
    analysis = await analyze_once(url, response_format="json_schema")

    assert analysis.engine == "rules (openai fallback: HTTP 500)"
    assert {r.body["response_format"]["type"] for r in server.completions} == {"json_schema"}


async def test_the_configured_analyzer_sends_the_key_from_the_configured_secret_store(
    fake: Fake, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, url = fake
    server.api_key = API_KEY
    monkeypatch.setenv("PIPELINE_SECRET_LLM_KEY", API_KEY)  # env:// store, reference llm-key
    settings = load_settings(
        {
            "PIPELINE_ANALYZER": "openai",
            "PIPELINE_ANALYZER_URL": url,
            "PIPELINE_ANALYZER_MODEL": MODEL,
            "PIPELINE_ANALYZER_API_KEY_REF": "llm-key",
            "PIPELINE_ANALYZER_HTTP_HOSTS": "127.0.0.1",
        }
    )
    analyzer = build_container(settings).analyzer()
    try:
        analysis = await analyzer.analyze(TRANSCRIPT, METADATA, AI)
    finally:
        await analyzer.aclose()

    assert analysis.engine == f"openai:{MODEL}"
    assert server.headers[0]["Authorization"] == f"Bearer {API_KEY}"
