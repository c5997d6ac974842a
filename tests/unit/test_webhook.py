"""CallRail webhook bodies: the signature over the raw bytes, then a parse that takes what
CallRail really sends and reports every problem at once."""

from __future__ import annotations

import contextlib
import copy
import json
import pickle
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.system.orjson_reader import orjson_loads
from domain.call import Call, CallMetadata, IncomingCall, RawPayload
from domain.errors import MalformedPayload, ValidationFailed
from domain.webhook import (
    MAX_NESTING,
    JsonLoads,
    body_text,
    decode_body,
    lone_surrogate_fields,
    nested_too_deep,
    parse_incoming_call,
    sign,
    signature_matches,
)
from tests.support import VECTOR_CALL_ID, VECTOR_KEY, VECTOR_SIGNATURE, vector_body

# --- signature ---------------------------------------------------------------------------


def test_callrails_published_vector_verifies() -> None:
    assert signature_matches(VECTOR_KEY, vector_body(), VECTOR_SIGNATURE)


def test_sign_reproduces_callrails_published_signature() -> None:
    assert sign(VECTOR_KEY, vector_body()) == VECTOR_SIGNATURE


@pytest.mark.parametrize("position", [0, 1, 17, 100, 1000, -2, -1])
def test_changing_any_single_byte_breaks_the_signature(position: int) -> None:
    body = bytearray(vector_body())
    body[position] ^= 0x01
    assert not signature_matches(VECTOR_KEY, bytes(body), VECTOR_SIGNATURE)


def test_an_appended_byte_breaks_the_signature() -> None:
    assert not signature_matches(VECTOR_KEY, vector_body() + b" ", VECTOR_SIGNATURE)


def test_another_key_does_not_verify() -> None:
    assert not signature_matches("0" * 32, vector_body(), VECTOR_SIGNATURE)


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "not base64!!",
        "UZAHbUdfm3GqL7qzilGozGzWV64",  # the right one with its padding cut off
        "AAAAAAAAAAAAAAAAAAAAAAAAAAA=",  # valid base64, wrong digest
        VECTOR_SIGNATURE.replace("UZAH", "UZAI"),  # one character of the digest changed
    ],
)
def test_missing_empty_or_malformed_signatures_fail(signature: str | None) -> None:
    assert not signature_matches(VECTOR_KEY, vector_body(), signature)


# --- parsing CallRail's body --------------------------------------------------------------


def vector_payload() -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(vector_body())
    return payload


def test_the_vector_body_parses_into_what_callrail_said() -> None:
    incoming = parse_incoming_call(decode_body(vector_body()))

    assert incoming.call_id == VECTOR_CALL_ID == "766970532"
    m = incoming.metadata
    assert m.duration_s == 13
    assert m.voicemail is True
    assert m.answered is False
    assert m.first_call is False
    assert m.caller == "+12148654559"
    assert m.caller_name == "Kaylah Mills"
    assert m.tracking_number == "+14045558514"
    assert m.business_number is None
    assert m.source == "Google Paid"
    assert m.direction == "inbound"
    assert m.started_at == datetime(2018, 2, 19, 18, 41, 0, 236000, tzinfo=UTC)
    assert incoming.recording_url == (
        "https://app.callrail.com/calls/766970532/recording/redirect?access_key=aaaaccccddddeeee"
    )
    assert incoming.company_ids == ("155920786",)


def test_the_raw_payload_keeps_fields_the_parser_does_not_know() -> None:
    incoming = parse_incoming_call(decode_body(vector_body()))
    assert incoming.raw == vector_payload()
    assert incoming.raw["good_lead_call_id"] == 715587840
    assert incoming.raw["utm_campaign"] == "Google AdWords"


def test_the_body_text_is_kept_with_the_payload_read_from_it() -> None:
    body = vector_body()
    incoming = parse_incoming_call(decode_body(body), body_text(body))
    assert isinstance(incoming.raw, RawPayload)
    assert incoming.raw.text == body.decode()
    assert incoming.raw == vector_payload()
    call = Call.receive("acme", incoming, datetime(2026, 1, 1, tzinfo=UTC))
    assert call.raw_payload is incoming.raw  # no one can change it: shared, not copied


