"""The CallAnalyzer port on Gemini in Vertex AI, through google-genai's native asyncio client.

One analysis is at most `output_attempts` (2) answers from the model, each of which
google-genai may retry `http_attempts` (3) times in all on 408/429/5xx and dropped connections,
with exponential backoff and jitter; all of it inside `deadline_s`. An answer is used only once
schema.parse_analysis has checked it. When Gemini cannot give a valid analysis (a 4xx, a
safety block, invalid output twice, retries or the deadline exhausted, no credentials) the
constructor-injected fallback analyzer answers instead, and its engine says so:
"rules (vertex fallback: invalid output)". A call is never failed for want of Gemini.

Token counts of every answer (the invalid ones cost tokens too) are summed per analysis and
published three ways: on the analysis itself (`CallAnalysis.usage`, which the pipeline meters
per tenant; the fallback's analysis carries the tokens Gemini spent before it gave up),
`last_usage`, which reads the usage of the last analysis awaited in the current asyncio task (a
context variable, so concurrent calls in other tasks never see each other's), and an optional
`on_usage` callback.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import re
from collections.abc import Callable

import aiohttp
import attrs
from google import genai
from google.auth.credentials import Credentials
from google.auth.exceptions import GoogleAuthError
from google.genai import errors as genai_errors
from google.genai import types

from adapters.vertex.prompt import SYSTEM_INSTRUCTION, build_prompt, has_speech
from adapters.vertex.schema import InvalidOutput, parse_analysis, response_schema
from domain.call import CallMetadata
from domain.results import CallAnalysis, Transcript
from domain.tenant import AiConfig
from domain.usage import UsageDelta
from ports.analysis import CallAnalyzer

DEFAULT_LOCATION = "us-central1"
ENGINE_PREFIX = "vertex:"
RETRIED_STATUSES = (408, 429, 500, 502, 503, 504)
# A publisher model id as Vertex names them ("gemini-2.5-flash", "gemini-2.0-flash-001").
_MODEL = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$", re.IGNORECASE)
_BLOCKING_FINISH = frozenset(
    {
        types.FinishReason.SAFETY,
        types.FinishReason.RECITATION,
        types.FinishReason.BLOCKLIST,
        types.FinishReason.PROHIBITED_CONTENT,
        types.FinishReason.SPII,
    }
)
_log = logging.getLogger("adapters.vertex")


@attrs.frozen
class TokenUsage:
    model: str
    prompt_tokens: int = 0
    output_tokens: int = 0  # candidates_token_count
    thinking_tokens: int = 0  # billed as output by Gemini 2.5
    total_tokens: int = 0
    responses: int = 0  # answers received, valid or not

    def plus(self, usage: types.GenerateContentResponseUsageMetadata | None) -> TokenUsage:
        if usage is None:
            return attrs.evolve(self, responses=self.responses + 1)
        return TokenUsage(
            self.model,
            self.prompt_tokens + (usage.prompt_token_count or 0),
            self.output_tokens + (usage.candidates_token_count or 0),
            self.thinking_tokens + (usage.thoughts_token_count or 0),
            self.total_tokens + (usage.total_token_count or 0),
            self.responses + 1,
        )

    def metered(self) -> UsageDelta:
        """As usage metering counts it: thinking tokens are billed as output."""
        return UsageDelta(
            llm_tokens_in=self.prompt_tokens,
            llm_tokens_out=self.output_tokens + self.thinking_tokens,
        )


_LAST_USAGE: contextvars.ContextVar[TokenUsage | None] = contextvars.ContextVar(
    "vertex_last_usage", default=None
)


@attrs.define
class _Tally:
    usage: TokenUsage


class _NoAnalysis(Exception):
    """Gemini gave no usable analysis; the message is the short reason the engine shows."""


class VertexCallAnalyzer(CallAnalyzer):
    def __init__(
        self,
        fallback: CallAnalyzer,
        *,
        project: str,
        location: str = DEFAULT_LOCATION,
        credentials: Credentials | None = None,
        base_url: str | None = None,
        request_timeout_s: float = 60.0,
        deadline_s: float = 180.0,
        http_attempts: int = 3,
        backoff_initial_s: float = 1.0,
        backoff_max_s: float = 10.0,
        backoff_jitter_s: float = 1.0,
        output_attempts: int = 2,
        max_output_tokens: int = 8192,
        on_usage: Callable[[TokenUsage], None] | None = None,
    ):
        """`fallback` answers whenever Gemini cannot (the rules analyzer, in the composition
        root). `base_url` points at a local fake ("http://127.0.0.1:PORT/"); by default
        google-genai picks the location's endpoint. `credentials` default to Application
        Default Credentials, looked up on the first request."""
        self._fallback = fallback
        self._deadline_s = deadline_s
        self._output_attempts = max(1, output_attempts)
        self._on_usage = on_usage
        retry = types.HttpRetryOptions(
            attempts=max(1, http_attempts),
            initial_delay=backoff_initial_s,
            max_delay=backoff_max_s,
            exp_base=2.0,
            jitter=backoff_jitter_s,
            http_status_codes=list(RETRIED_STATUSES),
        )
        self._client = genai.Client(
            vertexai=True,
            project=project,
            location=location,
            credentials=credentials,
            http_options=types.HttpOptions(
                base_url=base_url, timeout=int(request_timeout_s * 1000), retry_options=retry
            ),
        )
        self._config = types.GenerateContentConfig(
            system_instruction=SYSTEM_INSTRUCTION,
            response_mime_type="application/json",
            response_schema=response_schema(),
            temperature=0.0,
            candidate_count=1,
            max_output_tokens=max_output_tokens,
        )

    @property
    def last_usage(self) -> TokenUsage | None:
        """Tokens of the last analysis awaited in this task; None if it sent no request."""
        return _LAST_USAGE.get()

    async def analyze(
        self, transcript: Transcript | None, metadata: CallMetadata, ai: AiConfig
    ) -> CallAnalysis:
        _LAST_USAGE.set(None)
        if transcript is None or not has_speech(transcript):
            return await self._instead(transcript, metadata, ai, "vertex skipped: no speech")
        model = ai.analysis_model.strip()
        if not _MODEL.match(model):
            return await self._instead(transcript, metadata, ai, "vertex fallback: bad model name")
        tally = _Tally(TokenUsage(model))
        try:
            async with asyncio.timeout(self._deadline_s):
                analysis = await self._ask(model, build_prompt(transcript, metadata, ai), tally)
                return attrs.evolve(analysis, usage=tally.usage.metered())
        except _NoAnalysis as exc:
            reason = str(exc)
        except Exception as exc:  # whatever the client raised, the call still gets analysed
            reason = _reason(exc)
            if reason.startswith("unexpected"):
                _log.exception("Gemini analysis failed unexpectedly (model %s)", model)
        finally:
            self._publish(tally.usage)
        _log.warning(
            "Gemini analysis unavailable (model %s): %s; using the fallback", model, reason
        )
        fallback = await self._instead(transcript, metadata, ai, f"vertex fallback: {reason}")
        return attrs.evolve(fallback, usage=tally.usage.metered())

    async def aclose(self) -> None:
        await self._client.aio.aclose()
        self._client.close()

    async def _ask(self, model: str, prompt: str, tally: _Tally) -> CallAnalysis:
        for _ in range(self._output_attempts):
            response = await self._client.aio.models.generate_content(
                model=model, contents=prompt, config=self._config
            )
            tally.usage = tally.usage.plus(response.usage_metadata)
            blocked = _blocked(response)
            if blocked is not None:
                raise _NoAnalysis(f"blocked ({blocked})")
            try:
                return parse_analysis(response.text, ENGINE_PREFIX + model)
            except InvalidOutput as exc:
                _log.info("Gemini answer rejected (model %s): %s", model, exc)
        raise _NoAnalysis("invalid output")

    async def _instead(
        self, transcript: Transcript | None, metadata: CallMetadata, ai: AiConfig, why: str
    ) -> CallAnalysis:
        analysis = await self._fallback.analyze(transcript, metadata, ai)
        return attrs.evolve(analysis, engine=f"{analysis.engine} ({why})")

    def _publish(self, usage: TokenUsage) -> None:
        if usage.responses == 0:
            return
        _LAST_USAGE.set(usage)
        if self._on_usage is not None:
            try:
                self._on_usage(usage)
            except Exception:  # a metrics hook must not cost the call its analysis
                _log.exception("on_usage callback failed")


def _blocked(response: types.GenerateContentResponse) -> str | None:
    feedback = response.prompt_feedback
    if feedback is not None and feedback.block_reason is not None:
        return f"prompt {feedback.block_reason.value}"
    candidates = response.candidates or []
    if candidates and candidates[0].finish_reason in _BLOCKING_FINISH:
        reason = candidates[0].finish_reason
        return reason.value if reason is not None else None
    return None


def _reason(exc: BaseException) -> str:
    """A short reason for the engine label: no message text, which may quote the request."""
    if isinstance(exc, genai_errors.UnknownApiResponseError):
        return "unreadable response"
    if isinstance(exc, genai_errors.APIError):
        return f"rate limited (HTTP {exc.code})" if exc.code == 429 else f"HTTP {exc.code}"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, GoogleAuthError):
        return "credentials"
    if isinstance(exc, aiohttp.ClientError | OSError):
        return "unreachable"
    return f"unexpected {type(exc).__name__}"
