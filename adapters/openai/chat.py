"""Any OpenAI-compatible server's chat completions (OpenAI, Ollama's /v1, llama.cpp's server,
vLLM) as the StructuredModel port: one `POST {base}/v1/chat/completions` per `generate`, with a
system and a user message, temperature 0 and the answer's JSON Schema as `response_format`.

Servers differ in the structured-output form they take. `json_schema` is OpenAI's
(`{"type": "json_schema", "json_schema": {"name", "schema", "strict"}}`, also vLLM's and
Ollama's); `json_object` sends `{"type": "json_object", "schema": ...}`, which llama.cpp's
servers turn into a grammar and plain OpenAI reads as "some JSON object" (the schema is then
also in the system message). `auto` starts with json_schema and switches for good to
json_object the first time a server refuses the former (llama-cpp-python answers 500 with a
validation error naming response_format).

Every request has a timeout. The server's words never reach a log or an error: failures are
short reasons ("HTTP 503", "rate limited (HTTP 429)", "timed out"), and the API key, resolved
through the SecretStore for each request, goes only into the Authorization header."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import aiohttp

from domain.errors import PermanentFailure, RateLimited, SecretNotFound, TransientFailure
from domain.resilience import json_or_none, read_at_most, retry_after_s
from domain.tenant import AiConfig
from ports.llm import LlmAnswer, LlmRequest, StructuredModel
from ports.secrets import SecretStore

RESPONSE_FORMATS = ("auto", "json_schema", "json_object")
RETRIED_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
MAX_BODY_BYTES = 1024 * 1024
_SCHEMA_NAME = "call_analysis"
# How llama-cpp-python and others say they do not take OpenAI's json_schema form.
_FORMAT_REFUSALS = ("response_format", "json_schema", "json_object")


class OpenAiChatModel(StructuredModel):
    engine = "openai"

    def __init__(
        self,
        endpoint: str,
        model: str,
        *,
        secrets: SecretStore | None = None,
        api_key_ref: str | None = None,
        response_format: str = "auto",
        request_timeout_s: float = 60.0,
    ):
        """`endpoint`: the chat completions URL (see chat_completions_url); `model`: the
        server's name for the model, the same for every tenant."""
        if response_format not in RESPONSE_FORMATS:
            raise ValueError(f"response_format must be one of {', '.join(RESPONSE_FORMATS)}")
        if api_key_ref and secrets is None:
            raise ValueError("an API key reference needs a secret store")
        self._endpoint = endpoint
        self._model = model
        self._secrets = secrets
        self._api_key_ref = api_key_ref or None
        self._schema_form = "json_object" if response_format == "json_object" else "json_schema"
        self._may_switch = response_format == "auto"
        self._timeout = aiohttp.ClientTimeout(total=request_timeout_s)
        self._session: aiohttp.ClientSession | None = None

    def model_for(self, ai: AiConfig) -> str:
        return self._model

    async def generate(self, request: LlmRequest) -> LlmAnswer:
        headers = {"Accept": "application/json", **await self._authorization()}
        while True:
            form = self._schema_form
            status, retry_after_s, body = await self._post(_body(request, form), headers)
            if status == 200:
                return _answer(body)
            if self._may_switch and form == "json_schema" and _refuses_json_schema(status, body):
                self._schema_form, self._may_switch = "json_object", False
                continue  # the same request in the form this server takes
            raise _status_error(status, retry_after_s)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _authorization(self) -> dict[str, str]:
        if self._api_key_ref is None or self._secrets is None:
            return {}
        try:
            key = await self._secrets.resolve(self._api_key_ref)
        except SecretNotFound:
            raise PermanentFailure("API key reference not found") from None
        return {"Authorization": f"Bearer {key}"}

    async def _post(
        self, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, float | None, Any]:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.post(self._endpoint, json=body, headers=headers) as response:
                raw = await read_at_most(response.content.iter_chunked(65536), MAX_BODY_BYTES)
                return response.status, _retry_after_s(response.headers), _json(raw)
        except TimeoutError:
            raise TransientFailure("timed out") from None
        except (aiohttp.ClientError, OSError):
            raise TransientFailure("unreachable") from None


def _body(request: LlmRequest, form: str) -> dict[str, Any]:
    schema = dict(request.schema)
    system = request.system
    if form == "json_schema":
        response_format: dict[str, Any] = {
            "type": "json_schema",
            # Not strict: OpenAI's strict mode refuses maxLength, which small models need.
            "json_schema": {"name": _SCHEMA_NAME, "schema": schema, "strict": False},
        }
    else:
        response_format = {"type": "json_object", "schema": schema}
        system += "\nThe JSON object follows this JSON Schema:\n" + json.dumps(schema)
    return {
        "model": request.model,
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": request.prompt},
        ],
        "temperature": 0,
        "top_p": 1,
        "frequency_penalty": 0,
        "presence_penalty": 0,
        "n": 1,
        "max_tokens": request.max_output_tokens,
        "stream": False,
        "response_format": response_format,
    }


def _answer(body: Any) -> LlmAnswer:
    """The first choice's text and the usage; the text stays unchecked (the core checks it)."""
    choices = body.get("choices") if isinstance(body, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise PermanentFailure("unreadable response")
    message = choices[0].get("message")
    message = message if isinstance(message, dict) else {}
    content = message.get("content")
    refusal = message.get("refusal")
    refused = None
    if isinstance(refusal, str) and refusal.strip():
        refused = "refusal"
    elif choices[0].get("finish_reason") == "content_filter":
        refused = "content_filter"
    usage = body.get("usage")
    usage = usage if isinstance(usage, dict) else {}
    return LlmAnswer(
        text=content if isinstance(content, str) else None,
        prompt_tokens=_count(usage.get("prompt_tokens")),
        output_tokens=_count(usage.get("completion_tokens")),  # reasoning tokens included
        total_tokens=_count(usage.get("total_tokens")),
        refused=refused,
    )


def _refuses_json_schema(status: int, body: Any) -> bool:
    if status not in (400, 422, 500):
        return False
    text = json.dumps(body).lower() if body is not None else ""
    return any(word in text for word in _FORMAT_REFUSALS)


def _status_error(status: int, retry_after_s: float | None) -> Exception:
    if status == 429:
        return RateLimited(f"rate limited (HTTP {status})", retry_after_s)
    if status in RETRIED_STATUSES or status >= 500:
        return TransientFailure(f"HTTP {status}", retry_after_s)
    return PermanentFailure(f"HTTP {status}")


def _retry_after_s(headers: Any) -> float | None:
    """`retry-after-ms` (OpenAI's), else `Retry-After` (seconds or an HTTP date)."""
    now = datetime.now(UTC)
    in_ms = retry_after_s(headers.get("retry-after-ms"), now, unit_s=0.001)
    return in_ms if in_ms is not None else retry_after_s(headers.get("Retry-After"), now)


def _json(raw: bytes | None) -> Any:
    return None if raw is None else json_or_none(raw)


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
