"""An OpenAI-compatible chat completions stand-in: `POST /v1/chat/completions` and
`GET /v1/models` as OpenAI, Ollama's /v1 and llama.cpp's servers answer them, errors included
(`{"error": {"message", "type", "param", "code"}}`, 429 with Retry-After).

It checks what the adapter relies on (a model, a system and a user message, temperature 0, a
response_format with a JSON Schema) and answers `answer` as the model's JSON text, with
deterministic token counts (a token per 4 characters of the messages and of the answer).
`api_key`, when set, must come as a bearer token. With `json_schema_refused` it refuses OpenAI's
json_schema form with a 500 as llama-cpp-python's server does. Tests steer it with
`throttle_next`, `fail_next`, `malformed_next`, `invalid_next`, `refuse_next`, `stall_next` and
the `always` reply, and read `requests` (every request, body parsed)."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from entrypoints.standins import RecordedRequest, record
from entrypoints.standins.vertex import DEFAULT_ANSWER, MALFORMED

__all__ = ["DEFAULT_ANSWER", "MALFORMED", "FakeOpenAi"]

# Kinds of reply: "valid", "malformed", "invalid" (JSON, but not the schema's object),
# "refused", "stall" (no answer until `release` is set), or an HTTP status.
Reply = str | int
_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 404: "invalid_request_error",
          429: "rate_limit_exceeded", 500: "server_error", 503: "server_error"}  # fmt: skip


def _error(status: int, message: str, headers: Mapping[str, str] | None = None) -> web.Response:
    kind = _TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    body = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    return web.json_response(body, status=status, headers=headers)


def _tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


class FakeOpenAi:
    def __init__(self, answer: Mapping[str, Any] | None = None, model: str = "llama3.2"):
        self.answer: dict[str, Any] = dict(DEFAULT_ANSWER if answer is None else answer)
        self.model = model
        self.api_key: str | None = None
        self.json_schema_refused = False
        self.retry_after: str | None = None  # the Retry-After header of a 429
        self.always: Reply = "valid"
        self.release = asyncio.Event()  # lets stalled requests answer
        self.requests: list[RecordedRequest] = []
        self.headers: list[dict[str, str]] = []
        self._scripted: list[Reply] = []

    # --- switches for tests ---------------------------------------------------------------

    def throttle_next(self, count: int, retry_after: str | None = None) -> None:
        self._scripted += [429] * count
        self.retry_after = retry_after

    def fail_next(self, count: int, status: int = 500) -> None:
        self._scripted += [status] * count

    def malformed_next(self, count: int) -> None:
        self._scripted += ["malformed"] * count

    def invalid_next(self, count: int) -> None:
        self._scripted += ["invalid"] * count

    def refuse_next(self, count: int) -> None:
        self._scripted += ["refused"] * count

    def stall_next(self, count: int) -> None:
        self._scripted += ["stall"] * count

    @property
    def completions(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    # --- the application -----------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._complete)
        app.router.add_get("/v1/models", self._models)
        return app

    def _authorised(self, request: web.Request) -> bool:
        return self.api_key is None or request.headers.get("Authorization") == (
            f"Bearer {self.api_key}"
        )

    async def _models(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return _error(401, "Incorrect API key provided.")
        model = {"id": self.model, "object": "model", "created": 0, "owned_by": "stand-in"}
        return web.json_response({"object": "list", "data": [model]})

    async def _complete(self, request: web.Request) -> web.StreamResponse:
        await record(request, self.requests)
        self.headers.append(dict(request.headers))
        if not self._authorised(request):
            return _error(401, "Incorrect API key provided.")
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "We could not parse the JSON body of your request.")
        body = body if isinstance(body, dict) else {}
        problem = self._problem(body)
        if problem is not None:
            return problem
        reply = self._scripted.pop(0) if self._scripted else self.always
        if isinstance(reply, int):
            if reply == 429:
                headers = {"Retry-After": self.retry_after} if self.retry_after else None
                return _error(429, "Rate limit reached for requests.", headers)
            return _error(reply, "The server had an error while processing your request.")
        if reply == "stall":
            await self.release.wait()
        return web.json_response(self._completion(body, reply))

    def _problem(self, body: Mapping[str, Any]) -> web.Response | None:
        if not isinstance(body.get("model"), str) or not body["model"]:
            return _error(400, "you must provide a model parameter")
        messages = body.get("messages")
        roles = [m.get("role") for m in messages or [] if isinstance(m, dict)]
        if not isinstance(messages, list) or roles != ["system", "user"]:
            return _error(400, "messages must be a system then a user message")
        if body.get("temperature") != 0 or body.get("stream"):
            return _error(400, "temperature must be 0 and stream false")
        response_format = body.get("response_format")
        kind = response_format.get("type") if isinstance(response_format, dict) else None
        if kind == "json_schema" and self.json_schema_refused:
            detail = "Input should be 'text' or 'json_object'"  # llama-cpp-python's words
            return _error(500, f"1 validation error: response_format.type: {detail}")
        schema = None
        if kind == "json_schema":
            schema = (response_format.get("json_schema") or {}).get("schema")  # type: ignore[union-attr]
        elif kind == "json_object":
            schema = response_format.get("schema")  # type: ignore[union-attr]
        if not isinstance(schema, dict) or schema.get("type") != "object":
            return _error(400, "response_format must carry a JSON Schema of an object")
        return None

    def _completion(self, body: Mapping[str, Any], reply: Reply) -> dict[str, Any]:
        if reply == "malformed":
            text: str | None = MALFORMED
        elif reply == "invalid":
            text = json.dumps({**self.answer, "intent": "hot_lead", "is_spam": "no"})
        elif reply == "refused":
            text = None
        else:
            text = json.dumps(self.answer)
        prompt = "".join(str(m.get("content", "")) for m in body["messages"])
        prompt_tokens, output_tokens = _tokens(prompt), _tokens(text or "")
        message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
        if reply == "refused":
            message["refusal"] = "I'm sorry, I cannot help with that request."
        return {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": 1_767_225_600,
            "model": body["model"],
            "choices": [{"index": 0, "message": message, "logprobs": None,
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": output_tokens,
                      "total_tokens": prompt_tokens + output_tokens},
        }  # fmt: skip
