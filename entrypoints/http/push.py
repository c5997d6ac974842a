"""POST /v1/pubsub/push: Pub/Sub delivers a job; the call is processed and the job settled.

Pub/Sub's own redelivery backoff cannot honour a per-call delay (a CRM's Retry-After, a daily
quota), so the jobs table is the outbox that holds retries: after processing, the job is
completed or rescheduled there and the push is acknowledged (204); the dispatcher publishes it
again when it is due. Only when nothing could be recorded (the database is down) does the
answer ask Pub/Sub to redeliver (503). A malformed envelope gets 400: Pub/Sub retries it up to
the subscription's maximum and then moves it to the dead-letter topic."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from entrypoints.http.keys import CONTAINER
from entrypoints.http.webhook import read_json_body

log = logging.getLogger("ingestion_pipeline.push")
VERIFIER = web.AppKey("oidc_verifier", object)


async def pubsub_push(request: web.Request) -> web.Response:
    from adapters.pubsub.push import OidcVerifier, parse_push_envelope

    container = request.app[CONTAINER]
    verifier = request.app.get(VERIFIER)
    if isinstance(verifier, OidcVerifier):
        await verifier.verify(request.headers.get("Authorization"))
    body = await read_json_body(request)
    if isinstance(body, web.Response):
        return body
    pushed = parse_push_envelope(body)
    job = pushed.job
    owner = f"push/{pushed.message_id}"
    tracer = container.tracer()
    context = {"tenant_id": job.tenant_id, "call_id": job.call_id}
    # The delivery continues the call's trace from the message's attributes; this request's
    # own span (the push as Pub/Sub made it) stays in its own trace.
    with (
        tracer.extract(job.trace_context),
        tracer.span("deliver.push", context, kind="consumer") as span,
    ):
        result = await container.deliver_job()(job, owner)
        span.set_attribute("outcome", result.outcome.value)
        log.info(
            "call %s: %s at %s",
            job.call_id,
            result.outcome,
            result.stage,
            extra={**context, "event": result.outcome.value},
        )
    return web.Response(status=204)


async def _verifier(app: web.Application) -> AsyncIterator[None]:
    """OIDC verification of the push's token, when an audience is configured (in GCP; the
    emulator sends no token)."""
    from adapters.pubsub.push import OidcVerifier, aiohttp_fetch

    cloud = app[CONTAINER].settings().cloud
    if cloud.push_audience is None:
        yield
        return
    async with aiohttp.ClientSession() as session:
        app[VERIFIER] = OidcVerifier(
            cloud.push_audience,
            cloud.push_service_account or "",
            fetch=aiohttp_fetch(session),
            clock=app[CONTAINER].clock(),
        )
        yield


def add_routes(app: web.Application) -> None:
    app.cleanup_ctx.append(_verifier)
    app.router.add_post("/v1/pubsub/push", pubsub_push)
