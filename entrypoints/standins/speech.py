"""A Speech-to-Text v2 stand-in: the REST surface google-cloud-speech's SpeechClient uses with
transport="rest" for BatchRecognize, from memory.

- `POST /v2/projects/P/locations/L/recognizers/R:batchRecognize` checks the request the way
  the adapter relies on (one gs:// file, inline output, a model, a language, a decoding config)
  and answers a google.longrunning Operation;
- `GET /v2/projects/P/locations/L/operations/N` answers it not done `polls_before_done` times,
  then done with a BatchRecognizeResponse whose words carry offsets and speaker labels only if
  the request asked for them (`enableWordTimeOffsets`, `diarizationConfig`); a request with
  `processingStrategy` DYNAMIC_BATCHING is recorded as such (`dynamic`), and answered the
  same way: the wait is the polls a test gives it;
- `POST /v2/.../operations/N:cancel` marks it cancelled.

Errors have Google's JSON shape `{"error": {"code", "message", "status"}}`. Tests steer it
through `script`, `file_error`, `operation_error`, `throttle_next`, `fail_next`, `never_finish`
and read `requests` and `cancelled`. A local run can give it `default_turns` for recordings
nobody scripted."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import attrs
from aiohttp import web

from entrypoints.standins import RecordedRequest, record

_TYPE = "type.googleapis.com/google.cloud.speech.v2."
_STATUS = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED",
           500: "INTERNAL", 503: "UNAVAILABLE"}  # fmt: skip
_NAME = "[^/:]+"


@attrs.frozen
class Turn:
    speaker: str
    start_s: float
    end_s: float
    text: str


@attrs.define
class _Operation:
    name: str
    uri: str
    words_timed: bool
    diarized: bool
    language: str
    polls_left: int
    dynamic: bool = False  # processingStrategy DYNAMIC_BATCHING
    cancelled: bool = False


def _error(status: int, message: str) -> web.Response:
    body = {"error": {"code": status, "message": message, "status": _STATUS.get(status, "")}}
    return web.json_response(body, status=status)


def _duration(seconds: float) -> str:
    return f"{seconds:.3f}s"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class FakeSpeech:
    def __init__(self, default_turns: Sequence[Turn] | None = None, polls_before_done: int = 1):
        self.default_turns = list(default_turns) if default_turns is not None else None
        self.polls_before_done = polls_before_done
        self.never_finish = False
        self.transcripts: dict[str, list[Turn]] = {}
        self.file_errors: dict[str, tuple[int, str]] = {}
        self.operation_errors: dict[str, tuple[int, str]] = {}
        self.operations: dict[str, _Operation] = {}
        self.cancelled: list[str] = []
        self.requests: list[RecordedRequest] = []
        self._ids = itertools.count(7_000_001)
        self._scripted: list[tuple[int, str]] = []

    # --- switches for tests ---------------------------------------------------------------

    def script(self, uri: str, turns: Sequence[Turn]) -> None:
        self.transcripts[uri] = list(turns)

    def file_error(
        self, uri: str, code: int = 3, message: str = "Audio can not be decoded."
    ) -> None:
        """The operation finishes, with this google.rpc.Status as the file's result."""
        self.file_errors[uri] = (code, message)

    def operation_error(
        self, uri: str, code: int = 7, message: str = "Permission denied on the bucket."
    ) -> None:
        """The operation itself finishes failed, with this google.rpc.Status."""
        self.operation_errors[uri] = (code, message)

    def throttle_next(self, count: int) -> None:
        self._scripted += [(429, "Quota exceeded for quota metric 'Requests'.")] * count

    def fail_next(self, count: int, status: int = 500) -> None:
        self._scripted += [(status, "Internal error encountered.")] * count

    # --- the application -----------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware])
        base = f"/v2/projects/{{project:{_NAME}}}/locations/{{location:{_NAME}}}"
        r = app.router
        r.add_post(base + f"/recognizers/{{recognizer:{_NAME}}}:batchRecognize", self._batch)
        r.add_get(base + f"/operations/{{operation:{_NAME}}}", self._get)
        r.add_post(base + f"/operations/{{operation:{_NAME}}}:cancel", self._cancel)
        r.add_get(base + "/recognizers", self._list_recognizers)
        return app

    async def _list_recognizers(self, request: web.Request) -> web.Response:
        """ListRecognizers: none are created here (the calls use the implicit `_`)."""
        return web.json_response({"recognizers": []})

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        await record(request, self.requests)
        if self._scripted:
            status, message = self._scripted.pop(0)
            return _error(status, message)
        response: web.StreamResponse = await handler(request)
        return response

    async def _batch(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "Invalid JSON payload received.")
        problem = _problem(body if isinstance(body, dict) else {})
        if problem:
            return _error(400, problem)
        config, info = body["config"], request.match_info
        features = config.get("features") or {}
        name = (
            f"projects/{info['project']}/locations/{info['location']}/operations/{next(self._ids)}"
        )
        self.operations[name] = _Operation(
            name=name,
            uri=body["files"][0]["uri"],
            words_timed=bool(features.get("enableWordTimeOffsets")),
            diarized="diarizationConfig" in features,
            language=config["languageCodes"][0],
            polls_left=self.polls_before_done,
            dynamic=body.get("processingStrategy") in (1, "DYNAMIC_BATCHING"),
        )
        return web.json_response(self._operation(self.operations[name], done=False))

    async def _get(self, request: web.Request) -> web.Response:
        operation = self._find(request)
        if operation is None:
            return _error(404, "Operation not found.")
        if operation.cancelled:
            answer = self._operation(operation, done=True)
            answer["error"] = {"code": 1, "message": "Operation was cancelled."}
            return web.json_response(answer)
        if self.never_finish or operation.polls_left > 0:
            operation.polls_left -= 1
            return web.json_response(self._operation(operation, done=False))
        answer = self._operation(operation, done=True)
        if operation.uri in self.operation_errors:
            code, message = self.operation_errors[operation.uri]
            answer["error"] = {"code": code, "message": message}
            return web.json_response(answer)
        answer["response"] = {
            "@type": _TYPE + "BatchRecognizeResponse",
            "results": {operation.uri: self._file_result(operation)},
            "totalBilledDuration": self._billed(operation.uri),
        }
        return web.json_response(answer)

    async def _cancel(self, request: web.Request) -> web.Response:
        operation = self._find(request)
        if operation is None:
            return _error(404, "Operation not found.")
        operation.cancelled = True
        self.cancelled.append(operation.name)
        return web.json_response({})

    # --- answers -------------------------------------------------------------------------

    def _find(self, request: web.Request) -> _Operation | None:
        info = request.match_info
        name = f"projects/{info['project']}/locations/{info['location']}/operations/"
        return self.operations.get(name + info["operation"])

    def _operation(self, operation: _Operation, done: bool) -> dict[str, Any]:
        metadata = {
            "@type": _TYPE + "OperationMetadata",
            "createTime": _now(),
            "updateTime": _now(),
            "method": "google.cloud.speech.v2.Speech.BatchRecognize",
            "progressPercent": 100 if done else 0,
        }
        answer: dict[str, Any] = {"name": operation.name, "metadata": metadata}
        if done:
            answer["done"] = True
        return answer

    def _file_result(self, operation: _Operation) -> dict[str, Any]:
        if operation.uri in self.file_errors:
            code, message = self.file_errors[operation.uri]
            return {"error": {"code": code, "message": message}}
        turns = self._turns(operation.uri)
        if turns is None:
            return {"error": {"code": 5, "message": f"Unable to access {operation.uri}."}}
        results = [_result(turn, operation) for turn in turns]
        billed = {"totalBilledDuration": self._billed(operation.uri)}
        return {
            "metadata": billed,
            "inlineResult": {"transcript": {"results": results, "metadata": billed}},
        }

    def _turns(self, uri: str) -> list[Turn] | None:
        return self.transcripts.get(uri, self.default_turns)

    def _billed(self, uri: str) -> str:
        turns = self._turns(uri) or []
        return f"{math.ceil(max((t.end_s for t in turns), default=0.0))}s"


