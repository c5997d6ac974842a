"""A language model that answers a prompt with JSON shaped by a schema: what an LLM-backed
CallAnalyzer needs from a transport (Gemini on Vertex AI, any OpenAI-compatible server).

The transport does one request per `generate` and no retries of its own: it raises
TransientFailure (RateLimited for a 429, with the server's wait hint) for what is worth asking
again (timeouts, 408, 429, 5xx, a dropped connection) and PermanentFailure for what is not (other
4xx, bad credentials, an unreadable response). Their messages are short reasons such as
"HTTP 503" or "timed out", shown in the analysis's engine label: never the server's own text,
which may quote the request, and never a credential."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import attrs

from domain.tenant import AiConfig


@attrs.frozen
class LlmRequest:
    model: str
    system: str  # the instructions
    prompt: str  # the call, as data
    schema: Mapping[str, Any]  # JSON Schema of the answer
    max_output_tokens: int


@attrs.frozen
class LlmAnswer:
    text: str | None  # the model's JSON text, unchecked; None when it gave none
    prompt_tokens: int = 0
    output_tokens: int = 0
    thinking_tokens: int = 0
    total_tokens: int = 0
    refused: str | None = None  # a safety block or refusal: a short reason, and no analysis


class StructuredModel(Protocol):
    @property
    def engine(self) -> str:
        """The transport's name in an analysis's engine label: "vertex", "openai"."""
        ...

    def model_for(self, ai: AiConfig) -> str:
        """The model that analyses this tenant's calls."""
        ...

    async def generate(self, request: LlmRequest) -> LlmAnswer:
        """One request to the model; see the module's docstring for what it raises."""
        ...

    async def aclose(self) -> None: ...
