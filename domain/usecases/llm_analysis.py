"""The CallAnalyzer on a language model, whatever carries the request (ports.llm).

One analysis is at most `answer_attempts` answers from the model (an answer that is not the
schema's object is asked for again), each of which may take up to `request_attempts` requests
when the transport reports a transient failure (a timeout, 408, 429, 5xx, a dropped connection),
with exponential backoff and jitter, at least the server's Retry-After and at most the backoff's
cap; all of it inside `deadline_s`. An answer is used only once analysis_schema.parse_analysis
has checked it: what a model says is untrusted input. When the model cannot give a valid
analysis (a refusal, a 4xx, invalid output every time, retries or the deadline exhausted) the
injected fallback analyzer answers instead, and its engine says so:
"rules (openai fallback: invalid output)". A call is never failed for want of a model.

Token counts of every answer (the invalid ones cost tokens too) are summed per analysis and
published three ways: on the analysis itself (`CallAnalysis.usage`, which the pipeline meters
per tenant; the fallback's analysis carries the tokens the model spent before it gave up),
`last_usage`, which reads the usage of the last analysis awaited in the current asyncio task (a
context variable, so concurrent calls in other tasks never see each other's), and an optional
`on_usage` callback.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import re
from collections.abc import Awaitable, Callable

import attrs

from domain.analysis_prompt import SYSTEM_INSTRUCTION, build_prompt, has_speech
from domain.analysis_schema import InvalidOutput, parse_analysis, response_schema
from domain.call import CallMetadata
from domain.errors import DomainError, TransientFailure
from domain.llm import TokenUsage
from domain.results import CallAnalysis, Transcript
from domain.tenant import AiConfig
from domain.throttle import backoff_s
from ports.analysis import CallAnalyzer
from ports.llm import LlmAnswer, LlmRequest, StructuredModel

# A model id as servers name them ("gemini-2.5-flash", "llama3.2:3b", "org/model-7B.Q4_K_M").
_MODEL = re.compile(r"^[a-z0-9][a-z0-9._:/@+-]{0,199}$", re.IGNORECASE)
_LAST_USAGE: contextvars.ContextVar[TokenUsage | None] = contextvars.ContextVar(
    "llm_last_usage", default=None
)


def _at_least_one(value: int) -> int:
    return max(1, int(value))


@attrs.frozen
class LlmPolicy:
    deadline_s: float = 180.0
    request_attempts: int = attrs.field(default=3, converter=_at_least_one)
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 10.0  # also the most a server's Retry-After can make us wait
    answer_attempts: int = attrs.field(default=2, converter=_at_least_one)
    max_output_tokens: int = 8192


@attrs.frozen
class LlmEvent:
    """Something an adapter logs: "rejected" (an answer failed validation), "retry" (a
    transient failure, asked again after `delay_s`), "fallback" (the fallback answers;
    `error` is set when the cause was unexpected), "hook failed" (on_usage raised). `reason`
    never holds the model's text or the server's."""

    kind: str
    model: str
    reason: str
    delay_s: float | None = None
    error: BaseException | None = None

    @property
    def severity(self) -> str:
        """ "info", "warning" or "error", as the logging module names its levels."""
        if self.error is not None:
            return "error"
        return "warning" if self.kind == "fallback" else "info"

    def describe(self, service: str) -> str:
        """One log line's text; `service` names the server ("Gemini")."""
        if self.kind == "rejected":
            return f"{service} answer rejected (model {self.model}): {self.reason}"
        if self.kind == "retry":
            wait = f"{self.delay_s or 0.0:.2f}s"
            return f"{service} request failed (model {self.model}): {self.reason}; retry in {wait}"
        if self.kind == "fallback":
            return (
                f"{service} analysis unavailable (model {self.model}): {self.reason};"
                " using the fallback"
            )
        return f"{service} analysis (model {self.model}): {self.kind}: {self.reason}"


@attrs.define
class _Tally:
    usage: TokenUsage


class _NoAnalysis(Exception):
    """The model gave no usable analysis; the message is the short reason the engine shows."""


