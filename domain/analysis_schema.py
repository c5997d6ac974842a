"""CallAnalysis as a JSON Schema for a language model's structured output, and the model's
answer checked against it (Gemini's and any OpenAI-compatible server's alike).

The schema is generated from CallAnalysis's own fields and types, so a field added to the domain
either appears in the schema and the validation or fails loudly here (an unsupported type).
It is plain JSON Schema (type arrays for nullable strings, maxLength and maxItems caps: small
models otherwise repeat until they run out of tokens); each transport sends it in its own
dialect. What the model returns is untrusted: it is parsed, every field's type and enum value
checked, strings trimmed and capped, unknown fields dropped, before a CallAnalysis is built.
"""

from __future__ import annotations

import enum
import functools
import json
import re
import types as pytypes
import typing
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from domain.evidence import MAX_QUOTE_CHARS, locate
from domain.questions import Question, answer_schema, checked_answers
from domain.results import CallAnalysis, Evidence, Transcript

# Ours (who answered, what it cost, what was thrown away), or built from the model's
# "evidence" and "answers" objects, which have schemas of their own.
NOT_FROM_THE_MODEL = frozenset(
    {"engine", "usage", "answers", "evidence", "notes", "dropped_quotes", "invalid_answers"}
)
# The signals a model cites words for: what the score's reasons rest on.
EVIDENCE_SIGNALS = {
    "intent": "why the caller called",
    "booking": "a visit or appointment agreed",
    "urgency": "how soon the caller needs help",
    "sentiment": "the caller's mood",
    "service": "the service asked for",
    "caller_name": "the caller saying their name",
    "caller_email": "the caller giving their email address",
    "price_shopping": "the caller comparing prices",
    "spam": "a robocall or a sales pitch",
}
MAX_KEY_PHRASES = 8
MAX_KEY_PHRASE_CHARS = 80
MAX_SUMMARY_CHARS = 500
MAX_TEXT_CHARS = 200
MAX_RESPONSE_CHARS = 64_000
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[a-z]{2,24}$", re.IGNORECASE)
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)
_NOTES = {
    "summary": "One or two sentences on what the caller wanted and what was agreed.",
    "intent": (
        "Why the caller called. new_service_request: a job for the business (a repair, an"
        " install, a case, a move, a home to sell), or something wrong where the business comes"
        " out; appointment: a visit asked for, at a business customers come to (dentist, vet,"
        " med spa, clinic) even for a problem, or a routine one (a tune-up, a showing, a"
        " checkup); quote_request: a price or an estimate; existing_customer: already served"
        " by the business (reschedules, bills, warranty, status); spam: robocalls and anyone"
        " selling to the business; voicemail: a message that says nothing of what is wanted;"
        " other: job seekers, vendors, insurers, callers sent elsewhere, hang-ups."
    ),
    "sentiment": "The caller's mood.",
    "urgency": "How soon the caller needs the business: high for an emergency today.",
    "service_requested": "The service the caller asked for, in a few words; null if none.",
    "appointment_booked": "True only if a visit or appointment was agreed on the call.",
    "caller_name": "The caller's name as spoken; null if not said.",
    "caller_email": "The caller's email address if spelled out; null if not said.",
    "is_spam": "True for robocalls, sales pitches and other calls that are not leads.",
    "is_existing_customer": "True if the caller is already a customer of the business.",
    "key_phrases": "Up to 8 short phrases from the call that justify the analysis.",
}
_CAPS = {"summary": MAX_SUMMARY_CHARS}


class InvalidOutput(ValueError):
    """The model's answer is not the object the schema describes."""


@attrs.frozen
class _Field:
    name: str
    kind: str  # "text", "optional_text", "choice", "flag", "phrases"
    required: bool
    choices: type[enum.Enum] | None = None


@functools.cache
def _fields() -> tuple[_Field, ...]:
    hints = typing.get_type_hints(CallAnalysis)
    fields = []
    for field in attrs.fields(CallAnalysis):
        if field.name in NOT_FROM_THE_MODEL:
            continue
        required = field.default is attrs.NOTHING
        fields.append(_classify(field.name, hints[field.name], required))
    return tuple(fields)


def _classify(name: str, hint: Any, required: bool) -> _Field:
    args = typing.get_args(hint)
    if hint is str:
        return _Field(name, "text", required)
    if hint is bool:
        return _Field(name, "flag", required)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return _Field(name, "choice", required, hint)
    if isinstance(hint, pytypes.UnionType) and set(args) == {str, type(None)}:
        return _Field(name, "optional_text", required)
    if typing.get_origin(hint) is tuple and args == (str, Ellipsis):
        return _Field(name, "phrases", required)
    raise TypeError(f"CallAnalysis.{name}: no response schema for {hint!r}")


@functools.cache
def _schema() -> str:
    properties = {field.name: _property(field) for field in _fields()}
    return json.dumps(
        {
            "type": "object",
            "properties": properties,
            "required": list(properties),  # nullable ones may be null, but are always there
            "additionalProperties": False,
        }
    )


