"""A tenant's own questions and the quotes behind the score, through the OpenAI-compatible
analyzer against the chat-completions stand-in on 127.0.0.1 (and Gemini against the Vertex
stand-in): the questions go out in the
request's JSON Schema, answers of the right type come back into the analysis, answers of the
wrong type are nulled and counted, a quote the transcript does not hold is dropped and counted,
and the score's reasons carry the quotes that are kept."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from google.oauth2.credentials import Credentials

from adapters.memory.fakes import (
    FixedClock,
    InMemoryAudioStore,
    InMemoryCrmGatewayFactory,
    InMemoryRecordingSource,
    ScriptedTranscriber,
)
from adapters.memory.metrics import RecordedMetrics
from adapters.memory.repositories import InMemoryUnitOfWorkFactory
from adapters.openai.analyzer import OpenAiCallAnalyzer
from adapters.rules.analyzer import CANNOT_ANSWER, RulesCallAnalyzer
from adapters.vertex.analyzer import VertexCallAnalyzer
from domain.call import Call, CallMetadata
from domain.codec import analysis_to_dict, score_to_dict
from domain.errors import ValidationFailed
from domain.questions import Question
from domain.results import Segment, Transcript
from domain.scoring import score_lead
from domain.tenant import AiConfig, parse_tenant
from domain.usecases.llm_analysis import LlmPolicy
from domain.usecases.processing import Outcome, ProcessCall, ProcessCallCommand
from domain.webhook import parse_incoming_call
from entrypoints.standins import serve
from entrypoints.standins.openai import FakeOpenAi
from entrypoints.standins.vertex import FakeVertex
from tests.support import callrail_body, tenant_document

MODEL = "llama3.2"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
QUESTIONS = (
    Question("budget", "What budget did the caller mention, in dollars?", "number"),
    Question("system_age", "How old is the caller's system?", "text"),
    Question("has_pets", "Did the caller mention pets at home?", "boolean"),
    Question("fuel", "Which fuel does the system burn?", "choice", ("gas", "oil", "electric")),
)
AI = AiConfig(
    analysis_model=MODEL,
    business_context="Comfort Heating: furnace repair and AC installation in Denver.",
    questions=QUESTIONS,
)
METADATA = CallMetadata(caller="+13035550142", duration_s=95, answered=True, first_call=True)
TRANSCRIPT = Transcript(
    "whisper-tiny.en",
    "en-US",
    "Comfort Heating, how can I help? My gas furnace stopped working last night. It's about"
    " fifteen years old. We can have someone out today at two. Perfect, thank you so much.",
    (
        Segment("1", 0.0, 2.5, "Comfort Heating, how can I help?"),
        Segment(
            "2",
            2.5,
            9.0,
            "My gas furnace stopped working last night. It's about fifteen years old.",
        ),
        Segment("1", 9.0, 12.0, "We can have someone out today at two."),
        Segment("2", 12.0, 14.0, "Perfect, thank you so much."),
    ),
    redacted=True,
)
ANSWER: dict[str, Any] = {
    "summary": "The caller's gas furnace stopped; a technician comes today at two.",
    "intent": "new_service_request",
    "sentiment": "positive",
    "urgency": "high",
    "service_requested": "furnace repair",
    "appointment_booked": True,
    "caller_name": None,
    "caller_email": None,
    "is_spam": False,
    "is_existing_customer": False,
    "key_phrases": ["furnace stopped working"],
    "evidence": {
        "intent": "my gas furnace stopped working",  # case and punctuation aside: kept
        "booking": "[00:09] speaker 1: We can have someone out today at two",  # prefix copied
        "urgency": "the house is freezing and the baby is crying",  # never said: dropped
        "sentiment": "Perfect, thank you so much.",
        "service": None,
        "caller_name": None,
        "caller_email": None,
        "price_shopping": None,
        "spam": None,
    },
    "answers": {
        "budget": 5000,
        "system_age": "about fifteen years",
        "has_pets": "no",  # not a boolean: nulled
        "fuel": "Gas",
    },
}


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeOpenAi, str]]:
    server = FakeOpenAi(ANSWER, model=MODEL)
    async with serve(server.app()) as url:
        yield server, url
        server.release.set()


@pytest.fixture
async def analyzer(fake: tuple[FakeOpenAi, str]) -> AsyncIterator[OpenAiCallAnalyzer]:
    subject = OpenAiCallAnalyzer(
        RulesCallAnalyzer(),
        base_url=fake[1] + "/v1",
        model=MODEL,
        http_hosts=("127.0.0.1",),
        request_timeout_s=5.0,
        policy=LlmPolicy(backoff_base_s=0.01, backoff_cap_s=0.1, max_output_tokens=1024),
    )
    yield subject
    await subject.aclose()


async def test_the_questions_go_out_in_the_schema_and_the_prompt(
    fake: tuple[FakeOpenAi, str], analyzer: OpenAiCallAnalyzer
) -> None:
    server, _ = fake

    await analyzer.analyze(TRANSCRIPT, METADATA, AI)

    [request] = server.completions
    schema = request.body["response_format"]["json_schema"]["schema"]
    answers = schema["properties"]["answers"]
    assert answers["required"] == ["budget", "system_age", "has_pets", "fuel"]
    assert answers["properties"]["budget"]["type"] == ["number", "null"]
    assert answers["properties"]["has_pets"]["type"] == ["boolean", "null"]
    assert answers["properties"]["fuel"]["enum"] == ["gas", "oil", "electric", None]
    assert {"answers", "evidence"} <= set(schema["required"])
    prompt = request.body["messages"][1]["content"]
    assert "- budget (number): What budget did the caller mention, in dollars?" in prompt


async def test_a_tenant_without_questions_gets_no_answers_object(
    fake: tuple[FakeOpenAi, str], analyzer: OpenAiCallAnalyzer
) -> None:
    server, _ = fake
    server.answer = {k: v for k, v in ANSWER.items() if k != "answers"}

    analysis = await analyzer.analyze(TRANSCRIPT, METADATA, AiConfig(analysis_model=MODEL))

    schema = server.completions[0].body["response_format"]["json_schema"]["schema"]
    assert "answers" not in schema["properties"]
    assert analysis.answers == ()
    assert analysis.engine == f"openai:{MODEL}"


async def test_answers_of_their_type_are_kept_and_the_others_nulled_and_counted(
    analyzer: OpenAiCallAnalyzer,
) -> None:
    analysis = await analyzer.analyze(TRANSCRIPT, METADATA, AI)

    assert analysis.engine == f"openai:{MODEL}"
    # 5000 a number, a text, "no" is no boolean (nulled), "Gas" is the choice "gas".
    assert analysis.answers_by_key() == {
        "budget": 5000.0,
        "system_age": "about fifteen years",
        "has_pets": None,
        "fuel": "gas",
    }
    assert analysis.invalid_answers == 1
    shown = analysis_to_dict(analysis)
    assert shown is not None
    assert shown["answers"] == {
        "budget": 5000.0,
        "system_age": "about fifteen years",
        "has_pets": None,
        "fuel": "gas",
    }


async def test_a_quote_the_transcript_does_not_hold_is_dropped_and_the_rest_cited(
    analyzer: OpenAiCallAnalyzer,
) -> None:
    analysis = await analyzer.analyze(TRANSCRIPT, METADATA, AI)

    assert analysis.dropped_quotes == 1
    quotes = {e.signal: (e.quote, e.at_s) for e in analysis.evidence}
    assert "urgency" not in quotes
    assert quotes["intent"] == ("My gas furnace stopped working", 2.5)
    assert quotes["booking"][0] == "We can have someone out today at two"
    assert quotes["sentiment"][0] == "Perfect, thank you so much"
    shown = json.dumps(analysis_to_dict(analysis))
    assert "freezing" not in shown

    score = score_lead(analysis, METADATA, 70)
    reasons = {r.factor: r for r in score.reasons}
    assert reasons["intent"].quote == "My gas furnace stopped working"
    assert reasons["appointment_booked"].quote == "We can have someone out today at two"
    assert (reasons["urgency"].points, reasons["urgency"].quote) == (25, None)  # dropped
    assert (reasons["first_call"].quote, reasons["first_call"].at_s) == (None, None)
    for reason in score.reasons:
        assert reason.quote is None or reason.quote in TRANSCRIPT.text
    document = score_to_dict(score)
    assert document is not None
    assert set(document["reasons"][0]) == {"factor", "points", "detail", "quote", "at_s"}


async def test_when_the_model_fails_the_questions_are_unanswered_and_the_notes_say_why(
    fake: tuple[FakeOpenAi, str], analyzer: OpenAiCallAnalyzer
) -> None:
    server, _ = fake
    server.always = 400

    analysis = await analyzer.analyze(TRANSCRIPT, METADATA, AI)

    assert analysis.engine.startswith("rules (openai fallback")
    assert analysis.answers_by_key() == dict.fromkeys(["budget", "system_age", "has_pets", "fuel"])
    assert CANNOT_ANSWER in analysis.notes


async def test_the_rules_analyzer_answers_null_and_says_it_cannot() -> None:
    analysis = await RulesCallAnalyzer().analyze(TRANSCRIPT, METADATA, AI)

    assert [a.value for a in analysis.answers] == [None, None, None, None]
    assert analysis.notes == (CANNOT_ANSWER,)
    shown = analysis_to_dict(analysis)
    assert shown is not None
    assert shown["notes"] == [CANNOT_ANSWER]


def test_a_tenant_document_takes_questions_and_refuses_bad_ones_by_name() -> None:
    now = NOW
    document = tenant_document()
    document["config"]["ai_config"] = {
        "questions": [
            {"key": "fuel", "question": "Which fuel?", "type": "choice", "choices": ["gas", "oil"]}
        ]
    }
    tenant = parse_tenant(document, now)
    fuel = Question("fuel", "Which fuel?", "choice", ("gas", "oil"))
    assert tenant.config.ai.questions == (fuel,)

    document["config"]["ai_config"] = {
        "questions": [
            {"key": "Fuel!", "question": "Which fuel?", "type": "colour"},
            {"key": "ok", "question": "Fine?", "type": "boolean", "weight": 3},
            {"key": "pick", "question": "Which?", "type": "choice", "choices": ["only"]},
        ],
        "temperature": 0,
    }
    with pytest.raises(ValidationFailed) as refused:
        parse_tenant(document, now)
    fields = {e.field for e in refused.value.fields}
    assert fields == {
        "config.ai_config.questions[0].key",
        "config.ai_config.questions[0].type",
        "config.ai_config.questions[1].weight",
        "config.ai_config.questions[2].choices",
        "config.ai_config.temperature",
    }


async def test_what_the_checks_drop_is_counted_in_the_pipeline_metrics(
    analyzer: OpenAiCallAnalyzer, clock: FixedClock
) -> None:
    uow = InMemoryUnitOfWorkFactory()
    metrics = RecordedMetrics()
    process = ProcessCall(
        uow,
        InMemoryRecordingSource({"CALq1": b"ID3 mp3"}),
        InMemoryAudioStore(),
        ScriptedTranscriber([TRANSCRIPT]),
        analyzer,
        InMemoryCrmGatewayFactory(),
        clock,
        metrics=metrics,
    )
    document = tenant_document("acme")
    document["config"]["ai_config"] = {
        "analysis_model": MODEL,
        "questions": [
            {"key": "has_pets", "question": "Did the caller mention pets?", "type": "boolean"}
        ],
    }
    call = Call.receive("acme", parse_incoming_call(json.loads(callrail_body("q1"))), clock.now())
    async with uow() as unit:
        await unit.tenants.add(parse_tenant(document, clock.now()))
        await unit.calls.add(call)
        await unit.commit()

    result = await process(ProcessCallCommand("acme", call.call_id, "worker-1"))

    assert result.outcome is Outcome.DONE
    discarded = [e for e in metrics.events if e[0] == "discarded"]
    assert discarded == [("discarded", "quote", 1), ("discarded", "answer", 1)]


async def test_gemini_on_vertex_gets_the_questions_in_its_schema_dialect_and_answers_them() -> None:
    vertex = FakeVertex(ANSWER)
    async with serve(vertex.app()) as url:
        subject = VertexCallAnalyzer(
            RulesCallAnalyzer(),
            project="acme-project",
            location="us-central1",
            credentials=Credentials(token="test"),  # type: ignore[no-untyped-call]
            base_url=url + "/",
            request_timeout_s=5.0,
            policy=LlmPolicy(backoff_base_s=0.01, backoff_cap_s=0.1),
        )
        try:
            analysis = await subject.analyze(TRANSCRIPT, METADATA, AI)
        finally:
            await subject.aclose()

    [request] = vertex.generate_requests
    schema = request.body["generationConfig"]["responseSchema"]
    fuel = schema["properties"]["answers"]["properties"]["fuel"]
    assert fuel["enum"] == ["gas", "oil", "electric"]  # Vertex's enums hold no null
    assert fuel["nullable"] is True
    assert analysis.engine.startswith("vertex:")
    assert analysis.answers_by_key() == {
        "budget": 5000.0,
        "system_age": "about fifteen years",
        "has_pets": None,
        "fuel": "gas",
    }
    assert (analysis.invalid_answers, analysis.dropped_quotes) == (1, 1)


def test_an_answer_mapped_to_a_crm_field_must_name_a_question_and_a_field() -> None:
    document = tenant_document()
    document["config"]["ai_config"] = {
        "questions": [{"key": "budget", "question": "What budget?", "type": "number"}]
    }
    document["config"]["crm_config"] = {
        "type": "hubspot",
        "access_token_ref": "hubspot-token",
        "answer_property_map": {"budget": "budget_mentioned"},
    }
    assert parse_tenant(document, NOW).config.crm.settings["answer_property_map"] == {
        "budget": "budget_mentioned"
    }

    document["config"]["crm_config"]["answer_property_map"] = {
        "budget": "budget mentioned!",
        "pets": "has_pets",
    }
    with pytest.raises(ValidationFailed) as refused:
        parse_tenant(document, NOW)
    assert {e.field for e in refused.value.fields} == {
        "config.crm_config.answer_property_map.budget",
        "config.crm_config.answer_property_map.pets",
    }
