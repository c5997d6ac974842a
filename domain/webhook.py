"""CallRail webhook bodies: signature check on the raw bytes, then a defensive parse.

Two forms are accepted (api.md): CallRail's own post-call body, where numbers and booleans may
be strings and ids come as `resource_id` or the legacy numeric `id`; and the flat form of the
operations runbook's load test. Unknown fields are kept, never rejected.

CallRail's Call Modified body is the post-call body (the call object) with a `changes` list
"appended to the end of the normal response fields": the fields whose change sent it, such as
tags, note, value, transcription_text, recording_duration, auto_score and manual_score
(https://support.callrail.com/hc/en-us/community/posts/5810662527501-What-data-is-sent-with-Webhooks).
It is sent "when a call has changed after it has ended ... adding a tag or note, or when a
delayed call recording has come available"
(https://support.callrail.com/hc/en-us/articles/201211133-Webhooks), to the URL configured for
that event, which may be this same one
(https://support.callrail.com/hc/en-us/articles/5711246459149-Webhooks). So a body is a Call
Modified when it has a `changes` field, and only then (parse_changes). Spam is marked through the
call's `spam` attribute (CallRail's API: PUT /v3/a/{account}/calls/{id}.json with `spam`): a
body whose `spam` is true, or whose changes name `spam` without it, marks the call spam.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import itertools
import json
import operator
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import attrs

from domain.call import CallMetadata, IncomingCall, RawPayload
from domain.errors import FieldError, MalformedPayload, ValidationFailed
from domain.phone import normalize_e164

SIGNATURE_HEADER = "Signature"
MAX_ID_LENGTH = 128
# Arrays and objects inside one another. orjson reads 1,024 levels, json.loads fewer (its
# recursion limit): a body one accepts and the other cannot read again must never be stored.
MAX_NESTING = 64

# Reads JSON text exactly as json.loads does (a faster one may be given: see decode_body).
JsonLoads = Callable[[bytes], Any]


def sign(secret: str, body: bytes) -> str:
    """base64(HMAC-SHA1(key, body)), the key being the signing key's ASCII text."""
    digest = hmac.digest(secret.encode("utf-8"), body, "sha1")
    return base64.b64encode(digest).decode("ascii")


def signature_matches(secret: str, body: bytes, signature: str | None) -> bool:
    if not signature:
        return False
    try:
        presented = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    # hmac.digest: the one-shot form, in C (hmac.new builds an HMAC object in Python first).
    expected = hmac.digest(secret.encode("utf-8"), body, "sha1")
    return hmac.compare_digest(presented, expected)


_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_BRACKET_STEP = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")


def nested_too_deep(text: bytes, limit: int = MAX_NESTING) -> bool:
    """Whether JSON text nests arrays and objects more than `limit` deep. A webhook has a few
    dozen brackets: counting them settles it (a microsecond for a CallRail body); only a text
    with more is measured, its strings taken out, in C-speed passes."""
    if text.count(b"[") + text.count(b"{") <= limit:
        return False
    steps = _STRING.sub(b"", text).translate(None, _NOT_BRACKET).translate(_BRACKET_STEP)
    # After the i-th bracket (from 1) the depth is opens - closes = 2 * opens - i.
    depths = map(operator.sub, itertools.accumulate(steps), itertools.count(1))
    return max(depths, default=0) > limit


def decode_body(body: bytes, loads: JsonLoads = json.loads) -> dict[str, Any]:
    """The body as a JSON object, or MalformedPayload. `loads` must give json.loads's answer and
    raise its errors for every text (the composition root passes one that reads with orjson
    where orjson agrees and falls back to json.loads otherwise)."""
    if nested_too_deep(body):
        raise MalformedPayload(f"the body nests arrays and objects more than {MAX_NESTING} deep")
    try:
        payload = loads(body)
    except json.JSONDecodeError as exc:
        raise MalformedPayload(f"the body is not valid JSON ({exc.msg} at {exc.pos})") from None
    except UnicodeDecodeError:
        raise MalformedPayload("the body is not UTF-8 text") from None
    except (ValueError, RecursionError):  # an integer over 4300 digits; nesting too deep
        raise MalformedPayload("the body is not JSON this service can read") from None
    if not isinstance(payload, dict):
        raise MalformedPayload("the body must be a JSON object")
    return payload


