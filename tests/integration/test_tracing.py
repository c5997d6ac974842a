"""One call, one trace: the real service in-process (SQLite, the local queue and its workers,
Whisper, rules, HubSpot's stand-in) with an in-memory span exporter. A signed webhook's trace
runs from the request through intake, the job and its delivery to every stage and every adapter
call; an incoming traceparent or X-Cloud-Trace-Context is continued; and neither the spans nor
the JSON log lines hold a phone number, a name, a card number, transcript text or a secret."""

from __future__ import annotations

import json
import re
from typing import Any

import attrs
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan

from entrypoints.logs import SPAN_FIELD, TRACE_FIELD
from ports.telemetry import SPAN_ATTRIBUTES
from tests.integration import traced_service
from tests.integration.traced_service import (
    CALLS,
    PROJECT,
    Service,
    attr,
    never_anywhere,
)

# The module's service and its two recorded calls, run once for every test here.
captured_logs = traced_service.captured_logs
service = traced_service.service
recorded_calls = traced_service.recorded_calls

pytestmark = pytest.mark.asyncio(loop_scope="module")

CARD_FORMS = re.compile(r"4\D{0,3}1\D{0,3}1\D{0,3}1\D{0,3}1\D{0,3}1\D{0,3}1\D{0,3}1")
STAGES = ["RECORDING_STORED", "TRANSCRIBED", "ANALYZED", "SCORED", "SYNCED", "COMPLETED"]
# The spans a recorded call with a CRM cannot do without, request to job settled.
EXPECTED = {
    "POST /v1/callrail/webhook",
    "accept_webhook",
    "admit_call",
    "enqueue",
    "db.transaction",
    "db.calls.add",
    "db.jobs.add",
    "db.commit",
    "deliver.local",
    "process_call",
    "db.tenants.get",
    "db.calls.get",
    "db.calls.update",
    "recording.open",
    "storage.put",
    "storage.delete",
    "audio_redaction",
    "speech.transcribe",
    "analyzer.analyze",
    "crm.find_activity",
    "crm.upsert_contact",
    "crm.create_activity",
    "db.jobs.complete",
    *(f"stage.{stage}" for stage in STAGES),
}


@attrs.frozen
class Trace:
    spans: list[ReadableSpan]

    def one(self, name: str) -> ReadableSpan:
        [found] = [s for s in self.spans if s.name == name]
        return found

    def parent(self, span: ReadableSpan) -> str:
        assert span.parent is not None
        [found] = [s.name for s in self.spans if s.context.span_id == span.parent.span_id]
        return found


async def test_one_webhook_is_one_connected_trace_to_completed(
    service: Service, recorded_calls: dict[str, dict[str, Any]]
) -> None:
    for call_id in CALLS:
        spans = service.trace_of(call_id)
        names = {s.name for s in spans}
        assert names >= EXPECTED, f"missing: {sorted(EXPECTED - names)}"
        # Connected: one root, the webhook's request; every other span's parent is in the trace.
        ids = {s.context.span_id for s in spans}
        roots = [s for s in spans if s.parent is None]
        assert [r.name for r in roots] == ["POST /v1/callrail/webhook"]
        assert roots[0].kind is trace.SpanKind.SERVER
        assert attr(roots[0], "http.response.status_code") == 202
        assert attr(roots[0], "http.route") == "/v1/callrail/webhook"
        assert all(s.parent.span_id in ids for s in spans if s.parent is not None)
        # Nothing of this call's is in another trace.
        assert {attr(s, "call_id") for s in service.spans if s not in spans} & {call_id} == set()
        assert_the_path(Trace(spans), call_id)
        # The tenant: read from the store, or (a later call) remembered from a moment ago.
        lookup = attr(Trace(spans).one("accept_webhook"), "tenant_lookup")
        assert ("db.tenants.get_by_company" in names) == (lookup == "store")
    lookups = [
        attr(Trace(service.trace_of(c)).one("accept_webhook"), "tenant_lookup") for c in CALLS
    ]
    assert lookups[0] == "store"


def assert_the_path(found: Trace, call_id: str) -> None:
    """Intake, the queue, the delivery, each stage and the adapter calls, each where it
    belongs."""
    assert found.parent(found.one("enqueue")) == "admit_call"
    assert found.parent(found.one("deliver.local")) == "admit_call"  # across the queue
    assert found.one("deliver.local").kind is trace.SpanKind.CONSUMER
    assert found.parent(found.one("process_call")) == "deliver.local"
    stages = sorted((s for s in found.spans if s.name.startswith("stage.")), key=start)
    assert [s.name for s in stages] == [f"stage.{stage}" for stage in STAGES]
    for span, stage in zip(stages, STAGES, strict=True):
        assert found.parent(span) == "process_call"
        assert (attr(span, "stage"), attr(span, "attempt")) == (stage, 1)
        assert (attr(span, "tenant_id"), attr(span, "call_id")) == ("acme", call_id)
        assert attr(span, "outcome") == "done"
    for adapter_call, stage in [
        ("recording.open", "RECORDING_STORED"),
        # heard before it is stored, so that its card numbers are silenced in what is stored
        ("speech.transcribe", "RECORDING_STORED"),
        ("storage.delete", "RECORDING_STORED"),  # the original, once the silenced one is stored
        ("analyzer.analyze", "ANALYZED"),
        ("crm.create_activity", "SYNCED"),
    ]:
        assert found.parent(found.one(adapter_call)) == f"stage.{stage}"
        assert found.one(adapter_call).kind is trace.SpanKind.CLIENT
    # the original is put first; the silenced one within the redaction
    puts = sorted((s for s in found.spans if s.name == "storage.put"), key=start)
    assert [found.parent(s) for s in puts] == ["stage.RECORDING_STORED", "audio_redaction"]
    assert found.parent(found.one("audio_redaction")) == "stage.RECORDING_STORED"
    # the billing call's card is silenced by the redactor; the other call has nothing to hide
    silenced = attr(found.one("audio_redaction"), "spans_silenced")
    assert isinstance(silenced, int)
    assert (silenced > 0) == (call_id == "CALTRACE0002")
    redactor = [s for s in found.spans if s.name == "audio_redaction.silence"]
    assert [found.parent(s) for s in redactor] == ["audio_redaction"] * (silenced > 0)
    assert attr(found.one("speech.transcribe"), "adapter") == "WhisperTranscriber"
    assert attr(found.one("process_call"), "outcome") == "done"
    failed = [s.name for s in found.spans if not s.status.is_ok]
    assert failed == []