def test_a_raw_payload_cannot_be_changed_so_its_text_stays_true_but_copies_freely() -> None:
    body = vector_body()
    raw = parse_incoming_call(decode_body(body), body_text(body)).raw
    assert isinstance(raw, RawPayload)
    changes: list[Callable[[], object]] = [
        lambda: raw.__setitem__("note", "changed"),
        lambda: raw.update(note="changed"),
        lambda: raw.pop("note"),
        lambda: raw.setdefault("new", 1),
        lambda: raw.clear(),
    ]
    for change in changes:
        with pytest.raises(TypeError):
            change()
    assert raw == vector_payload()
    for copied in (copy.copy(raw), copy.deepcopy(raw), pickle.loads(pickle.dumps(raw))):  # noqa: S301
        assert copied == raw
        assert copied.text == raw.text
    changed = dict(raw)
    changed["note"] = "changed"  # a copy is anyone's
    assert raw["note"] != "changed"


@pytest.mark.parametrize(
    "body",
    [
        '{"id": "CAL1"}'.encode("utf-16-le"),  # json.loads reads UTF-16 and UTF-32 too
        '{"id": "CAL1"}'.encode("utf-32"),
        b'\xef\xbb\xbf{"id": "CAL1"}',  # a byte order mark
    ],
)
def test_a_body_json_loads_reads_but_not_as_plain_utf8_has_no_text_to_keep(body: bytes) -> None:
    """Its payload is written out again instead: a text kept must read back as the payload."""
    assert json.loads(body)["id"] == "CAL1"
    assert body_text(body) is None
    assert type(parse_incoming_call(json.loads(body), body_text(body)).raw) is dict


@pytest.mark.parametrize(
    "body",
    [
        b'{"id": "CAL1", "note": "\xed\xa0\x80"}',  # an encoded surrogate (surrogatepass)
        b'{"id": "CAL1", "note": "\\ud800"}',  # an escaped one
        b'{"id": "CAL1", "note": "\\udc00 and \\ud83d\\ude00"}',  # a pair is text; this is not
        '{"id": "CAL1", "note": "\\ud800"}'.encode("utf-16-le"),
    ],
)
def test_a_body_json_loads_reads_with_a_lone_surrogate_is_refused_naming_the_field(
    body: bytes,
) -> None:
    """json.loads reads half a character out of these (once it held a store, a log line and
    an answer, each broke on it): the payload is refused instead, naming where it is."""
    assert json.loads(body)["id"] == "CAL1"
    with pytest.raises(ValidationFailed) as refused:
        parse_incoming_call(json.loads(body), body_text(body))
    assert [f.field for f in refused.value.fields] == ["note"]


def test_a_surrogate_pair_is_text() -> None:
    body = b'{"id": "CAL1", "caller_name": "Bob \\ud83d\\ude00"}'
    incoming = parse_incoming_call(json.loads(body), body_text(body))
    assert incoming.metadata.caller_name == "Bob \U0001f600"


def test_lone_surrogates_are_found_in_keys_and_nested_values() -> None:
    document = {"a": "ok", "b": [1, "x\ud800", {"c\udc00": "y", "d": {"e": ["\udfff"]}}]}
    assert lone_surrogate_fields(document) == ["b[1]", "b[2].c\\udc00", "b[2].d.e[0]"]
    assert lone_surrogate_fields("\ud800") == ["(body)"]
    assert lone_surrogate_fields({"a": ["\U0001f600", 1.5, None, True]}) == []


# --- nesting -----------------------------------------------------------------------------


def brackets(depth: int) -> bytes:
    return b'{"a": ' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"


@pytest.mark.parametrize(
    ("text", "too_deep"),
    [
        (brackets(MAX_NESTING), False),
        (brackets(MAX_NESTING + 1), True),
        (brackets(1000), True),
        (b"[" + b"[]," * 5000 + b"[]]", False),  # many brackets, two deep
        (b'{"a": "' + b"[" * 500 + b'"}', False),  # brackets in a string are text
        (b'{"a": "\\"[[[[", "b": "]]]]\\\\"}' * 40, False),  # escaped quotes and backslashes
        (b'["\\"", ' + b"[" * 65 + b"]" * 65 + b"]", True),  # after an escaped quote
        (b"", False),
    ],
)
def test_nesting_is_measured_outside_strings(text: bytes, too_deep: bool) -> None:
    assert nested_too_deep(text) is too_deep


@pytest.mark.parametrize("loads", [json.loads, orjson_loads], ids=["json", "orjson"])
def test_a_body_nested_past_the_limit_is_malformed_whoever_reads_it(loads: JsonLoads) -> None:
    """orjson reads 1,000 levels, json.loads does not: neither may decide alone."""
    with pytest.raises(MalformedPayload, match="64 deep"):
        decode_body(brackets(1000), loads)
    assert decode_body(brackets(MAX_NESTING), loads) == json.loads(brackets(MAX_NESTING))


