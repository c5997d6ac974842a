"""parse_push_envelope on the envelope as Pub/Sub sends it (the body below is what the emulator
pushed, byte for byte but for the ids) and on every way it can be wrong."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.pubsub.message import job_message
from adapters.pubsub.push import parse_push_envelope
from domain.errors import MalformedPayload
from domain.jobs import Job

JOB = Job(
    job_id="job-7",
    tenant_id="acme",
    call_id="CAL1",
    enqueued_at=datetime(2026, 3, 4, 15, 30, tzinfo=UTC),
    trace_context={"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
)
DROP = object()  # a field left out of the document
DATA = base64.b64encode(job_message(JOB)[0]).decode()
EMULATOR_BODY = (
    b'{"subscription":"projects\\/test-project\\/subscriptions\\/jobs-push","message":'
    b'{"publishTime":"2026-11-22T18:07:14.425Z","data":"' + DATA.encode() + b'",'
    b'"publish_time":"2026-11-22T18:07:14.425Z","messageId":"1","attributes":'
    b'{"tenant_id":"acme","call_id":"CAL1","traceparent":'
    b'"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},"message_id":"1"}}'
)


def envelope(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(EMULATOR_BODY)
    message_changes = changes.pop("message", {})
    document["message"].update(message_changes)
    document.update(changes)
    return {k: v for k, v in document.items() if v is not DROP}


def body(document: dict[str, Any]) -> bytes:
    document["message"] = {k: v for k, v in document["message"].items() if v is not DROP}
    return json.dumps(document).encode()


def data(**fields: Any) -> str:
    document = json.loads(job_message(JOB)[0])
    document.update(fields)
    document = {k: v for k, v in document.items() if v is not DROP}
    return base64.b64encode(json.dumps(document).encode()).decode()


def test_the_emulators_body_parses() -> None:
    pushed = parse_push_envelope(EMULATOR_BODY)
    assert pushed.job == JOB
    assert pushed.message_id == "1"
    assert pushed.publish_time == datetime(2026, 11, 22, 18, 7, 14, 425000, tzinfo=UTC)
    assert pushed.subscription == "projects/test-project/subscriptions/jobs-push"
    assert pushed.delivery_attempt is None


def test_delivery_attempt_nanoseconds_and_new_fields_are_accepted() -> None:
    document = envelope(
        deliveryAttempt=4,
        somethingGoogleAddsLater={"x": 1},
        message={"publishTime": "2026-11-22T18:07:14.425123456Z", "orderingKey": ""},
    )
    pushed = parse_push_envelope(body(document))
    assert pushed.delivery_attempt == 4
    assert pushed.publish_time.microsecond == 425123


def test_reserved_attributes_are_not_trace_context() -> None:
    attributes = {"tenant_id": "acme", "call_id": "CAL1", "googclient_schemaencoding": "JSON"}
    pushed = parse_push_envelope(body(envelope(message={"attributes": attributes})))
    assert pushed.job.trace_context == {}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "the push body is not JSON"),
        (b"\xff\xfe", "the push body is not JSON"),
        (b"[1, 2]", "the push body is not a JSON object"),
        (b'{"subscription": "projects/p/subscriptions/s"}', "message is not a JSON object"),
    ],
)
def test_bodies_that_are_not_envelopes_are_refused(raw: bytes, reason: str) -> None:
    with pytest.raises(MalformedPayload, match=reason):
        parse_push_envelope(raw)


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (envelope(message={"data": DROP}), "message.data is missing"),
        (envelope(message={"data": "not base64!"}), "message.data is not base64"),
        (envelope(message={"data": "bm90IGpzb24="}), "message.data is not JSON"),
        (envelope(message={"data": "WzFd"}), "message.data is not a JSON object"),
        (envelope(message={"data": data(job_id=DROP)}), "message.data.job_id"),
        (envelope(message={"data": data(tenant_id=" ")}), "message.data.tenant_id"),
        (envelope(message={"data": data(call_id=7)}), "message.data.call_id"),
        (envelope(message={"data": data(enqueued_at="soon")}), "enqueued_at is not an RFC 3339"),
        (
            envelope(message={"data": data(enqueued_at="2026-03-04T15:30:00")}),
            "enqueued_at has no time zone",
        ),
        (envelope(message={"attributes": DROP}), "message.attributes is not a JSON object"),
        (
            envelope(message={"attributes": {"tenant_id": "acme", "call_id": 1}}),
            "not text",
        ),
        (
            envelope(message={"attributes": {"tenant_id": "globex", "call_id": "CAL1"}}),
            "attributes.tenant_id does not match",
        ),
        (
            envelope(message={"attributes": {"tenant_id": "acme"}}),
            "attributes.call_id does not match",
        ),
        (envelope(message={"messageId": DROP}), "message.messageId"),
        (envelope(message={"publishTime": "yesterday"}), "publishTime is not an RFC 3339"),
        (envelope(subscription=DROP), "subscription is missing"),
        (envelope(subscription="jobs-push"), "projects/P/subscriptions/S"),
        (envelope(deliveryAttempt=0), "deliveryAttempt"),
        (envelope(deliveryAttempt=True), "deliveryAttempt"),
        (envelope(deliveryAttempt="2"), "deliveryAttempt"),
    ],
    ids=lambda v: "" if isinstance(v, dict) else v,
)
def test_each_wrong_field_is_named(document: dict[str, Any], reason: str) -> None:
    with pytest.raises(MalformedPayload, match=reason):
        parse_push_envelope(body(document))
