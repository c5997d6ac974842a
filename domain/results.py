"""Value objects the pipeline's stages produce, one per stage."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import attrs
from attrs import validators as v

from domain.usage import NO_USAGE, UsageDelta


def _non_negative(_: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must not be negative")


@attrs.frozen
class StoredRecording:
    uri: str
    bytes: int = attrs.field(validator=_non_negative)
    sha256: str = attrs.field(validator=v.matches_re(r"^[0-9a-f]{64}$"))
    content_type: str = "audio/mpeg"
    duration_s: float | None = None
    redacted: bool = False  # its card numbers, expiries, codes and SSNs silenced (issue 25)


@attrs.frozen
class PendingTranscription:
    """A transcription the engine will answer later: its `ticket`, the recording it reads
    (for a call whose audio is redacted, the quarantined original, which no one else names)
    and the call's recording URL it was downloaded from (`source`: a Call Modified that
    changes it makes the work stale)."""

    ticket: str
    recording: StoredRecording
    source: str | None = None


@attrs.frozen
class Word:
    """A word as the recogniser heard it and when, in seconds from the recording's start: what
    audio redaction needs to find a card number in the sound. Never stored: the transcript
    kept is the redacted text."""

    start_s: float = attrs.field(validator=_non_negative)
    end_s: float = attrs.field(validator=_non_negative)
    text: str


@attrs.frozen
class Segment:
    """A stretch of speech. `channel` is the recording's channel it was heard on (0, 1) when
    each channel was transcribed alone, None when the channels were mixed; `words` are its
    words with their times, when the recogniser gave them."""

    speaker: str
    start_s: float = attrs.field(validator=_non_negative)
    end_s: float = attrs.field(validator=_non_negative)
    text: str
    words: tuple[Word, ...] = ()
    channel: int | None = None

    def __attrs_post_init__(self) -> None:
        if self.end_s < self.start_s:
            raise ValueError("a segment cannot end before it starts")


@attrs.frozen
class SilencedSpan:
    """A stretch of a recording to silence, and why: what was redacted there (CARD, EXPIRY,
    CVV, SSN) and the channel that said it (None: every channel)."""

    start_s: float = attrs.field(validator=_non_negative)
    end_s: float = attrs.field(validator=_non_negative)
    kind: str
    channel: int | None = None


@attrs.frozen
class Transcript:
    engine: str
    language: str
    text: str
    segments: tuple[Segment, ...] = ()
    redacted: bool = False
    audio_duration_s: float | None = None


class Intent(StrEnum):
    NEW_SERVICE_REQUEST = "new_service_request"
    QUOTE_REQUEST = "quote_request"
    APPOINTMENT = "appointment"
    EXISTING_CUSTOMER = "existing_customer"
    WRONG_NUMBER = "wrong_number"
    SPAM = "spam"
    VOICEMAIL = "voicemail"
    OTHER = "other"


class Sentiment(StrEnum):
    POSITIVE = "positive"
    NEUTRAL = "neutral"
    NEGATIVE = "negative"


class Urgency(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


AnswerValue = str | float | bool | None


@attrs.frozen
class Answer:
    """A tenant's custom question (ai_config.questions) answered: `value` is None when the
    analyzer could not answer it, or its answer was not of the question's type."""

    key: str
    value: AnswerValue


@attrs.frozen
class Evidence:
    """The words behind a signal of the analysis: a short quote, verbatim from the redacted
    transcript, and when it was said (seconds from the recording's start; None if unknown)."""

    signal: str  # intent, booking, urgency, sentiment, service, caller_name, caller_email, ...
    quote: str
    at_s: float | None = None


@attrs.frozen
class CallAnalysis:
    engine: str
    summary: str
    intent: Intent
    sentiment: Sentiment = Sentiment.NEUTRAL
    urgency: Urgency = Urgency.LOW
    service_requested: str | None = None
    appointment_booked: bool = False
    caller_name: str | None = None
    caller_email: str | None = None
    is_spam: bool = False
    is_existing_customer: bool = False
    key_phrases: tuple[str, ...] = ()
    # The tenant's questions, in their order, answered (None where not answered); and the
    # quotes behind the signals above, each checked to occur in the transcript.
    answers: tuple[Answer, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    notes: tuple[str, ...] = ()  # what the analyzer could not do ("cannot answer questions")
    # What validation threw away (a model's quote not in the transcript, an answer not of its
    # question's type): counted for metrics, never stored or shown, ignored by equality.
    dropped_quotes: int = attrs.field(default=0, eq=False, repr=False)
    invalid_answers: int = attrs.field(default=0, eq=False, repr=False)
    # What producing the analysis cost (LLM tokens, the ones of rejected answers included), for
    # usage metering. Not part of the analysis: never stored or shown, ignored by equality.
    usage: UsageDelta = attrs.field(default=NO_USAGE, eq=False, repr=False)

    def evidence_for(self, signal: str) -> Evidence | None:
        return next((e for e in self.evidence if e.signal == signal), None)

    def answers_by_key(self) -> dict[str, AnswerValue]:
        return {a.key: a.value for a in self.answers}


class Tier(StrEnum):
    HOT = "hot"
    WARM = "warm"
    COLD = "cold"
    SPAM = "spam"


@attrs.frozen
class ScoreReason:
    """A part of the score and why; `quote` and `at_s` are the words that produced it (None for
    a reason read from the call's metadata: first call, duration, paid source)."""

    factor: str
    points: int
    detail: str
    quote: str | None = None
    at_s: float | None = None


@attrs.frozen
class LeadScore:
    score: int = attrs.field(validator=[v.ge(0), v.le(100)])
    tier: Tier
    qualified: bool
    threshold: int = attrs.field(validator=[v.ge(0), v.le(100)])
    version: str
    reasons: tuple[ScoreReason, ...] = ()


class SyncStatus(StrEnum):
    PENDING = "pending"
    SUCCESS = "success"
    FAILED = "failed"
    SKIPPED = "skipped"


@attrs.frozen
class CrmSyncResult:
    type: str
    status: SyncStatus
    contact_id: str | None = None
    activity_id: str | None = None
    attempts: int = 0
    error: str | None = None
    idempotency_key: str | None = None