def test_numbers_and_booleans_sent_as_strings_are_understood() -> None:
    incoming = parse_incoming_call(
        {"resource_id": "CAL1", "duration": "95", "answered": "true", "first_call": "false"}
    )
    assert incoming.metadata.duration_s == 95
    assert incoming.metadata.answered is True
    assert incoming.metadata.first_call is False


def test_resource_id_is_preferred_over_the_legacy_numeric_id() -> None:
    incoming = parse_incoming_call({"resource_id": "CAL123", "id": 123})
    assert incoming.call_id == "CAL123"


def test_the_flat_load_test_form_parses() -> None:
    incoming = parse_incoming_call(
        {
            "call_id": "load-0001",
            "caller_id": "(214) 865-4559",
            "duration": 42,
            "answered": True,
            "tenant_id": "acme",
            "callrail_company_id": "12345",
            "recording_url": "https://recordings.example.com/load-0001.mp3",
            "timestamp": "2026-03-04T15:30:00Z",
        }
    )
    assert incoming.call_id == "load-0001"
    assert incoming.metadata.caller == "+12148654559"
    assert incoming.metadata.duration_s == 42
    assert incoming.metadata.answered is True
    assert incoming.tenant_hint == "acme"
    assert incoming.company_ids == ("12345",)
    assert incoming.recording_url == "https://recordings.example.com/load-0001.mp3"
    assert incoming.metadata.started_at == datetime(2026, 3, 4, 15, 30, tzinfo=UTC)


def test_a_withheld_caller_id_keeps_the_call_without_a_number() -> None:
    incoming = parse_incoming_call({"id": 7, "customer_phone_number": "anonymous"})
    assert incoming.call_id == "7"
    assert incoming.metadata.caller is None


def test_a_missed_call_has_no_recording() -> None:
    payload = vector_payload()
    del payload["recording"]
    assert parse_incoming_call(payload).recording_url is None


def test_a_missing_call_id_is_reported_as_resource_id() -> None:
    payload = vector_payload()
    del payload["id"]
    with pytest.raises(ValidationFailed) as caught:
        parse_incoming_call(payload)
    assert [f.field for f in caught.value.fields] == ["resource_id"]


def test_every_bad_field_is_reported_at_once() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_incoming_call(
            {
                "resource_id": "CAL1",
                "duration": "abc",
                "answered": "maybe",
                "start_time": "yesterday",
            }
        )
    assert {f.field for f in caught.value.fields} == {"duration", "answered", "start_time"}


