"""Call analysis from weighted keyword cues: no model, no network, the same answer every time.

It reads already-redacted ASR output. The caller's turns (speaker "caller", or the whole text
when turns are not labelled) decide intent, urgency, sentiment, name and email; the agent's
turns decide whether a visit was booked. The tenant's business context adds its own services
and makes its trade's words count double ("HVAC": furnace, heat pump, thermostat...).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from adapters.rules import vocabulary as vocab
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
_LITERAL_EMAIL = re.compile(r"[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}")
_SPOKEN_EMAIL = re.compile(
    r"\b((?:[a-z0-9]+ (?:dot|period|underscore|dash|hyphen) )*[a-z0-9]+) at "
    rf"((?:[a-z0-9]+(?: (?:dash|hyphen) [a-z0-9]+)* dot )+(?:{'|'.join(vocab.EMAIL_DOMAINS)}))\b"
)


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
    heard, everything = _normal(caller), _normal(full)
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
    booked, booking = _booked(_normal(_turns(segments, "agent") or full))
    sentiment, mood = _sentiment(heard)
    phrases = _key_phrases(heard + everything, [found.get(intent, []), urgent, booking, mood])
    service = None if not_a_lead else _service(heard, context)
    return CallAnalysis(
        engine=ENGINE,
        summary=_summary(intent, service, segments, caller, phrases),
        intent=intent,
        sentiment=sentiment,
        urgency=urgency,
        service_requested=service,
        appointment_booked=booked and not not_a_lead,
        caller_name=_caller_name(heard),
        caller_email=_caller_email(caller),
        is_spam=intent is Intent.SPAM,
        is_existing_customer=scores[Intent.EXISTING_CUSTOMER] >= vocab.EXISTING_CUSTOMER_THRESHOLD,
        key_phrases=phrases,
    )


_WHOLE_CALL = (Intent.SPAM, Intent.WRONG_NUMBER, Intent.VOICEMAIL)


def _turns(segments: Sequence[Segment], speaker: str) -> str:
    return " ".join(s.text for s in segments if s.speaker.strip().lower() == speaker)


def _normal(text: str) -> str:
    """Lower case, words and apostrophes only, padded with spaces for whole-word matching."""
    words = re.sub(r"[^a-z0-9']+", " ", text.lower().replace("\u2019", "'"))
    return " " + " ".join(w.strip("'") for w in words.split() if w.strip("'")) + " "


def _matches(text: str, cues: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
    return [(phrase, weight) for phrase, weight in cues if f" {phrase} " in text]


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


def _context(business_context: str) -> _Context:
    lowered = _normal(business_context)
    trades = [
        t for t, names in vocab.TRADE_NAMES.items() if any(f" {n} " in lowered for n in names)
    ]
    boosted = {term for trade in trades for term in vocab.TRADES[trade]}
    services = []
    for fragment in re.split(r"[,.;:!?()/\n]| and | or ", business_context.lower()):
        words = [w for w in _normal(fragment).split() if w not in vocab.CONTEXT_STOPWORDS]
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


def _key_phrases(text: str, groups: Iterable[list[tuple[str, int]]]) -> tuple[str, ...]:
    phrases = dict.fromkeys(p for group in groups for p, _ in sorted(group, key=lambda c: -c[1]))
    return tuple(sorted(phrases, key=lambda p: text.find(f" {p} "))[:MAX_KEY_PHRASES])


def _caller_name(text: str) -> str | None:
    words = text.split()
    for cue in vocab.NAME_CUES:
        size = len(cue.split())
        for i in range(len(words) - size):
            if " ".join(words[i : i + size]) == cue and (name := _name_at(words, i, size, cue)):
                return name
    return None


def _name_at(words: list[str], i: int, size: int, cue: str) -> str | None:
    j = i + size
    while j < len(words) and words[j] in ("um", "uh", "er"):
        j += 1
    name: list[str] = []
    while j < len(words) and len(name) < 2:
        word = words[j].replace("'", "")
        if not word.isalpha() or len(word) < 2 or word in vocab.NAME_STOPWORDS:
            break
        name.append(word)
        j += 1
    after = words[j] if j < len(words) else ""
    before = " ".join(words[max(i - 8, 0) : i])
    if not name or any(g in before for g in vocab.AGENT_GREETINGS[:2]):
        return None
    if cue in ("it's", "its") and after not in ("calling", "here", "from", "again"):
        return None
    greeted = i > 0 and words[i - 1] in ("hi", "hello", "hey", "yeah", "yes", "oh")
    if (
        cue == "this is"
        and not greeted
        and after not in ("calling", "from", "with", "here", "i", "and", "")
    ):
        return None
    ahead = " ".join(words[j : j + 6])
    if any(g in ahead for g in vocab.AGENT_GREETINGS[2:]):
        return None  # "hi this is sarah how can i help you": the agent's own name
    return " ".join(w.capitalize() for w in name)


def _caller_email(text: str) -> str | None:
    literal = _LITERAL_EMAIL.search(text.lower())
    if literal:
        return literal.group()
    spoken = re.sub(r"(?<=[a-z0-9])\.(?=[a-z0-9])", " dot ", text.lower()).replace("@", " at ")
    spoken = _normal(spoken)
    for sound, written in vocab.EMAIL_SOUNDS.items():
        spoken = spoken.replace(f" {sound} ", f" {written} ")
    match = _SPOKEN_EMAIL.search(spoken)
    if match is None:
        return None
    local = "".join(vocab.EMAIL_SEPARATORS.get(w, w) for w in match.group(1).split())
    before = spoken[: match.start()].split()[-5:]
    if "is" in before and " dot " not in match.group(1):  # "my email is john smith at ..."
        run = [w for w in before[before.index("is") + 1 :] if w not in ("um", "uh")]
        if run and all(w.isalnum() and w not in vocab.NAME_STOPWORDS for w in run):
            local = "".join(run) + local
    domain = "".join(vocab.EMAIL_SEPARATORS.get(w, w) for w in match.group(2).split())
    return f"{local}@{domain}"


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
        heard = _normal(unit)
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
