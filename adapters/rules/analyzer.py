"""Call analysis from who speaks and what they ask for: no model, no network, the same answer
every time, a few milliseconds a call.

It reads already-redacted ASR output, split into the business's turns and the caller's
(adapters.rules.roles). Three questions settle a call:

- Who is the caller to the business? Someone selling to it (marketing, leads, listings, card
  processing: "we send exclusive homeowner appointments") is a solicitation, spam and never a
  lead; someone after a job, or on an errand for a supplier or an insurer, is `other`; someone
  it already serves ("since your tech came out", "my appointment is on thursday", "a charge i
  don't recognize": adapters.rules.relationship) is an existing customer, whatever service
  words the call also holds.
- What do they ask for? A price (quote), a visit (appointment), or help with a problem or with
  something the business offers (new service). The tenant's business context says what it
  offers ("Botox", "termites", "brakes") and makes its trade's words count double; but those
  words say what a call is about, not what the caller wants: with nothing broken or hurt, a
  caller who asks a price wants a quote and one who asks for a time an appointment, and a
  problem that needs help now makes a visit asked for a service call.
- What did the business say? Its words confirm a booking ("you're all set", or a time it
  offers that the caller takes), same-day help says the call is urgent, an estimate it offers
  says the caller asked for one.

The caller's name and email are read by adapters.rules.contact. A caller comparing prices
("just calling around", or "a few quotes", said as "comparing prices (a few quotes)") says so
in the key phrases, which are kept however many others there are: domain.scoring marks such a
quote request down.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Sequence
from typing import NamedTuple

import attrs

from adapters.rules import relationship, roles
from adapters.rules import vocabulary as vocab
from adapters.rules.contact import caller_email, caller_name
from adapters.rules.evidence import cited, email_evidence, name_evidence
from domain.call import CallMetadata
from domain.questions import unanswered
from domain.results import CallAnalysis, Intent, Segment, Sentiment, Transcript, Urgency
from domain.tenant import AiConfig
from ports.analysis import CallAnalyzer

ENGINE = "rules"
CANNOT_ANSWER = "the rules analyzer cannot answer custom questions: they need an LLM analyzer"
MAX_KEY_PHRASES = 8
MAX_SUMMARY = 300
# Ties go to the more specific intent, the earlier one here.
_RANKED = (
    Intent.EXISTING_CUSTOMER,
    Intent.QUOTE_REQUEST,
    Intent.APPOINTMENT,
    Intent.NEW_SERVICE_REQUEST,
)
_LONGEST_ANSWER = 15  # words: "sure it's jenna dot m dot price at gmail dot com"
_VISIT_OR_JOB = (Intent.NEW_SERVICE_REQUEST, Intent.APPOINTMENT)
_LEADS = (Intent.NEW_SERVICE_REQUEST, Intent.QUOTE_REQUEST, Intent.APPOINTMENT)
_SPOKEN_TIME = rf"(?:\d{{1,2}}|{vocab.SPOKEN_HOURS})"
_TIME_WINDOW = re.compile(  # not a price: "between four and nine thousand"
    rf" between {_SPOKEN_TIME}(?: am| pm)? and {_SPOKEN_TIME} (?!thousand|hundred|grand|dollars)"
)
_DAY_AT = re.compile(
    r" (?:tomorrow|today|monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
    r" (?:at|between|morning|afternoon) "
    # or the time first, as a booking is read back: "3 30 thursday", "at ten on friday"
    rf"| {_SPOKEN_TIME}(?: \d{{2}})?(?: am| pm| o'clock)? (?:on )?(?:tomorrow|monday|tuesday"
    r"|wednesday|thursday|friday|saturday|sunday)\b"
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
    offers: frozenset[str]  # the stems of the words that say what the business offers
    seen_there: bool  # its customers come to it to be seen (vocabulary.SEEN_AT_THE_BUSINESS)


def analyze_call(
    transcript: Transcript | None, metadata: CallMetadata, ai: AiConfig
) -> CallAnalysis:
    """The analysis; the tenant's questions, which rules cannot answer, are None, and the
    analysis's notes say so."""
    analysis = _analyze_call(transcript, metadata, ai)
    if not ai.questions:
        return analysis
    return attrs.evolve(
        analysis, answers=unanswered(ai.questions), notes=(*analysis.notes, CANNOT_ANSWER)
    )