def test_a_missing_id_is_reported_together_with_other_problems() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_incoming_call({"duration": -5, "recording": "ftp://example.com/a.mp3"})
    assert {f.field for f in caught.value.fields} == {"resource_id", "duration", "recording"}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"id": 1, "direction": "sideways"}, "direction"),
        ({"id": 1, "duration": 1.5}, "duration"),
        ({"id": 1, "duration": "NaN"}, "duration"),
        ({"id": 1, "start_time": "2026-03-04T15:30:00"}, "start_time"),  # no offset
        ({"id": 1, "customer_name": {"first": "Kay"}}, "customer_name"),
    ],
)
def test_values_that_cannot_be_right_are_named(payload: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_incoming_call(payload)
    assert [f.field for f in caught.value.fields] == [field]


@pytest.mark.parametrize("bad_id", ["a/b", "x" * 129, True, "tab\there", 1.5, ["CAL1"]])
def test_an_unusable_call_id_is_named_and_no_call_id_is_taken(bad_id: Any) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_incoming_call({"id": bad_id, "duration": 5})
    assert "id" in {f.field for f in caught.value.fields}


# --- properties -----------------------------------------------------------------------------


def _bool_text(value: bool) -> st.SearchStrategy[str]:
    return st.sampled_from(["true", "True", "TRUE", "yes", "1"] if value else ["false", "no", "0"])


@st.composite
def typed_and_stringly_payloads(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """The same call twice: once with JSON numbers and booleans, once as CallRail sometimes
    sends it, everything a string."""
    call_id = draw(st.integers(min_value=0, max_value=10**12))
    duration = draw(st.integers(min_value=0, max_value=10**7))
    flags = {key: draw(st.booleans()) for key in ("answered", "first_call", "voicemail")}
    offset = timezone(timedelta(minutes=draw(st.integers(min_value=-12 * 60, max_value=14 * 60))))
    seconds = draw(st.integers(min_value=946_684_800, max_value=4_102_444_800))  # 2000 to 2100
    micros = draw(st.integers(min_value=0, max_value=999_999))
    started = datetime.fromtimestamp(seconds, tz=offset) + timedelta(microseconds=micros)
    typed: dict[str, Any] = {
        "id": call_id,
        "duration": duration,
        **flags,
        "start_time": started.isoformat(),
        "customer_phone_number": "+12148654559",
        "company_id": 155920786,
    }
    stringly: dict[str, Any] = {
        **typed,
        "id": str(call_id),
        "duration": str(duration),
        "company_id": "155920786",
        **{key: draw(_bool_text(value)) for key, value in flags.items()},
    }
    return typed, stringly


@given(pair=typed_and_stringly_payloads())
def test_string_forms_of_numbers_and_booleans_parse_the_same(
    pair: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    typed, stringly = pair
    a, b = parse_incoming_call(typed), parse_incoming_call(stringly)
    assert a.call_id == b.call_id
    assert a.metadata == b.metadata
    assert a.company_ids == b.company_ids


FIELD_NAMES = [
    "resource_id",
    "id",
    "call_id",
    "customer_phone_number",
    "caller_id",
    "callernum",
    "caller",
    "customer_name",
    "caller_name",
    "callername",
    "direction",
    "duration",
    "answered",
    "first_call",
    "voicemail",
    "source",
    "formatted_tracking_source",
    "source_name",
    "tracking_phone_number",
    "trackingnum",
    "business_phone_number",
    "start_time",
    "timestamp",
    "landing_page_url",
    "recording",
    "recording_url",
    "company_resource_id",
    "company_id",
    "callrail_company_id",
    "tenant_id",
]

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),  # NaN and infinities too: Python's json module reads them
    st.text(),
    st.sampled_from(["", "95", "true", "maybe", "2026-03-04T15:30:00Z", "https://x.test/a"]),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.text(max_size=8), inner, max_size=3),
    ),
    max_leaves=10,
)
json_keys = st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=12))


def parse_or_refusal(payload: dict[str, Any]) -> IncomingCall | ValidationFailed:
    """Any other exception propagates and fails the test."""
    try:
        return parse_incoming_call(payload)
    except ValidationFailed as exc:
        return exc


@given(payload=st.dictionaries(json_keys, json_values, max_size=12))
def test_any_json_object_parses_or_raises_validation_failed(payload: dict[str, Any]) -> None:
    incoming = parse_or_refusal(payload)
    if isinstance(incoming, ValidationFailed):
        assert incoming.fields, "a validation failure names at least one field"
        return
    assert incoming.call_id
    assert incoming.metadata.direction in ("inbound", "outbound")
    assert incoming.raw == payload


@given(payload=st.dictionaries(json_keys, json_values, max_size=12))
def test_any_json_body_decodes_then_parses_or_is_refused_cleanly(payload: dict[str, Any]) -> None:
    body = json.dumps(payload).encode()
    parse_or_refusal(decode_body(body))


@given(garbage=st.binary(max_size=64))
def test_any_bytes_decode_or_raise_malformed_payload(garbage: bytes) -> None:
    with contextlib.suppress(MalformedPayload):
        assert isinstance(decode_body(garbage), dict)


# --- decode_body ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b'{"id": 1',
        b"\xff\xfe\x00{",  # not UTF-8
        b'{"id": "\xc3\x28"}',  # invalid UTF-8 inside a string
        b"[1, 2, 3]",  # JSON, but an array
        b'"a string"',
        b"42",
        b"null",
        b'{"duration": 1' + b"0" * 5000 + b"}",  # an integer Python refuses to convert
        b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",  # nested past the recursion limit
    ],
    ids=[
        "empty",
        "text",
        "truncated",
        "not-utf8",
        "bad-utf8-in-string",
        "array",
        "string",
        "number",
        "null",
        "huge-integer",
        "deep-nesting",
    ],
)
@pytest.mark.parametrize("loads", [json.loads, orjson_loads], ids=["json", "orjson"])
def test_bodies_that_are_not_a_json_object_are_malformed(body: bytes, loads: JsonLoads) -> None:
    with pytest.raises(MalformedPayload):
        decode_body(body, loads)


def test_a_json_object_decodes_to_a_dict() -> None:
    assert decode_body(b'{"id": 1, "answered": "true"}') == {"id": 1, "answered": "true"}


def test_metadata_defaults_describe_an_inbound_call_with_nothing_known() -> None:
    assert parse_incoming_call({"id": 1}).metadata == CallMetadata()
