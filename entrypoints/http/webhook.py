"""CallRail's webhook: thin. Check size and type, hand the raw bytes to the use case, answer.

Post-call and Call Modified bodies come to the same routes (CallRail configures a URL per
event; give both the same one) and pass the same checks: size, media type, encoding, nesting,
then the signature in the use case. The use case tells them apart by the body."""

from __future__ import annotations

import orjson
from aiohttp import hdrs, web

from domain.usecases.intake import ReceiveWebhook
from domain.webhook import MAX_NESTING, SIGNATURE_HEADER, nested_too_deep
from entrypoints.http.keys import CONTAINER
from entrypoints.http.problem_types import MALFORMED_BODY, PAYLOAD_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE
from entrypoints.http.problems import end_unreadable_body, problem_of

MAX_BODY = 1024 * 1024


def is_json(content_type: str) -> bool:
    return content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


async def read_json_body(request: web.Request, limit: int = MAX_BODY) -> bytes | web.Response:
    """The raw body, or the problem to answer instead (413 too large, 415 not JSON or encoded,
    400 nested deeper than any later read of it could follow)."""
    if request.content_length is not None and request.content_length > limit:
        return problem_of(PAYLOAD_TOO_LARGE, f"the body must be at most {limit} bytes")
    if not is_json(request.content_type):
        return problem_of(UNSUPPORTED_MEDIA_TYPE, "send the body as application/json")
    if request.headers.get(hdrs.CONTENT_ENCODING, "identity").strip().lower() != "identity":
        # What was signed is the body as sent, and a small compressed body can inflate past any
        # cap. aiohttp has begun inflating gzip and deflate: a body that is neither is ended.
        refused = problem_of(UNSUPPORTED_MEDIA_TYPE, "send the body without a Content-Encoding")
        return end_unreadable_body(request, refused)
    if request.content_length is not None:
        # The usual case: a declared length, checked above; aiohttp reads no more than it.
        body = await request.read()
    else:
        chunks = bytearray()  # chunked: counted as it comes
        async for chunk in request.content.iter_chunked(64 * 1024):
            chunks.extend(chunk)
            if len(chunks) > limit:
                return problem_of(PAYLOAD_TOO_LARGE, f"the body must be at most {limit} bytes")
        body = bytes(chunks)
    if nested_too_deep(body):
        return problem_of(
            MALFORMED_BODY, f"the body nests arrays and objects more than {MAX_NESTING} deep"
        )
    return body


def _json_text(value: object) -> str:
    return orjson.dumps(value).decode()


async def callrail_webhook(request: web.Request) -> web.Response:
    body = await read_json_body(request)
    if isinstance(body, web.Response):
        return body
    result = await request.app[CONTAINER].accept_webhook()(
        ReceiveWebhook(
            body=body,
            signature=request.headers.get(SIGNATURE_HEADER),
            tenant_id=request.match_info.get("tenant_id"),
        )
    )
    call = result.call
    answer: dict[str, object] = {
        "tenant_id": call.tenant_id,
        "call_id": call.call_id,
        "status": call.status,
        "stage": call.stage.value,
        "duplicate": result.duplicate,
    }
    if result.change is not None and not result.duplicate:
        answer["change"] = result.change.value  # a Call Modified applied: what it changed
    # 202 when the call is queued to run (new, or again); 200 when the answer is all there is.
    return web.json_response(
        answer, status=202 if result.created or result.reruns else 200, dumps=_json_text
    )


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/callrail/webhook", callrail_webhook)
    app.router.add_post("/v1/callrail/webhook/{tenant_id}", callrail_webhook)
