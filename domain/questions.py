"""A tenant's own questions about every call (ai_config.questions): what the LLM analyzers
answer alongside the analysis, in the same schema-constrained request.

Each question has a key (the answer's name in the call JSON, the CRM and stats), the question
put to the model, and an answer type: text, number, boolean, or choice among listed values.
An answer is checked against its type; one that is not of it becomes None and is counted,
never shown.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from domain.errors import FieldError, unknown_keys
from domain.results import Answer, AnswerValue

ANSWER_TYPES = ("text", "number", "boolean", "choice")
MAX_QUESTIONS = 20
MAX_QUESTION_CHARS = 500
MAX_CHOICES = 20
MAX_CHOICE_CHARS = 80
MAX_TEXT_ANSWER_CHARS = 200
KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
# A CRM property (HubSpot, lower case) or field (Salesforce, Budget__c) an answer is written to.
FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,99}$")
_QUESTION_KEYS = ("key", "question", "type", "choices")


@attrs.frozen
class Question:
    key: str
    question: str
    type: str = "text"
    choices: tuple[str, ...] = ()


def parse_questions(raw: Any, errors: list[FieldError]) -> tuple[Question, ...]:
    """The ai_config.questions list; every problem is added to `errors` by field path."""
    where = "config.ai_config.questions"
    if not isinstance(raw, list) or len(raw) > MAX_QUESTIONS:
        errors.append(FieldError(where, f"a list of at most {MAX_QUESTIONS} questions"))
        return ()
    questions: list[Question] = []
    for n, item in enumerate(raw):
        at = f"{where}[{n}]"
        if not isinstance(item, Mapping):
            errors.append(FieldError(at, "an object with key, question, type"))
            continue
        errors.extend(unknown_keys(item, _QUESTION_KEYS, at, "a question setting"))
        question = _question(item, at, errors)
        if question is None:
            continue
        if any(q.key == question.key for q in questions):
            errors.append(FieldError(f"{at}.key", "used by another question"))
            continue
        questions.append(question)
    return tuple(questions)


def _question(item: Mapping[str, Any], at: str, errors: list[FieldError]) -> Question | None:
    key, text, kind = item.get("key"), item.get("question"), item.get("type", "text")
    choices = item.get("choices", [])
    before = len(errors)
    if not isinstance(key, str) or not KEY.match(key):
        errors.append(FieldError(f"{at}.key", "lower case letters, digits and _, up to 40"))
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_QUESTION_CHARS:
        what = f"text of at most {MAX_QUESTION_CHARS} characters"
        errors.append(FieldError(f"{at}.question", what))
    if kind not in ANSWER_TYPES:
        errors.append(FieldError(f"{at}.type", f"one of {', '.join(ANSWER_TYPES)}"))
    valid_choices = (
        isinstance(choices, list)
        and len(choices) <= MAX_CHOICES
        and all(isinstance(c, str) and c.strip() and len(c) <= MAX_CHOICE_CHARS for c in choices)
        and len({c.strip().lower() for c in choices}) == len(choices)
    )
    if not valid_choices:
        errors.append(FieldError(f"{at}.choices", f"up to {MAX_CHOICES} distinct short texts"))
    elif kind == "choice" and len(choices) < 2:
        errors.append(FieldError(f"{at}.choices", "at least two choices for a choice question"))
    elif kind != "choice" and choices:
        errors.append(FieldError(f"{at}.choices", "only a choice question has choices"))
    if len(errors) > before:
        return None
    assert isinstance(key, str)
    assert isinstance(text, str)
    return Question(key, text.strip(), str(kind), tuple(c.strip() for c in choices))


def check_answer_fields(
    mapping: Any, questions: Sequence[Question], errors: list[FieldError]
) -> None:
    """crm_config.answer_property_map: question key -> the CRM property or field it fills."""
    if mapping is None:
        return
    where = "config.crm_config.answer_property_map"
    if not isinstance(mapping, Mapping):
        errors.append(FieldError(where, "an object: question key -> CRM property name"))
        return
    keys = {q.key for q in questions}
    for key, name in mapping.items():
        if key not in keys:
            errors.append(FieldError(f"{where}.{key}", "not the key of one of ai_config.questions"))
        elif not isinstance(name, str) or not FIELD_NAME.match(name):
            errors.append(FieldError(f"{where}.{key}", "a CRM property or field name"))


def questions_document(questions: Sequence[Question]) -> list[dict[str, Any]]:
    document = []
    for q in questions:
        item: dict[str, Any] = {"key": q.key, "question": q.question, "type": q.type}
        if q.type == "choice":
            item["choices"] = list(q.choices)
        document.append(item)
    return document


def answer_schema(question: Question) -> dict[str, Any]:
    """The JSON Schema of one answer: its type, or null when the call does not tell."""
    described = {"description": question.question}
    if question.type == "boolean":
        return {"type": ["boolean", "null"], **described}
    if question.type == "number":
        return {"type": ["number", "null"], **described}
    if question.type == "choice":
        return {"type": ["string", "null"], "enum": [*question.choices, None], **described}
    return {"type": ["string", "null"], "maxLength": MAX_TEXT_ANSWER_CHARS, **described}


def checked_answers(questions: Sequence[Question], raw: Any) -> tuple[tuple[Answer, ...], int]:
    """The answers a model gave, one per question in order, and how many were not of their
    question's type (those are None). A missing answer is None and not counted."""
    given = raw if isinstance(raw, Mapping) else {}
    answers, invalid = [], 0
    for q in questions:
        value = given.get(q.key)
        checked = _checked(q, value)
        if value is not None and checked is None:
            invalid += 1
        answers.append(Answer(q.key, checked))
    return tuple(answers), invalid


def unanswered(questions: Sequence[Question]) -> tuple[Answer, ...]:
    return tuple(Answer(q.key, None) for q in questions)


def _checked(question: Question, value: Any) -> AnswerValue:
    if value is None:
        return None
    if question.type == "boolean":
        return value if isinstance(value, bool) else None
    if question.type == "number":
        number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
        return float(number) if number is not None and math.isfinite(number) else None
    if not isinstance(value, str) or not value.strip():
        return None
    text = " ".join("".join(c for c in value if c.isprintable() or c.isspace()).split())
    if question.type == "choice":
        return next((c for c in question.choices if c.lower() == text.lower()), None)
    return text if len(text) <= MAX_TEXT_ANSWER_CHARS else None


def answer_text(value: AnswerValue) -> str:
    """An answer as a CRM or a person reads it."""
    if value is None:
        return "not answered"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:g}"
    return value
