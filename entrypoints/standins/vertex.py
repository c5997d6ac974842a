"""A Vertex AI Gemini stand-in: `generateContent` as google-genai calls it with vertexai=True,
POST /v1beta1/projects/P/locations/L/publishers/google/models/M:generateContent, answering with
Vertex's GenerateContentResponse JSON (candidates, finishReason, usageMetadata).

It checks what the adapter relies on (a bearer token, contents, JSON output with a response
schema) and answers `answer` as the model's JSON text. Token counts are deterministic: a token
per 4 characters of the request's text and of the answer. Tests steer it with
`throttle_next`, `fail_next`, `malformed_next`, `block_next` and the `always` reply, and read
`requests` (every request, body parsed)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from entrypoints.standins import RecordedRequest, record

DEFAULT_ANSWER: dict[str, Any] = {
    "summary": "The caller's furnace stopped working and they asked for a repair visit.",
    "intent": "new_service_request",
    "sentiment": "neutral",
    "urgency": "high",
    "service_requested": "furnace repair",
    "appointment_booked": False,
    "caller_name": None,
    "caller_email": None,
    "is_spam": False,
    "is_existing_customer": False,
    "key_phrases": ["furnace stopped working", "no heat"],
}
MALFORMED = '{"summary": "The caller wants a furnace repair", "intent": "new_serv'
_STATUS = {
    400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE",
}  # fmt: skip
_NAME = "[^/:]+"
# Kinds of reply: "valid", "malformed", "blocked", "prompt_blocked", or an HTTP status.
Reply = str | int


def _error(status: int, message: str) -> web.Response:
    body = {"error": {"code": status, "message": message, "status": _STATUS.get(status, "")}}
    return web.json_response(body, status=status)


def _tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


class FakeVertex:
    def __init__(self, answer: Mapping[str, Any] | None = None):
        self.answer: dict[str, Any] = dict(DEFAULT_ANSWER if answer is None else answer)
        self.always: Reply = "valid"  # the reply once the scripted ones are used up
        self.requests: list[RecordedRequest] = []
        self._scripted: list[Reply] = []

    # --- switches for tests ---------------------------------------------------------------

    def throttle_next(self, count: int) -> None:
        self._scripted += [429] * count

    def fail_next(self, count: int, status: int = 500) -> None:
        self._scripted += [status] * count

    def malformed_next(self, count: int) -> None:
        self._scripted += ["malformed"] * count

    def block_next(self, count: int, prompt: bool = False) -> None:
        """A safety block: of the answer (finishReason SAFETY) or of the prompt itself."""
        self._scripted += ["prompt_blocked" if prompt else "blocked"] * count

    @property
    def generate_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith(":generateContent")]

    # --- the application -----------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application()
        path = (
            f"/{{version:v1|v1beta1}}/projects/{{project:{_NAME}}}/locations/{{location:{_NAME}}}"
            f"/publishers/{{publisher:{_NAME}}}/models/{{model:{_NAME}}}:generateContent"
        )
        app.router.add_post(path, self._generate)
        app.router.add_post(path.replace(":generateContent", ":countTokens"), self._count)
        return app

    async def _count(self, request: web.Request) -> web.Response:
        """CountTokens: a word a token, near enough for a stand-in."""
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            return _error(401, "Request is missing required authentication credential.")
        body = await request.json()
        words = sum(
            len(str(part.get("text", "")).split())
            for content in body.get("contents", [])
            for part in content.get("parts", [])
        )
        return web.json_response({"totalTokens": words, "totalBillableCharacters": 0})

    async def _generate(self, request: web.Request) -> web.Response:
        await record(request, self.requests)
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            return _error(401, "Request is missing required authentication credential.")
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "Invalid JSON payload received.")
        problem = _problem(body if isinstance(body, dict) else {})
        if problem:
            return _error(400, problem)
        reply = self._scripted.pop(0) if self._scripted else self.always
        if isinstance(reply, int):
            return _error(reply, "Resource exhausted." if reply == 429 else "Internal error.")
        prompt_tokens = _tokens(_request_text(body))
        model = request.match_info["model"]
        if reply == "prompt_blocked":
            return web.json_response(
                {
                    "promptFeedback": {"blockReason": "SAFETY", "blockReasonMessage": "Blocked."},
                    "usageMetadata": {"promptTokenCount": prompt_tokens,
                                      "totalTokenCount": prompt_tokens},
                    "modelVersion": model,
                }
            )  # fmt: skip
        text = MALFORMED if reply == "malformed" else json.dumps(self.answer)
        candidate: dict[str, Any] = {
            "content": {"role": "model", "parts": [{"text": text}]},
            "finishReason": "STOP",
        }
        if reply == "blocked":
            candidate = {
                "finishReason": "SAFETY",
                "safetyRatings": [
                    {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH",
                     "blocked": True}
                ],
            }  # fmt: skip
        output_tokens = _tokens(text) if "content" in candidate else 0
        return web.json_response(
            {
                "candidates": [candidate],
                "usageMetadata": {
                    "promptTokenCount": prompt_tokens,
                    "candidatesTokenCount": output_tokens,
                    "totalTokenCount": prompt_tokens + output_tokens,
                    "trafficType": "ON_DEMAND",
                },
                "modelVersion": model,
            }
        )


def _request_text(body: Mapping[str, Any]) -> str:
    parts = [p for c in body.get("contents", []) for p in c.get("parts", [])]
    parts += (body.get("systemInstruction") or {}).get("parts", [])
    return "".join(str(p.get("text", "")) for p in parts if isinstance(p, dict))


def _problem(body: Mapping[str, Any]) -> str | None:
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        return "Unable to submit request because it has an empty contents field."
    config = body.get("generationConfig")
    if not isinstance(config, dict):
        return "generationConfig must be given."
    if config.get("responseMimeType") != "application/json":
        return "responseMimeType must be application/json."
    if not isinstance(config.get("responseSchema"), dict):
        return "responseSchema must be given."
    return None