def start(span: ReadableSpan) -> int:
    return span.start_time or 0


async def test_no_span_holds_a_number_a_name_transcript_text_or_a_secret(
    service: Service, recorded_calls: dict[str, dict[str, Any]]
) -> None:
    transcripts = " ".join(d["transcript"]["text"] for d in recorded_calls.values()).lower()
    distinctive = {"kids", "freezing", "technician", "customer"}
    assert all(word in transcripts for word in distinctive)  # what the recordings say
    texts = []
    for span in service.spans:
        assert set(span.attributes or {}) <= SPAN_ATTRIBUTES, span.name
        texts.append(span.name)
        texts.extend(k + "=" + str(v) for k, v in (span.attributes or {}).items())
        texts.extend(event.name for event in span.events)
        texts.append(span.status.description or "")
    found = "\n".join(texts)
    assert not any(word in found.lower() for word in distinctive)
    # No run of three words of what was said, anywhere.
    said = re.findall(r"[a-z]+", transcripts)
    words = " ".join(re.findall(r"[a-z]+", found.lower()))
    assert not [t for t in zip(said, said[1:], said[2:], strict=False) if " ".join(t) in words]
    for secret in never_anywhere():
        assert secret.lower() not in found.lower(), secret
    assert not CARD_FORMS.search(found)
    assert "?" not in found  # no URL with its query, no query of any kind


async def test_the_log_lines_are_json_with_the_trace_and_nothing_personal(
    service: Service, recorded_calls: dict[str, dict[str, Any]]
) -> None:
    lines = [json.loads(line) for line in service.logs.getvalue().splitlines()]
    assert lines, "the service wrote no log lines"
    for call_id in CALLS:
        trace_id = trace.format_trace_id(service.trace_of(call_id)[0].context.trace_id)
        done = [
            line
            for line in lines
            if line.get("call_id") == call_id and line["logger"] == "ingestion_pipeline.worker"
        ]
        assert done, f"no worker line for {call_id}"
        assert done[-1]["tenant_id"] == "acme"
        assert done[-1][TRACE_FIELD] == f"projects/{PROJECT}/traces/{trace_id}"
        assert re.fullmatch(r"[0-9a-f]{16}", done[-1][SPAN_FIELD])
        assert done[-1]["severity"] == "INFO"
    access = [line for line in lines if line["logger"] == "ingestion_pipeline.access"]
    assert any(line["http"]["path"] == "/v1/callrail/webhook" for line in access)
    assert all(TRACE_FIELD in line for line in access)
    text = service.logs.getvalue()
    for secret in never_anywhere():
        assert secret.lower() not in text.lower(), secret
    assert not CARD_FORMS.search(text)
    assert "furnace" not in text.lower()
    assert "?" not in "".join(line["http"]["path"] for line in access)


@pytest.mark.parametrize(
    ("call_id", "header", "value"),
    [
        ("CALPARENT001", "traceparent", "00-{trace}-00f067aa0ba902b7-01"),
        ("CALGOOGLE001", "X-Cloud-Trace-Context", "{trace}/11529839392856271;o=1"),
    ],
)
async def test_an_incoming_trace_is_continued_through_the_queue(
    service: Service, call_id: str, header: str, value: str
) -> None:
    trace_id = f"{abs(hash(call_id)):032x}"[-32:]
    await service.webhook(call_id, {header: value.format(trace=trace_id)})
    await service.completed([call_id])
    spans = service.trace_of(call_id)
    assert trace.format_trace_id(spans[0].context.trace_id) == trace_id
    [request] = [s for s in spans if s.name == "POST /v1/callrail/webhook"]
    assert request.parent is not None
    assert request.parent.is_remote
    names = {s.name for s in spans}
    # A missed call: no recording to fetch, but the same path from request to COMPLETED.
    assert {"deliver.local", "process_call", "stage.COMPLETED", "crm.create_activity"} <= names


async def test_probes_are_not_a_trace_each(service: Service) -> None:
    async with service.http.get(f"{service.url}/health/live") as r:
        assert r.status == 200
    async with service.http.get(f"{service.url}/v1/tenants") as r:
        assert r.status == 401  # traced like any request, whatever its answer
    served = [
        (s.name, attr(s, "http.response.status_code"))
        for s in service.spans
        if s.kind is trace.SpanKind.SERVER
    ]
    assert ("GET /v1/tenants", 401) in served
    assert not [name for name, _ in served if "/health" in name]
