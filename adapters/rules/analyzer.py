"""Call analysis from weighted keyword cues: no model, no network, the same answer every time.

It reads already-redacted ASR output. The caller's turns (speaker "caller", or the whole text
when turns are not labelled) decide intent, urgency, sentiment, name and email; the agent's
turns decide whether a visit was booked. The tenant's business context adds its own services
and makes its trade's words count double ("HVAC": furnace, heat pump, thermostat...). The
caller's name and email are read by adapters.rules.contact.

A caller comparing prices ("just calling around") says so in the key phrases, which are kept
however many others there are: domain.scoring marks such a quote request down.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import NamedTuple

from adapters.rules import vocabulary as vocab
from adapters.rules.contact import caller_email, caller_name
from domain.call import CallMetadata
from domain.results import CallAnalysis, Intent, Segment, Sentiment, Transcript, Urgency
from domain.tenant import AiConfig
from ports.analysis import CallAnalyzer

ENGINE = "rules"
MAX_KEY_PHRASES = 8
MAX_SUMMARY = 300
# Ties go to the more specific intent, the earlier one here.
_RANKED = (
    Intent.EXISTING_CUSTOMER,
    Intent.QUOTE_REQUEST,
    Intent.APPOINTMENT,
    Intent.NEW_SERVICE_REQUEST,
)
_SPOKEN_TIME = r"(?:\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
_TIME_WINDOW = re.compile(rf" between {_SPOKEN_TIME}(?: am| pm)? and {_SPOKEN_TIME} ")
_DAY_AT = re.compile(
    r" (?:tomorrow|today|monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
    r" (?:at|between|morning|afternoon) "
)
_MARKER_DIGITS = re.compile(r"(?:[0-9][0-9 .-]*)?(\[REDACTED [A-Z]+\])(?:[ .-]*[0-9][0-9.-]*)?")


class RulesCallAnalyzer(CallAnalyzer):
    async def analyze(
        self, transcript: Transcript | None, metadata: CallMetadata, ai: AiConfig
    ) -> CallAnalysis:
        return analyze_call(transcript, metadata, ai)


class _Context(NamedTuple):
    """What the tenant's business context adds: its services and its trade's words."""

    services: tuple[tuple[str, tuple[str, ...]], ...]
    boosted: frozenset[str]


def analyze_call(
    transcript: Transcript | None, metadata: CallMetadata, ai: AiConfig
) -> CallAnalysis:
    fallback = Intent.VOICEMAIL if metadata.voicemail else Intent.OTHER
    if transcript is None:
        who = metadata.caller_name or metadata.caller or "an unknown caller"
        what = "Voicemail left by" if metadata.voicemail else "Missed call from"
        return CallAnalysis(ENGINE, f"{what} {who}; there is no recording to analyse.", fallback)
    segments = [s for s in transcript.segments if s.text.strip()]
    full = transcript.text if transcript.text.strip() else " ".join(s.text for s in segments)
    if not full.strip():
        return CallAnalysis(ENGINE, "No speech was recognised in the recording.", fallback)
    caller = _turns(segments, "caller") or full
    heard, everything = vocab.normal(caller), vocab.normal(full)
    context = _context(ai.business_context)
    found = {
        intent: _matches(everything if intent in _WHOLE_CALL else heard, cues)
        for intent, cues in vocab.INTENT_CUES.items()
    }
    trade = _trade_words(heard, context)
    scores = {intent: sum(w for _, w in matches) for intent, matches in found.items()}
    scores[Intent.NEW_SERVICE_REQUEST] += min(sum(w for _, w in trade), vocab.TRADE_WORDS_CAP)
    found[Intent.NEW_SERVICE_REQUEST] += trade
    intent = _intent(scores, metadata)
    not_a_lead = intent in (Intent.SPAM, Intent.WRONG_NUMBER)
    urgency, urgent = _urgency(heard)
    booked, booking = _booked(vocab.normal(_turns(segments, "agent") or full))
    sentiment, mood = _sentiment(heard)
    shopping = _matches(heard, vocab.PRICE_SHOPPING)
    groups = [shopping, found.get(intent, []), urgent, booking, mood]
    phrases = _key_phrases(heard + everything, groups)
    service = None if not_a_lead else _service(heard, context)
    return CallAnalysis(
        engine=ENGINE,
        summary=_summary(intent, service, segments, caller, phrases),
        intent=intent,
        sentiment=sentiment,
        urgency=urgency,
        service_requested=service,
        appointment_booked=booked and not not_a_lead,
        caller_name=caller_name(heard),
        caller_email=caller_email(caller),
        is_spam=intent is Intent.SPAM,
        is_existing_customer=scores[Intent.EXISTING_CUSTOMER] >= vocab.EXISTING_CUSTOMER_THRESHOLD,
        key_phrases=phrases,
    )


_WHOLE_CALL = (Intent.SPAM, Intent.WRONG_NUMBER, Intent.VOICEMAIL)


def _turns(segments: Sequence[Segment], speaker: str) -> str:
    return " ".join(s.text for s in segments if s.speaker.strip().lower() == speaker)


def _matches(text: str, cues: vocab.Cues) -> list[tuple[str, int]]:
    """The cues said in a normal() text, as whole words. A cue whose first word the text does
    not hold is passed over without a search of the text: most of them, every call."""
    said = _words(text)
    return [
        (phrase, weight)
        for phrase, weight, first, padded in _prepared(cues)
        if first in said and padded in text
    ]


@functools.lru_cache(maxsize=64)  # the vocabulary's cue sets
def _prepared(cues: vocab.Cues) -> tuple[tuple[str, int, str, str], ...]:
    return tuple((phrase, weight, phrase.split()[0], f" {phrase} ") for phrase, weight in cues)


_words = functools.lru_cache(maxsize=16)(vocab.words)  # the few texts one analysis reads


def _intent(scores: dict[Intent, int], metadata: CallMetadata) -> Intent:
    if scores[Intent.SPAM] >= vocab.SPAM_THRESHOLD:
        return Intent.SPAM
    best = max(_RANKED, key=lambda i: scores[i])  # max keeps the first of equals
    wrong = scores[Intent.WRONG_NUMBER]
    if wrong >= vocab.WRONG_NUMBER_THRESHOLD and wrong >= scores[best]:
        return Intent.WRONG_NUMBER
    left_message = scores[Intent.VOICEMAIL] >= 3 and metadata.answered is not True
    if metadata.voicemail or left_message:
        return Intent.VOICEMAIL
    return best if scores[best] >= vocab.INTENT_THRESHOLD else Intent.OTHER


@functools.lru_cache(maxsize=256)  # a tenant's context, read again for every call
def _context(business_context: str) -> _Context:
    lowered = vocab.normal(business_context)
    trades = [
        t for t, names in vocab.TRADE_NAMES.items() if any(f" {n} " in lowered for n in names)
    ]
    boosted = {term for trade in trades for term in vocab.TRADES[trade]}
    services = []
    for fragment in re.split(r"[,.;:!?()/\n]| and | or ", business_context.lower()):
        words = [w for w in vocab.normal(fragment).split() if w not in vocab.CONTEXT_STOPWORDS]
        content = tuple(w for w in words if w not in vocab.SERVICE_WORDS)
        if 1 <= len(words) <= 4 and content and len(content) < len(words):
            services.append((" ".join(words), content))
            boosted.update(content)
    return _Context(tuple(services), frozenset(boosted))


def _trade_words(text: str, context: _Context) -> list[tuple[str, int]]:
    terms = dict.fromkeys(term for trade in vocab.TRADES.values() for term in trade)
    return [(t, 2 if t in context.boosted else 1) for t in terms if f" {t} " in text]


def _said(word: str, text: str) -> bool:
    stem = word[:-1] if word.endswith("s") else word
    return f" {stem} " in text or f" {stem}s " in text


def _service(text: str, context: _Context) -> str | None:
    """The built-in service the call names most specifically, unless the tenant's own
    services name it more specifically still."""
    best, best_score = None, 0
    for name, phrases in vocab.SERVICES:
        score = sum(len(p.split()) for p in phrases if f" {p} " in text)
        if score > best_score:
            best, best_score = name, score
    for name, content in context.services:
        if all(_said(w, text) for w in content):
            kinds = [w[:5] for w in name.split() if w in vocab.SERVICE_WORDS]
            score = 2 * len(content) + 2 * any(f" {kind}" in text for kind in kinds)
            if score > best_score:
                best, best_score = name, score
    return best


def _urgency(text: str) -> tuple[Urgency, list[tuple[str, int]]]:
    for greeting in vocab.URGENCY_IGNORED:
        text = text.replace(f" {greeting} ", " ")
    high, medium = _matches(text, vocab.URGENCY_HIGH), _matches(text, vocab.URGENCY_MEDIUM)
    if high:
        return Urgency.HIGH, high
    return (Urgency.MEDIUM, medium) if medium else (Urgency.LOW, [])


def _sentiment(text: str) -> tuple[Sentiment, list[tuple[str, int]]]:
    positive = _matches(text, vocab.SENTIMENT_POSITIVE)
    negative = _matches(text, vocab.SENTIMENT_NEGATIVE)
    mood = sum(w for _, w in positive) - sum(w for _, w in negative)
    if mood >= 2:
        return Sentiment.POSITIVE, positive
    return (Sentiment.NEGATIVE, negative) if mood <= -2 else (Sentiment.NEUTRAL, [])


def _booked(agent: str) -> tuple[bool, list[tuple[str, int]]]:
    confirmed = _matches(agent, vocab.APPOINTMENT_BOOKED)
    windows = [
        (m.group().strip(), 1) for m in (_TIME_WINDOW.search(agent), _DAY_AT.search(agent)) if m
    ]
    score = sum(w for _, w in confirmed + windows)
    score -= sum(w for _, w in _matches(agent, vocab.APPOINTMENT_CANCELLED))
    return score >= 2, confirmed + windows


def _key_phrases(text: str, groups: Sequence[list[tuple[str, int]]]) -> tuple[str, ...]:
    """The phrases in the order they were said; when there are too many, the first group's
    (price shopping, which the scorer reads) are kept and then the earliest said."""
    first = dict.fromkeys(p for p, _ in groups[0])
    phrases = dict.fromkeys(p for group in groups for p, _ in sorted(group, key=lambda c: -c[1]))
    by_place = sorted(phrases, key=lambda p: text.find(f" {p} "))
    others = [p for p in by_place if p not in first][: max(MAX_KEY_PHRASES - len(first), 0)]
    kept = set(others) | set(list(first)[:MAX_KEY_PHRASES])
    return tuple(p for p in by_place if p in kept)


def _summary(
    intent: Intent,
    service: str | None,
    segments: Sequence[Segment],
    caller: str,
    phrases: tuple[str, ...],
) -> str:
    units = [s.text for s in segments if s.speaker.strip().lower() == "caller"]
    units = units or [s.text for s in segments] or _windows(caller)

    def weight(unit: str) -> float:
        heard = vocab.normal(unit)
        hits = sum(1 for p in phrases if f" {p} " in heard)
        return hits + min(len(heard.split()), 30) / 30 - (3 if "[REDACTED" in unit else 0)

    ranked = sorted(range(len(units)), key=lambda i: -weight(units[i]))[:2]
    extract = " ".join(units[i].strip() for i in sorted(ranked))
    extract = " ".join(_MARKER_DIGITS.sub(r"\1", extract).split())
    label = vocab.INTENT_LABELS[intent] + (f" ({service})" if service else "")
    summary = f"{label}: {extract}" if extract else label
    if len(summary) > MAX_SUMMARY:
        summary = summary[: MAX_SUMMARY - 1].rsplit(" ", 1)[0] + "\u2026"
    return summary


def _windows(text: str, size: int = 30) -> list[str]:
    words = text.split()
    return [" ".join(words[i : i + size]) for i in range(0, len(words), size)]