def response_schema(questions: tuple[Question, ...] = ()) -> dict[str, Any]:
    """A fresh copy each time: a transport may adapt it to its dialect. It grows by the
    evidence object (a quote per signal) and, for a tenant with questions, their answers."""
    schema: dict[str, Any] = json.loads(_schema())
    quote = {"type": ["string", "null"], "maxLength": MAX_QUOTE_CHARS}
    schema["properties"]["evidence"] = {
        "type": "object",
        "description": (
            "For each signal, the caller's or the business's exact words from the transcript"
            " that show it (a few words, copied verbatim without the time or speaker); null"
            " when the call has none."
        ),
        "properties": {k: {**quote, "description": v} for k, v in EVIDENCE_SIGNALS.items()},
        "required": list(EVIDENCE_SIGNALS),
        "additionalProperties": False,
    }
    schema["required"].append("evidence")
    if questions:
        schema["properties"]["answers"] = {
            "type": "object",
            "description": "The business's own questions about the call; null if it does not tell.",
            "properties": {q.key: answer_schema(q) for q in questions},
            "required": [q.key for q in questions],
            "additionalProperties": False,
        }
        schema["required"].append("answers")
    return schema


def _property(field: _Field) -> dict[str, Any]:
    note = _NOTES.get(field.name)
    described = {"description": note} if note else {}
    if field.kind == "flag":
        return {"type": "boolean", **described}
    if field.kind == "choice" and field.choices is not None:
        values = [str(member.value) for member in field.choices]
        return {"type": "string", "enum": values, **described}
    if field.kind == "phrases":
        item = {"type": "string", "maxLength": MAX_KEY_PHRASE_CHARS}
        return {"type": "array", "items": item, "maxItems": MAX_KEY_PHRASES, **described}
    kind: str | list[str] = ["string", "null"] if field.kind == "optional_text" else "string"
    cap = _CAPS.get(field.name, MAX_TEXT_CHARS)
    return {"type": kind, "maxLength": cap, **described}


def parse_analysis(
    text: str | None,
    engine: str,
    questions: tuple[Question, ...] = (),
    transcript: Transcript | None = None,
) -> CallAnalysis:
    """The model's JSON text as a CallAnalysis; InvalidOutput says what was wrong with it.
    Its quotes are kept only where the transcript holds them, as the transcript says them;
    its answers only where they are of their question's type (the others are None). What
    was dropped is counted on the analysis."""
    if text is None or not text.strip():
        raise InvalidOutput("empty answer")
    if len(text) > MAX_RESPONSE_CHARS:
        raise InvalidOutput(f"answer of {len(text)} characters")
    stripped = text.strip()
    fenced = _FENCE.match(stripped)
    try:
        document = json.loads(fenced.group(1) if fenced else stripped)
    except (ValueError, RecursionError) as exc:
        raise InvalidOutput(f"not JSON ({type(exc).__name__})") from None
    if not isinstance(document, Mapping):
        raise InvalidOutput(f"a JSON {type(document).__name__}, not an object")
    values: dict[str, Any] = {}
    for field in _fields():
        if field.name not in document:
            if field.required:
                raise InvalidOutput(f"{field.name} is missing")
            continue  # CallAnalysis's default
        values[field.name] = _CHECKS[field.kind](field, document[field.name])
    evidence, dropped = _evidence(document.get("evidence"), transcript)
    answers, invalid = checked_answers(questions, document.get("answers"))
    return CallAnalysis(
        engine=engine,
        **values,
        answers=answers,
        evidence=evidence,
        dropped_quotes=dropped,
        invalid_answers=invalid,
    )


def _evidence(raw: Any, transcript: Transcript | None) -> tuple[tuple[Evidence, ...], int]:
    """The cited quotes that occur in the transcript, and how many did not (dropped)."""
    cited = raw if isinstance(raw, Mapping) else {}
    kept, dropped = [], 0
    for signal in EVIDENCE_SIGNALS:
        quote = cited.get(signal)
        if not isinstance(quote, str) or not quote.strip():
            continue
        found = locate(transcript, quote[: 2 * MAX_QUOTE_CHARS], signal=signal)
        if found is None:
            dropped += 1
        else:
            kept.append(found)
    return tuple(kept), dropped


def _text(field: _Field, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidOutput(f"{field.name} is not a non-empty string")
    return _capped(value, _CAPS.get(field.name, MAX_TEXT_CHARS))


def _optional_text(field: _Field, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidOutput(f"{field.name} is neither a string nor null")
    text = _capped(value, _CAPS.get(field.name, MAX_TEXT_CHARS))
    if field.name == "caller_email" and not _EMAIL.match(text):
        return None  # not an address: dropped, the rest of the analysis stands
    return text or None


def _choice(field: _Field, value: Any) -> enum.Enum:
    assert field.choices is not None
    if isinstance(value, str):
        for member in field.choices:
            if str(member.value) == value.strip().lower():
                return member
    raise InvalidOutput(f"{field.name} is not one of its values")


def _flag(field: _Field, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidOutput(f"{field.name} is not a boolean")
    return value


def _phrases(field: _Field, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise InvalidOutput(f"{field.name} is not an array")
    kept: dict[str, str] = {}
    for item in value:
        if isinstance(item, str) and item.strip():
            phrase = _capped(item, MAX_KEY_PHRASE_CHARS)
            kept.setdefault(phrase.lower(), phrase)
    return tuple(kept.values())[:MAX_KEY_PHRASES]


_CHECKS: dict[str, Callable[[_Field, Any], Any]] = {
    "text": _text,
    "optional_text": _optional_text,
    "choice": _choice,
    "flag": _flag,
    "phrases": _phrases,
}


def _capped(value: str, limit: int) -> str:
    """Whitespace collapsed, control characters out, at most `limit` characters."""
    text = " ".join("".join(c for c in value if c.isprintable() or c.isspace()).split())
    if len(text) > limit:
        text = text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:") + "\u2026"
    return text