def _analyze_call(
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
    said = roles.turns(segments, full, roles.business_name(ai.business_context))
    if segments and all(s.speaker.strip().lower() == roles.AGENT for s in segments):
        # Channels labelled and the caller's silent: a hang-up, or the greeting alone.
        return CallAnalysis(ENGINE, "The caller said nothing.", fallback)
    caller = " ".join(t.text for t in said if t.role == roles.CALLER) or full
    agent = vocab.normal(" ".join(t.text for t in said if t.role == roles.AGENT) or full)
    heard, everything = vocab.normal(caller), vocab.normal(full)
    asking = _asking(said) or heard  # what the caller wants, their name and email left out
    context = _context(ai.business_context)
    found = {
        intent: _matches(_heard_for(intent, everything, heard, asking), cues)
        for intent, cues in vocab.INTENT_CUES.items()
    }
    found[Intent.EXISTING_CUSTOMER] += relationship.said(asking, vocab.normal(ai.business_context))
    if vocab.QUOTED_BEFORE.search(asking):  # "mike came out last week and gave us a quote"
        found[Intent.EXISTING_CUSTOMER] = [
            c for c in found[Intent.EXISTING_CUSTOMER] if not vocab.A_VISIT.search(f" {c[0]} ")
        ]
    if found[Intent.EXISTING_CUSTOMER]:  # the business's word confirms, never settles
        found[Intent.EXISTING_CUSTOMER] += relationship.confirmed(agent)
    found[Intent.QUOTE_REQUEST] += _matches(agent, vocab.AGENT_QUOTES)
    found[Intent.APPOINTMENT] += [(m.group().strip(), 4) for m in vocab.BRING_IN.finditer(asking)]
    trade = _trade_words(asking, context) + _matches(agent, vocab.AGENT_TAKES_THE_JOB)
    scores = {intent: sum(w for _, w in matches) for intent, matches in found.items()}
    scores[Intent.NEW_SERVICE_REQUEST] += min(sum(w for _, w in trade), vocab.TRADE_WORDS_CAP)
    found[Intent.NEW_SERVICE_REQUEST] += trade
    wrong_turn, not_here = _wrong_place(said), vocab.NOT_THIS_PLACE.search(agent)
    if wrong_turn is not None or not_here:  # the business's own "no",
        scores[Intent.WRONG_NUMBER] += 2 * vocab.WRONG_NUMBER_THRESHOLD  # outweighs one cue
    pitch, errand = _solicitation(asking), _errand(asking)
    found[Intent.SPAM] += pitch
    found[Intent.OTHER] = errand
    urgency, urgent = _urgency(heard, agent)
    troubles = _matches(asking, vocab.PROBLEMS)
    problem = bool(troubles)
    if problem:  # something broken, hurt or sick, told to a business: the caller wants help
        scores[Intent.NEW_SERVICE_REQUEST] = max(
            scores[Intent.NEW_SERVICE_REQUEST], vocab.INTENT_THRESHOLD
        )
    intent = _intent(scores, metadata, bool(pitch), bool(errand), problem, urgency)
    booked, booking = _booked(said, agent)
    estimate = _matches(agent, vocab.AGENT_QUOTES) + _matches(asking, vocab.ESTIMATE_ASKED)
    # what the caller led with: a price, or the job (its trade's words, what is wrong)
    price_first = _said_first(asking, found[Intent.QUOTE_REQUEST], trade + troubles)
    intent = _settled(intent, booked, bool(estimate), problem, price_first, context.seen_there)
    if intent in _LEADS and (referred := _said_any(agent, vocab.REFERRED_OUT)):
        intent, errand = Intent.OTHER, [(p, 3) for p in referred]  # "try the county shelter"
        found[Intent.OTHER] = errand
    not_a_lead = intent in (Intent.SPAM, Intent.WRONG_NUMBER) or (
        intent is Intent.OTHER and bool(errand)
    )
    existing = scores[Intent.EXISTING_CUSTOMER] >= vocab.EXISTING_CUSTOMER_THRESHOLD
    booked = booked and not not_a_lead and intent is not Intent.EXISTING_CUSTOMER
    sentiment, mood = _sentiment(heard)
    shopping = _matches(heard, vocab.PRICE_SHOPPING) or [
        (f"comparing prices ({phrase})", w) for phrase, w in _matches(heard, vocab.COMPARING)
    ]
    groups = [shopping, found.get(intent, []), urgent, booking, mood]
    phrases = _key_phrases(heard + everything + agent, groups)
    service = None if not_a_lead else _service(asking, context)
    name, email = caller_name(said), caller_email(said)
    heard_intent = [p for p, _ in sorted(found.get(intent, []), key=lambda c: -c[1])]
    if not heard_intent and intent in _LEADS:  # settled by how the call ended: what was asked
        heard_intent = [p for i in _LEADS for p, _ in found.get(i, [])] + [p for p, _ in trade]
    if intent is Intent.WRONG_NUMBER:
        heard_intent += [t.text for t in (wrong_turn,) if t is not None]
        heard_intent += [not_here.group()] if not_here else []
    evidence = cited(
        transcript,
        {
            "intent": heard_intent + [p for p, _ in troubles],
            "booking": [p for p, _ in booking] if booked else [],
            "urgency": [p for p, _ in urgent],
            "sentiment": [p for p, _ in mood],
            "service": [service, *(p for p, _ in trade + troubles)] if service else [],
            "price_shopping": [p for p, _ in shopping],
        },
    )
    contact = (name_evidence(transcript, name), email_evidence(transcript, email))
    return CallAnalysis(
        engine=ENGINE,
        summary=_summary(intent, service, segments, caller, phrases),
        intent=intent,
        sentiment=sentiment,
        urgency=urgency,
        service_requested=service,
        appointment_booked=booked,
        caller_name=name,
        caller_email=email,
        is_spam=intent is Intent.SPAM,
        is_existing_customer=existing and not not_a_lead,  # a vendor, an insurer: no customer
        key_phrases=phrases,
        evidence=evidence + tuple(e for e in contact if e is not None),
    )


def _settled(
    intent: Intent, booked: bool, estimate: bool, problem: bool, price_first: bool, seen_there: bool
) -> Intent:
    """What the caller wanted, once it is known how the call ended and what they led with:

    - a price asked, then the visit booked: the job if something is wrong (a spring to fix),
      else the appointment (an oil change); a booked estimate is a quote request, whether
      the caller asked for it or the business offered it for a job with nothing wrong;
    - a price asked first and nothing booked: a quote request ("how much is a cleaning");
    - where customers come to be seen, a request for help is an appointment."""
    if intent is Intent.QUOTE_REQUEST and booked and not estimate:
        intent = Intent.NEW_SERVICE_REQUEST if problem else Intent.APPOINTMENT
    elif booked and estimate and not problem and intent is Intent.NEW_SERVICE_REQUEST:
        intent = Intent.QUOTE_REQUEST  # "we want to replace our ac" - "a free estimate friday"
    elif not booked and price_first and intent in _VISIT_OR_JOB:
        intent = Intent.QUOTE_REQUEST
    if seen_there and intent is Intent.NEW_SERVICE_REQUEST:
        return Intent.APPOINTMENT  # a patient with a toothache wants to be seen
    return intent


def _said_first(text: str, these: list[tuple[str, int]], those: list[tuple[str, int]]) -> bool:
    """Whether the first of these phrases comes before the first of those in the text."""

    def first(found: list[tuple[str, int]]) -> int:
        return min((i for p, _ in found if (i := text.find(f" {p} ")) >= 0), default=len(text))

    return bool(these) and first(these) < first(those)


def _asking(said: Sequence[roles.Turn]) -> str:
    """The caller's words, less their answers to "your name?" and "your email?" (a caller
    named Price asks for no price). An answer is short: the message after a voicemail
    greeting's "leave your name and number" is kept."""
    kept, asked = [], False
    for turn in said:
        if turn.role == roles.AGENT:
            asked = any(f" {q} " in turn.heard for q in vocab.CONTACT_QUESTIONS)
        elif not asked or len(turn.heard.split()) > _LONGEST_ANSWER:
            kept.append(turn.heard)
    return " ".join(kept) if kept else ""


def _solicitation(text: str) -> list[tuple[str, int]]:
    """A caller selling to the business: what they sell, said to the business as a customer."""
    topics = _said_any(text, vocab.SOLICITATION_TOPICS)
    addressed = _said_any(text, vocab.ADDRESSING_THE_BUSINESS)
    if len(topics) >= 2 or (topics and addressed):
        return [("solicitation", 3), *((p, 3) for p in topics[:2])]
    return []


def _errand(text: str) -> list[tuple[str, int]]:
    """Someone after work, or on an errand for their employer (a supplier, an insurer)."""
    job = _said_any(text, vocab.JOB_SEEKING)
    errand = _said_any(text, vocab.BUSINESS_ERRANDS) if vocab.ON_BEHALF.search(text) else []
    return [(p, 3) for p in (job + errand)[:2]]


def _said_any(text: str, phrases: Sequence[str]) -> list[str]:
    return [p for p in phrases if f" {p} " in text]


def _wrong_place(said: Sequence[roles.Turn]) -> roles.Turn | None:
    """The caller's turn asking if they reached someone else, when the business says no."""
    for turn, reply in itertools.pairwise(said):
        if (
            turn.role == roles.CALLER
            and reply.role == roles.AGENT
            and vocab.WRONG_PLACE_QUESTION.search(turn.heard)
            and vocab.AGENT_DENIAL.search(reply.heard)
        ):
            return turn
    return None


_WHOLE_CALL = (Intent.WRONG_NUMBER, Intent.VOICEMAIL)


def _heard_for(intent: Intent, everything: str, caller: str, asking: str) -> str:
    """Where an intent's cues are listened for: a robocall's "press 1" in the caller's words
    (a closed office's greeting says it too), a wrong number or a voicemail greeting in the
    whole call, the rest in what the caller asks."""
    if intent is Intent.SPAM:
        return caller
    return everything if intent in _WHOLE_CALL else asking


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


def _intent(
    scores: dict[Intent, int],
    metadata: CallMetadata,
    pitch: bool,
    errand: bool,
    problem: bool,
    urgency: Urgency,
) -> Intent:
    if scores[Intent.SPAM] >= vocab.SPAM_THRESHOLD or pitch:
        return Intent.SPAM
    best = max(_RANKED, key=lambda i: scores[i])  # max keeps the first of equals
    wrong = scores[Intent.WRONG_NUMBER]
    if wrong >= vocab.WRONG_NUMBER_THRESHOLD and wrong >= scores[best]:
        return Intent.WRONG_NUMBER
    left_message = scores[Intent.VOICEMAIL] >= 3 and metadata.answered is not True
    if metadata.voicemail or left_message:
        # A voicemail's intent is what it asks for; `voicemail` when it says nothing of that.
        says_what = scores[best] >= vocab.INTENT_THRESHOLD
        existing = scores[Intent.EXISTING_CUSTOMER] > vocab.EXISTING_CUSTOMER_THRESHOLD
        if errand:
            return Intent.OTHER  # a message left by a job seeker, a vendor, an insurer
        if not (says_what or existing):
            return Intent.VOICEMAIL
    if errand:
        return Intent.OTHER
    if scores[Intent.EXISTING_CUSTOMER] > vocab.EXISTING_CUSTOMER_THRESHOLD:
        return Intent.EXISTING_CUSTOMER  # their own job or account, whatever else they say
    if scores[best] < vocab.INTENT_THRESHOLD:
        return Intent.OTHER
    if best is Intent.APPOINTMENT and problem and urgency is Urgency.HIGH:
        return Intent.NEW_SERVICE_REQUEST  # help now for something wrong: "bring him in today"
    if best is Intent.NEW_SERVICE_REQUEST and not problem:
        # What the business offers, nothing broken: its trade's words say what the call is
        # about; asking a price or a time says what the caller wants.
        for asked in (Intent.QUOTE_REQUEST, Intent.APPOINTMENT):
            if scores[asked] >= vocab.INTENT_THRESHOLD:
                return asked
    return best


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
    ignored = vocab.CONTEXT_STOPWORDS | vocab.CONTEXT_GENERIC | vocab.SERVICE_WORDS
    offers = {
        _stem(w)
        for w in lowered.split()
        if len(w) >= 4 and w not in ignored and w not in roles.business_name(business_context)
    }
    seen_there = any(f" {n} " in lowered for n in vocab.SEEN_AT_THE_BUSINESS)
    return _Context(tuple(services), frozenset(boosted), frozenset(offers), seen_there)


def _stem(word: str) -> str:
    """Enough of a word to match its other forms: "termites", "termite"; "brakes", "brake"."""
    return word.removesuffix("s")[:5]


def _trade_words(text: str, context: _Context) -> list[tuple[str, int]]:
    """The trades' words, and what this business offers ("botox", "termites"), said."""
    terms = dict.fromkeys(term for trade in vocab.TRADES.values() for term in trade)
    found = [(t, 2 if t in context.boosted else 1) for t in terms if f" {t} " in text]
    known = {w for t, _ in found for w in t.split()}
    offered = dict.fromkeys(
        w for w in text.split() if len(w) >= 3 and w not in known and _stem(w) in context.offers
    )
    return found + [(w, 3) for w in offered]


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
    if best is None:  # "do you do invisalign": what the business offers, as the caller said it
        offered = [w for w in text.split() if len(w) >= 4 and _stem(w) in context.offers]
        best = offered[0] if offered else None
    for name, content in context.services:
        if all(_said(w, text) for w in content):
            kinds = [w[:5] for w in name.split() if w in vocab.SERVICE_WORDS]
            score = 2 * len(content) + 2 * any(f" {kind}" in text for kind in kinds)
            if score > best_score:
                best, best_score = name, score
    return best


def _urgency(caller: str, agent: str) -> tuple[Urgency, list[tuple[str, int]]]:
    """How soon the caller needs help, as they say it or as the business answers it."""
    for greeting in vocab.URGENCY_IGNORED:
        caller, agent = (t.replace(f" {greeting} ", " ") for t in (caller, agent))
    for greeting in vocab.AGENT_URGENCY_IGNORED:
        agent = agent.replace(f" {greeting} ", " ")
    high = _matches(caller, vocab.URGENCY_HIGH)
    medium = _matches(caller, vocab.URGENCY_MEDIUM)
    high += _matches(agent, vocab.AGENT_URGENT)
    high += [(m.group().strip(), 2) for m in vocab.SAME_DAY.finditer(agent)][:1]
    medium += _matches(agent, vocab.AGENT_SOON)
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


def _booked(said: Sequence[roles.Turn], agent: str) -> tuple[bool, list[tuple[str, int]]]:
    """Booked when the business confirms a visit in its own words, or offers a time the
    caller takes ("we have wednesday at ten" - "that works")."""
    offered = " ".join(t.heard for t in _not_turned_down(said))  # the business's, kept
    confirmed = _matches(offered, vocab.APPOINTMENT_BOOKED)
    windows = [
        (m.group().strip(), 1) for m in (_TIME_WINDOW.search(offered), _DAY_AT.search(offered)) if m
    ]
    taken = [(offer.group().strip(), 2) for offer in _offers_taken(said)]
    coming = _matches(
        vocab.normal(" ".join(t.text for t in said if t.role == roles.CALLER)), vocab.CALLER_COMING
    )  # "okay i'm on my way"
    last = next((t.heard for t in reversed(said) if t.role == roles.AGENT), "")
    restated = [
        (m.group().strip(), 1) for m in (_DAY_AT.search(last),) if m
    ]  # "okay jeff, thursday at 2"
    taken += coming + restated
    score = sum(w for _, w in confirmed + windows + taken)
    score -= sum(w for _, w in _matches(agent, vocab.APPOINTMENT_CANCELLED))
    return score >= 2, confirmed + windows + taken


def _not_turned_down(said: Sequence[roles.Turn]) -> list[roles.Turn]:
    """The business's turns, less those the caller answered with a no: "want me to put you on
    the schedule for thursday" - "nah not yet, i'll call you back"."""
    kept = []
    for turn, reply in itertools.pairwise([*said, roles.Turn(roles.CALLER, "", " ")]):
        if turn.role == roles.AGENT and not (reply.role == roles.CALLER and _refused(reply)):
            kept.append(turn)
    return kept


def _refused(reply: roles.Turn) -> bool:
    """A no at the start of the caller's answer ("no problem" is a yes)."""
    start = reply.heard[:40].replace(" no problem ", " ").replace(" not a problem ", " ")
    return any(f" {r}" in start for r in vocab.REFUSAL)


def _offers_taken(said: Sequence[roles.Turn]) -> list[re.Match[str]]:
    taken = []
    for offer, reply in itertools.pairwise(said):
        if offer.role != roles.AGENT or reply.role != roles.CALLER:
            continue
        time = vocab.TIME_OFFER.search(offer.heard)
        if time is None or any(f" {n} " in offer.heard for n in vocab.NOT_AN_OFFER):
            continue
        answer = reply.heard.split()
        refused = _refused(reply)
        offered = {m.group().split()[-1] for m in vocab.TIME_OFFER.finditer(offer.heard)}
        offered |= {vocab.HOUR_WORDS[w] for w in offered if w in vocab.HOUR_WORDS}
        echoed = bool(
            offered & set(answer[:4])
        )  # "monday at ten or wednesday at one?" - "wednesday"
        if answer and not refused and (vocab.ACCEPTANCE & set(answer[:4]) or echoed):
            taken.append(time)
    return taken


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