def _result(turn: Turn, operation: _Operation) -> dict[str, Any]:
    words = turn.text.split()
    step = (turn.end_s - turn.start_s) / max(len(words), 1)
    infos = []
    for n, word in enumerate(words):
        info: dict[str, Any] = {"word": word}
        if operation.words_timed:
            info["startOffset"] = _duration(turn.start_s + n * step)
            info["endOffset"] = _duration(turn.start_s + (n + 1) * step)
        if operation.diarized:
            info["speakerLabel"] = turn.speaker
        infos.append(info)
    return {
        "alternatives": [{"transcript": turn.text, "words": infos}],
        "resultEndOffset": _duration(turn.end_s),
        "languageCode": operation.language.lower(),
    }


def _problem(body: dict[str, Any]) -> str | None:
    """What the service would refuse in a request, as its 400 message would say it."""
    files = body.get("files")
    if not isinstance(files, list) or len(files) != 1:
        return "Inline response output requires exactly one file in the request."
    uri = files[0].get("uri") if isinstance(files[0], dict) else None
    if not isinstance(uri, str) or not uri.startswith("gs://"):
        return "Audio file URI must be a Cloud Storage URI (gs://bucket/object)."
    output = body.get("recognitionOutputConfig")
    if not isinstance(output, dict) or "inlineResponseConfig" not in output:
        return "Output config must be specified."
    config = body.get("config")
    if not isinstance(config, dict):
        return "Recognition config must be specified."
    if not config.get("model"):
        return "Model must be specified."
    languages = config.get("languageCodes")
    if not isinstance(languages, list) or not languages:
        return "Language codes must be specified."
    if "autoDecodingConfig" not in config and "explicitDecodingConfig" not in config:
        return "Decoding config must be specified."
    return None