def lone_surrogate_fields(document: Any) -> list[str]:
    """Where a JSON document holds a string that is not Unicode text: a lone surrogate, which
    json.loads makes of an escape like \\ud800 (or of its bytes). Such a string cannot be
    stored, logged or sent as UTF-8. Fields are named as paths (`a.b[0]`), escaped."""
    found: list[str] = []
    stack: list[tuple[str, Any]] = [("", document)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if not _is_text(value):
                found.append(path or "(body)")
        elif isinstance(value, dict):
            for key, item in value.items():
                name = key if _is_text(key) else key.encode("utf-8", "backslashreplace").decode()
                if name is not key:
                    found.append(f"{path}.{name}" if path else name)
                stack.append((f"{path}.{name}" if path else name, item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", item) for i, item in enumerate(value))
    return sorted(set(found))


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def body_text(body: bytes) -> str | None:
    """The JSON text json.loads read `body` as, when it is UTF-8 without a byte order mark (a
    webhook's body always is); None otherwise (json.loads also reads UTF-16 and UTF-32, a BOM,
    and encoded surrogates: such a body's payload is written out again instead)."""
    if json.detect_encoding(body) != "utf-8":
        return None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def company_ids(payload: Mapping[str, Any]) -> tuple[str, ...]:
    """Every id the unverified body gives for the CallRail company, most specific first."""
    found: list[str] = []
    for key in ("company_resource_id", "company_id", "callrail_company_id"):
        value = payload.get(key)
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            text = str(value).strip()
            if text and text not in found:
                found.append(text)
    return tuple(found)


def parse_incoming_call(payload: Mapping[str, Any], text: str | None = None) -> IncomingCall:
    """`text`: the JSON text `payload` was read from, if known (body_text), kept with it."""
    p = _Parser(payload)
    # A lone surrogate arrives only as a \u escape (or, with text None, encoded): the rest of
    # the bodies need no walk.
    if text is None or "\\ud" in text or "\\uD" in text:
        for field in lone_surrogate_fields(payload):
            p.errors.append(FieldError(field, "must be Unicode text (a lone surrogate is not)"))
    call_id = p.identifier("resource_id", "id", "call_id")
    if call_id is None:
        p.errors.append(
            FieldError("resource_id", "a call id is required (resource_id, id or call_id)")
        )
    caller_raw = p.text("customer_phone_number", "caller_id", "callernum", "caller")
    caller = normalize_e164(caller_raw) if caller_raw else None
    if caller_raw and caller is None:
        # Withheld and malformed caller ids are common: keep the call, drop the number.
        caller = None
    direction = (p.text("direction") or "inbound").lower()
    if direction not in ("inbound", "outbound"):
        p.errors.append(FieldError("direction", "must be inbound or outbound"))
    metadata = CallMetadata(
        caller=caller,
        caller_name=p.text("customer_name", "caller_name", "callername"),
        direction=direction,
        duration_s=p.integer("duration"),
        answered=p.boolean("answered"),
        first_call=p.boolean("first_call"),
        voicemail=bool(p.boolean("voicemail")),
        source=p.text("source", "formatted_tracking_source", "source_name"),
        tracking_number=_phone(p.text("tracking_phone_number", "trackingnum")),
        business_number=_phone(p.text("business_phone_number")),
        started_at=p.timestamp("start_time", "timestamp"),
        landing_page_url=p.text("landing_page_url"),
    )
    changes = parse_changes(payload)
    spam = p.boolean("spam")
    if spam or (spam is None and changes is not None and "spam" in changes):
        metadata = attrs.evolve(metadata, marked_spam=True)
    recording_url = p.url("recording", "recording_url")
    if p.errors:
        raise ValidationFailed(p.errors, what="webhook body")
    assert call_id is not None
    return IncomingCall(
        call_id=call_id,
        metadata=metadata,
        recording_url=recording_url,
        company_ids=company_ids(payload),
        tenant_hint=p.text("tenant_id"),
        raw=dict(payload) if text is None else RawPayload(payload, text),
        changes=changes,
    )


MAX_CHANGES = 100
_CHANGE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.]{0,63}$")
_CHANGE_KEYS = ("field", "name", "attribute", "key")


def parse_changes(payload: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The field names a Call Modified body says changed, lower case, in order, at most
    MAX_CHANGES; None when the body has no `changes` (not a Call Modified). CallRail documents
    the list's meaning, not its items' shape, so each item is read defensively: a field's name,
    or an object naming it (`field`, `name`, `attribute`, `key`, or its one key); a `changes`
    object gives its keys. What is not a plain field name is skipped (kept in the raw body)."""
    if "changes" not in payload:
        return None
    raw = payload["changes"]
    items: list[Any]
    if isinstance(raw, list):
        items = raw
    elif isinstance(raw, dict):
        items = list(raw)
    elif isinstance(raw, str):
        items = raw.split(",")
    else:
        items = []
    names: list[str] = []
    for item in items:
        name = _change_name(item)
        if name is not None and name not in names:
            names.append(name)
            if len(names) == MAX_CHANGES:
                break
    return tuple(names)


def _change_name(item: Any) -> str | None:
    if isinstance(item, dict):
        named = next((item[k] for k in _CHANGE_KEYS if isinstance(item.get(k), str)), None)
        if named is None and len(item) == 1:
            named = next(iter(item))
        item = named
    if not isinstance(item, str):
        return None
    name = item.strip().lower()
    return name if _CHANGE_NAME.match(name) else None


def _phone(raw: str | None) -> str | None:
    return normalize_e164(raw) if raw else None


_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0", ""}


class _Parser:
    """Reads loosely typed fields, collecting every problem instead of stopping at the first."""

    def __init__(self, payload: Mapping[str, Any]):
        self.payload = payload
        self.errors: list[FieldError] = []

    def _first(self, *keys: str) -> tuple[str, Any]:
        for key in keys:
            value = self.payload.get(key)
            if value is not None and value != "":
                return key, value
        return keys[0], None

    def text(self, *keys: str) -> str | None:
        # _first's search written out: most fields of a webhook are read with this.
        for key in keys:
            value = self.payload.get(key)
            if value is None or value == "":
                continue
            if type(value) is not str:
                if isinstance(value, (dict, list)):
                    self.errors.append(FieldError(key, "must be a string"))
                    return None
                value = str(value)
            return value.strip() or None
        return None

    def identifier(self, *keys: str) -> str | None:
        key, value = self._first(*keys)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            self.errors.append(FieldError(key, "must be a string or an integer"))
            return None
        text = str(value).strip()
        if not text or len(text) > MAX_ID_LENGTH or not text.isprintable() or "/" in text:
            self.errors.append(
                FieldError(key, f"must be 1 to {MAX_ID_LENGTH} printable characters, no '/'")
            )
            return None
        return text

    def integer(self, key: str) -> int | None:
        _, value = self._first(key)
        if value is None:
            return None
        number: float
        if isinstance(value, bool):
            number = -1
        elif isinstance(value, (int, float)):
            number = value
        elif isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                number = -1
        else:
            number = -1
        if number != number or number < 0 or number > 10**7 or number != int(number):  # NaN too
            self.errors.append(FieldError(key, "must be a whole number of seconds, 0 or more"))
            return None
        return int(number)

    def boolean(self, key: str) -> bool | None:
        _, value = self._first(key)
        if value is None:
            return None
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str):
            lowered = value.strip().lower()
            if lowered in _TRUE:
                return True
            if lowered in _FALSE:
                return False
        self.errors.append(FieldError(key, "must be true or false"))
        return None

    def timestamp(self, *keys: str) -> datetime | None:
        key, value = self._first(*keys)
        if value is None:
            return None
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            except ValueError:
                parsed = None
            if parsed is not None and parsed.tzinfo is not None:
                return parsed
        self.errors.append(FieldError(key, "must be an ISO 8601 time with a UTC offset"))
        return None

    def url(self, *keys: str) -> str | None:
        key, value = self._first(*keys)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip().lower().startswith(
            ("https://", "http://")
        ):
            self.errors.append(FieldError(key, "must be an http(s) URL"))
            return None
        if len(value) > 2048:
            self.errors.append(FieldError(key, "must be at most 2048 characters"))
            return None
        return value.strip()
