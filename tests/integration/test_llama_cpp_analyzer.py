"""OpenAiCallAnalyzer against a real llama.cpp server (tests/emulators/llama_cpp.py): the real
wire format, the real refusal of OpenAI's json_schema form, grammar-constrained JSON from a real
model, real token counts. Gemma 3 270M analyses calls badly; what is checked is that whatever it
says arrives as a validated CallAnalysis, or as the rules analyzer's, marked as a fallback."""

from __future__ import annotations

import pytest

from adapters.openai.analyzer import OpenAiCallAnalyzer
from adapters.rules.analyzer import RulesCallAnalyzer
from domain.usecases.llm_analysis import LlmPolicy
from tests.contract.test_call_analyzer_contract import (
    AI,
    ANSWERED,
    SERVICE_CALL,
    assert_well_formed,
)
from tests.emulators.llama_cpp import LlamaServer, llama_server_fixture  # noqa: F401

pytestmark = pytest.mark.slow
# A 270M model on 2 cores: seconds to a minute an answer; 400 tokens bound one that loops.
POLICY = LlmPolicy(max_output_tokens=400, deadline_s=300, backoff_base_s=0.2)


def llama_analyzer(
    server: LlamaServer, response_format: str, policy: LlmPolicy
) -> OpenAiCallAnalyzer:
    return OpenAiCallAnalyzer(
        RulesCallAnalyzer(),
        base_url=server.url,
        model=server.model,
        http_hosts=("127.0.0.1",),
        response_format=response_format,
        request_timeout_s=150,
        policy=policy,
    )


async def test_a_real_llama_cpp_server_gives_a_validated_analysis_or_a_marked_fallback(
    llama_server: LlamaServer,
) -> None:
    # auto: OpenAI's json_schema form first, which llama-cpp-python refuses with a 500, then
    # json_object with the schema, which it turns into a grammar.
    analyzer = llama_analyzer(llama_server, "auto", POLICY)
    try:
        analysis = await analyzer.analyze(SERVICE_CALL, ANSWERED, AI)
    finally:
        await analyzer.aclose()

    assert_well_formed(analysis)
    assert analysis.engine in (
        f"openai:{llama_server.model}",  # the model's answer passed validation
        "rules (openai fallback: invalid output)",  # twice not the schema's object
    )
    usage = analyzer.last_usage
    assert usage is not None, "the server answered nothing"
    assert usage.model == llama_server.model
    assert usage.prompt_tokens > 100  # the server's own count of the prompt it read
    assert usage.output_tokens > 0
    assert analysis.usage.llm_tokens_in == usage.prompt_tokens


async def test_json_schema_alone_is_refused_by_llama_cpp_and_falls_back(
    llama_server: LlamaServer,
) -> None:
    analyzer = llama_analyzer(llama_server, "json_schema", LlmPolicy(request_attempts=1))
    try:
        analysis = await analyzer.analyze(SERVICE_CALL, ANSWERED, AI)
    finally:
        await analyzer.aclose()

    assert_well_formed(analysis)
    assert analysis.engine == "rules (openai fallback: HTTP 500)"  # why auto switches