class LlmCallAnalyzer(CallAnalyzer):
    def __init__(
        self,
        model: StructuredModel,
        fallback: CallAnalyzer,
        *,
        policy: LlmPolicy,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_usage: Callable[[TokenUsage], None] | None = None,
        on_event: Callable[[LlmEvent], None] | None = None,
    ):
        """`fallback` answers whenever the model cannot (the rules analyzer, in the composition
        root). `sleep` waits between requests (a test may pass its own)."""
        self._model = model
        self._fallback = fallback
        self._policy = policy
        self._sleep = sleep
        self._on_usage = on_usage
        self._on_event = on_event

    @property
    def last_usage(self) -> TokenUsage | None:
        """Tokens of the last analysis awaited in this task; None if it had no answer."""
        return _LAST_USAGE.get()

    async def analyze(
        self, transcript: Transcript | None, metadata: CallMetadata, ai: AiConfig
    ) -> CallAnalysis:
        _LAST_USAGE.set(None)
        engine = self._model.engine
        if transcript is None or not has_speech(transcript):
            return await self._instead(transcript, metadata, ai, f"{engine} skipped: no speech")
        model = self._model.model_for(ai).strip()
        if not _MODEL.match(model):
            return await self._instead(
                transcript, metadata, ai, f"{engine} fallback: bad model name"
            )
        request = LlmRequest(
            model=model,
            system=SYSTEM_INSTRUCTION,
            prompt=build_prompt(transcript, metadata, ai),
            schema=response_schema(ai.questions),
            max_output_tokens=self._policy.max_output_tokens,
        )
        tally = _Tally(TokenUsage(model))
        unexpected: BaseException | None = None
        try:
            async with asyncio.timeout(self._policy.deadline_s):
                analysis = await self._ask(request, f"{engine}:{model}", tally, transcript, ai)
            # Who called and their address come from the fallback's reading of what was said,
            # never the model's: a wrong address in a CRM is worse than none, and a small model
            # writes addresses no caller spelled out (Gemma 3 270M on the labelled set: 6
            # emails for 2 said, "direct" and "no" as names).
            # The words behind them are the fallback's too.
            said = await self._fallback.analyze(transcript, metadata, ai)
            contact = ("caller_name", "caller_email")
            evidence = [e for e in analysis.evidence if e.signal not in contact]
            evidence += [e for e in said.evidence if e.signal in contact]
            return attrs.evolve(
                analysis,
                caller_name=said.caller_name,
                caller_email=said.caller_email,
                evidence=tuple(evidence),
                usage=tally.usage.metered(),
            )
        except _NoAnalysis as exc:
            reason = str(exc)
        except DomainError as exc:  # the transport's TransientFailure / PermanentFailure
            reason = str(exc) or type(exc).__name__
        except TimeoutError:
            reason = "timed out"
        except Exception as exc:  # whatever the transport let through, the call is analysed
            reason, unexpected = f"unexpected {type(exc).__name__}", exc
        finally:
            self._publish(tally.usage)
        self._event(LlmEvent("fallback", model, reason, error=unexpected))
        fallback = await self._instead(transcript, metadata, ai, f"{engine} fallback: {reason}")
        return attrs.evolve(fallback, usage=tally.usage.metered())

    async def aclose(self) -> None:
        await self._model.aclose()

    async def _ask(
        self,
        request: LlmRequest,
        engine: str,
        tally: _Tally,
        transcript: Transcript,
        ai: AiConfig,
    ) -> CallAnalysis:
        for _ in range(self._policy.answer_attempts):
            answer = await self._answer(request)
            tally.usage = tally.usage.plus(
                answer.prompt_tokens,
                answer.output_tokens,
                answer.thinking_tokens,
                answer.total_tokens,
            )
            if answer.refused is not None:
                raise _NoAnalysis(f"blocked ({answer.refused})")
            try:
                analysis = parse_analysis(answer.text, engine, ai.questions, transcript)
            except InvalidOutput as exc:
                self._event(LlmEvent("rejected", request.model, str(exc)))
                continue
            if analysis.dropped_quotes or analysis.invalid_answers:
                reason = (
                    f"{analysis.dropped_quotes} quote(s) not in the transcript dropped,"
                    f" {analysis.invalid_answers} answer(s) of the wrong type nulled"
                )
                self._event(LlmEvent("checked", request.model, reason))
            return analysis
        raise _NoAnalysis("invalid output")

    async def _answer(self, request: LlmRequest) -> LlmAnswer:
        policy = self._policy
        for attempt in range(1, policy.request_attempts + 1):
            try:
                return await self._model.generate(request)
            except TransientFailure as exc:
                if attempt == policy.request_attempts:
                    raise
                jitter = _jitter(request, attempt)
                delay = backoff_s(attempt, policy.backoff_base_s, policy.backoff_cap_s, jitter)
                if exc.retry_after_s is not None:
                    delay = max(delay, min(exc.retry_after_s, policy.backoff_cap_s))
                self._event(LlmEvent("retry", request.model, str(exc), delay_s=delay))
                await self._sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")

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
            except Exception as exc:  # a metrics hook must not cost the call its analysis
                self._event(LlmEvent("hook failed", usage.model, "on_usage", error=exc))

    def _event(self, event: LlmEvent) -> None:
        if self._on_event is not None:
            self._on_event(event)


def _jitter(request: LlmRequest, attempt: int) -> float:
    """A number in [0, 1] from the request and the attempt, not from a random source (as
    domain.retry does): calls retried together still spread out, and a test can predict it."""
    digest = hashlib.sha256(f"{request.model}:{request.prompt}:{attempt}".encode()).digest()
    return digest[0] / 255
