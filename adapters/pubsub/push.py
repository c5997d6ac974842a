"""What POST /v1/pubsub/push needs from Pub/Sub, as pure functions: the push envelope parsed and
checked, and (re-exported from .oidc) the verifier of the OIDC token Google signs it with.

The envelope, as Pub/Sub (and its emulator) sends it:
  {"message": {"data": base64, "attributes": {...}, "messageId": "...", "publishTime": "..."},
   "subscription": "projects/P/subscriptions/S", "deliveryAttempt": 3}
deliveryAttempt is present only on subscriptions with a dead-letter policy. Keys we do not read
(Pub/Sub repeats message_id and publish_time in snake case) are ignored, so a field Google adds
later does not turn every delivery into a 400."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from adapters.pubsub.message import IDENTITY_ATTRIBUTES, is_trace_attribute
from adapters.pubsub.oidc import Fetch, HttpAnswer, OidcVerifier, PushCaller, aiohttp_fetch
from domain.errors import MalformedPayload
from domain.jobs import Job

__all__ = [
    "Fetch",
    "HttpAnswer",
    "OidcVerifier",
    "PushCaller",
    "PushedJob",
    "aiohttp_fetch",
    "parse_push_envelope",
]


@attrs.frozen
class PushedJob:
    job: Job
    message_id: str
    publish_time: datetime
    subscription: str
    delivery_attempt: int | None = None


def parse_push_envelope(body: bytes) -> PushedJob:
    """The job a push delivers; MalformedPayload saying which field is wrong otherwise."""
    envelope = _object(_json(body, "the push body"), "the push body")
    message = _object(envelope.get("message"), "message")
    attributes = _attributes(message.get("attributes"))
    data = _object(_json(_base64(message.get("data")), "message.data"), "message.data")
    job = Job(
        job_id=_text(data.get("job_id"), "message.data.job_id"),
        tenant_id=_text(data.get("tenant_id"), "message.data.tenant_id"),
        call_id=_text(data.get("call_id"), "message.data.call_id"),
        enqueued_at=_time(data.get("enqueued_at"), "message.data.enqueued_at"),
        trace_context={k: v for k, v in attributes.items() if is_trace_attribute(k, v)},
    )
    for key in IDENTITY_ATTRIBUTES:
        if attributes.get(key) != getattr(job, key):
            raise MalformedPayload(f"push envelope: message.attributes.{key} does not match data")
    subscription = _text(envelope.get("subscription"), "subscription")
    if not subscription.startswith("projects/") or "/subscriptions/" not in subscription:
        raise MalformedPayload("push envelope: subscription is not projects/P/subscriptions/S")
    return PushedJob(
        job=job,
        message_id=_text(message.get("messageId"), "message.messageId"),
        publish_time=_time(message.get("publishTime"), "message.publishTime"),
        subscription=subscription,
        delivery_attempt=_attempt(envelope.get("deliveryAttempt")),
    )


def _json(raw: bytes, what: str) -> Any:
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise MalformedPayload(f"push envelope: {what} is not JSON") from None


def _object(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise MalformedPayload(f"push envelope: {what} is not a JSON object")
    return value


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise MalformedPayload(f"push envelope: {what} is missing or not a non-empty string")
    return value


def _base64(value: Any) -> bytes:
    text = _text(value, "message.data")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedPayload("push envelope: message.data is not base64") from None


def _attributes(value: Any) -> dict[str, str]:
    attributes = _object(value, "message.attributes")
    if not all(isinstance(v, str) for v in attributes.values()):
        raise MalformedPayload("push envelope: message.attributes has a value that is not text")
    return dict(attributes)


def _time(value: Any, what: str) -> datetime:
    text = _text(value, what)
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise MalformedPayload(f"push envelope: {what} is not an RFC 3339 time") from None
    if at.tzinfo is None:
        raise MalformedPayload(f"push envelope: {what} has no time zone")
    return at


def _attempt(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise MalformedPayload("push envelope: deliveryAttempt is not a positive integer")
    return value
