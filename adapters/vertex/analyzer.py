"""The CallAnalyzer port on Gemini in Vertex AI: the shared LLM-analysis core
(domain.usecases.llm_analysis: prompt, schema, validation, retries, fallback, token metering)
over google-genai's native asyncio client.

This module is only the transport: one generate_content request per `generate`, with
google-genai's own retries off (the core retries, the same way for every transport), its
answer's text and token counts, and the client's errors as the port's short reasons."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import aiohttp
from google import genai
from google.auth.credentials import Credentials
from google.auth.exceptions import GoogleAuthError
from google.genai import errors as genai_errors
from google.genai import types

from domain.errors import PermanentFailure, RateLimited, TransientFailure
from domain.llm import TokenUsage
from domain.tenant import DEFAULT_MODEL as DEFAULT_ANALYSIS_MODEL
from domain.tenant import AiConfig
from domain.usecases.llm_analysis import LlmCallAnalyzer, LlmEvent, LlmPolicy
from ports.analysis import CallAnalyzer
from ports.llm import LlmAnswer, LlmRequest, StructuredModel

DEFAULT_LOCATION = "us-central1"
RETRIED_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_BLOCKING_FINISH = frozenset(
    {
        types.FinishReason.SAFETY,
        types.FinishReason.RECITATION,
        types.FinishReason.BLOCKLIST,
        types.FinishReason.PROHIBITED_CONTENT,
        types.FinishReason.SPII,
    }
)
DEFAULT_POLICY = LlmPolicy()
_log = logging.getLogger("adapters.vertex")

__all__ = ["GeminiModel", "VertexCallAnalyzer"]


class GeminiModel(StructuredModel):
    """Gemini through google-genai with vertexai=True; the tenant's ai_config names the model."""

    engine = "vertex"

    def __init__(
        self,
        *,
        project: str,
        location: str = DEFAULT_LOCATION,
        credentials: Credentials | None = None,
        base_url: str | None = None,
        request_timeout_s: float = 60.0,
    ):
        """`base_url` points at a local fake ("http://127.0.0.1:PORT/"); by default
        google-genai picks the location's endpoint. `credentials` default to Application
        Default Credentials, looked up on the first request."""
        self._client = genai.Client(
            vertexai=True,
            project=project,
            location=location,
            credentials=credentials,
            http_options=types.HttpOptions(
                base_url=base_url,
                timeout=int(request_timeout_s * 1000),
                retry_options=types.HttpRetryOptions(attempts=1),
            ),
        )

    def model_for(self, ai: AiConfig) -> str:
        return ai.analysis_model

    async def generate(self, request: LlmRequest) -> LlmAnswer:
        config = types.GenerateContentConfig(
            system_instruction=request.system,
            response_mime_type="application/json",
            response_schema=_gemini_schema(request.schema),
            temperature=0.0,
            candidate_count=1,
            max_output_tokens=request.max_output_tokens,
        )
        with _as_port_errors():
            response = await self._client.aio.models.generate_content(
                model=request.model, contents=request.prompt, config=config
            )
        usage = response.usage_metadata
        return LlmAnswer(
            text=None if _blocked(response) else response.text,
            prompt_tokens=(usage and usage.prompt_token_count) or 0,
            output_tokens=(usage and usage.candidates_token_count) or 0,
            thinking_tokens=(usage and usage.thoughts_token_count) or 0,
            total_tokens=(usage and usage.total_token_count) or 0,
            refused=_blocked(response),
        )

    async def ping(self, model: str) -> None:
        """Vertex AI answers for this project and location with these credentials: a
        CountTokens of one word (free of charge, the same permission as generating)."""
        with _as_port_errors():
            await self._client.aio.models.count_tokens(model=model, contents="ping")

    async def aclose(self) -> None:
        await self._client.aio.aclose()
        self._client.close()


class VertexCallAnalyzer(LlmCallAnalyzer):
    """The shared core on GeminiModel: what the composition root and the tests build."""

    def __init__(
        self,
        fallback: CallAnalyzer,
        *,
        project: str,
        location: str = DEFAULT_LOCATION,
        credentials: Credentials | None = None,
        base_url: str | None = None,
        request_timeout_s: float = 60.0,
        policy: LlmPolicy = DEFAULT_POLICY,
        on_usage: Callable[[TokenUsage], None] | None = None,
    ):
        self._gemini = model = GeminiModel(
            project=project,
            location=location,
            credentials=credentials,
            base_url=base_url,
            request_timeout_s=request_timeout_s,
        )
        super().__init__(
            model,
            fallback,
            policy=policy,
            on_usage=on_usage,
            on_event=_log_event,
        )

    async def ping(self) -> None:
        """For /v1/health: Gemini reachable, asked about the default analysis model."""
        await self._gemini.ping(DEFAULT_ANALYSIS_MODEL)


def _log_event(event: LlmEvent) -> None:
    level = logging.getLevelNamesMapping()[event.severity.upper()]
    _log.log(level, event.describe("Gemini"), exc_info=event.error)


def _gemini_schema(schema: Mapping[str, Any]) -> types.Schema:
    """The JSON Schema in Vertex's OpenAPI dialect, its fields in the schema's order."""
    converted = types.Schema.from_json_schema(
        json_schema=types.JSONSchema.model_validate(_no_null_enums(schema)), api_option="VERTEX_AI"
    )
    converted.property_ordering = list(schema.get("properties", {}))
    return converted


def _no_null_enums(schema: Any) -> Any:
    """A choice answer's enum lists null (plain JSON Schema); Vertex's enums are of strings
    and its `nullable` (from the type array) says null already."""
    if isinstance(schema, Mapping):
        return {
            k: [e for e in v if e is not None] if k == "enum" else _no_null_enums(v)
            for k, v in schema.items()
        }
    if isinstance(schema, list):
        return [_no_null_enums(item) for item in schema]
    return schema


def _blocked(response: types.GenerateContentResponse) -> str | None:
    feedback = response.prompt_feedback
    if feedback is not None and feedback.block_reason is not None:
        return f"prompt {feedback.block_reason.value}"
    candidates = response.candidates or []
    if candidates and candidates[0].finish_reason in _BLOCKING_FINISH:
        reason = candidates[0].finish_reason
        return reason.value if reason is not None else "blocked"
    return None


@contextlib.contextmanager
def _as_port_errors() -> Iterator[None]:
    """The client's errors re-raised as the port's; an unexpected one as it is (the core logs
    it with its traceback)."""
    try:
        yield
    except Exception as exc:
        error = _port_error(exc)
        if error is None:
            raise
        raise error from None


def _port_error(exc: BaseException) -> Exception | None:
    """The client's error as a short reason: no message text, which may quote the request."""
    if isinstance(exc, genai_errors.UnknownApiResponseError):
        return PermanentFailure("unreadable response")
    if isinstance(exc, genai_errors.APIError):
        if exc.code == 429:
            return RateLimited(f"rate limited (HTTP {exc.code})")
        if exc.code in RETRIED_STATUSES:
            return TransientFailure(f"HTTP {exc.code}")
        return PermanentFailure(f"HTTP {exc.code}")
    if isinstance(exc, TimeoutError):
        return TransientFailure("timed out")
    if isinstance(exc, GoogleAuthError):
        return PermanentFailure("credentials")
    if isinstance(exc, aiohttp.ClientError | OSError):
        return TransientFailure("unreachable")
    return None
