"""Explainable lead scoring: every point of a lead's score comes with the reason it was given.

The score is the sum of the reasons' points, clamped to 0..100; when clamping changes it, a
final "clamp" reason carries the adjustment, so the reasons always add up to the score.

Version 5 follows the labelling rules' own words, "hot: a new customer's job to win now:
booked, or urgent": a visit booked on the call is +30 and high urgency +25, so either alone
takes an answered lead to 80; a voicemail is +20, as much a lead as an answered call when it
asks for something; an email is +3, like a name (contact details, not commitment); the
separate urgent-voicemail bonus went, high urgency now carries it. With a perfect analysis,
on the eight labelled sets in tests/eval (724 calls by eight authors), version 4 disagreed
with the labelled tier on 17 calls (booked visits and urgent requests rated warm, voicemails
asking for a quote rated cold, an email tipping warm calls into hot) and version 5 on 1; on
the development corpus (tests/unit/data/analyzer_dev.jsonl) 148 and 149 of 151 agree.

| factor             | points | when                              | example call                   |
|--------------------|-------:|-----------------------------------|--------------------------------|
| answered_call      |    +20 | someone picked up (no voicemail)  |                                |
| voicemail          |    +20 | the caller left a voicemail       | "please call me back"          |
| missed_call        |    +10 | nobody answered, no voicemail     | a hang-up: metadata only       |
| intent             |    +30 | new_service_request or            | "my furnace is blowing cold    |
|                    |        | appointment                       | air"; "I'd like a cleaning"    |
|                    |    +25 | quote_request                     | "what would a new AC run?"     |
|                    |     +5 | existing_customer                 | "is my car ready?"             |
|                    |      0 | other, voicemail (no reason       | "are you hiring?"              |
|                    |        | listed)                           |                                |
| voicemail_request  |    +30 | a voicemail (intent voicemail)    | "a mouse in my kitchen, can    |
|                    |        | that names a service or says when | someone come this week"        |
|                    |        | it is needed                      |                                |
| wrong_number       |    -60 | intent wrong_number; the tier is  | "is this Dr Amundsen's         |
|                    |        | forced cold                       | office?"                       |
| price_shopper      |      0 | an unbooked quote request         | "called a couple other places, |
|                    |        | comparing prices (a key phrase    | who's cheapest"                |
|                    |        | holds one of PRICE_SHOPPING)      |                                |
| appointment_booked |    +30 | the business booked a visit on    | "you're all set for 3 today"   |
|                    |        | the call                          |                                |
| booked_estimate    |    +10 | ...and it was a quote request:    | "see you Friday at one"        |
|                    |        | the estimate visit is a sales     | (tankless estimate)            |
|                    |        | appointment                       |                                |
| urgency            |    +25 | high                              | "water coming up through the   |
|                    |        |                                   | floor"                         |
|                    |     +7 | medium                            | "sometime this week"           |
| support_call       |      0 | existing_customer: its booking (a | "I need to move my Thursday    |
|                    |        | reschedule) and urgency are       | cleaning"                      |
|                    |        | service, not a sale               |                                |
| sentiment          |     +5 | positive                          | "thank you so much"            |
|                    |     -5 | negative                          | "this is ridiculous"           |
| first_call         |     +5 | CallRail: this number never       |                                |
|                    |        | called before                     |                                |
| repeat_caller      |     -5 | CallRail: it has (follow-ups,     |                                |
|                    |        | customers)                        |                                |
| duration           |    -15 | a conversation under 20 s         |                                |
|                    |     +5 | a conversation of 60 s or more    |                                |
|                    |    +10 | a conversation of 180 s or more   |                                |
| paid_source        |     +5 | a paid channel: "Google Paid",    |                                |
|                    |        | "Google Ads"                      |                                |
| caller_name        |     +3 | the caller gave a name            | "this is Karen Mills"          |
| caller_email       |     +3 | the caller gave an email address  | "p henderson at outlook dot    |
|                    |        |                                   | com"                           |
| spam               |      0 | is_spam or intent spam (robocalls | "we send exclusive homeowner   |
|                    |        | and solicitations): the only      | appointments"                  |
|                    |        | reason, tier spam                 |                                |
| clamp              | adjust | the sum fell outside 0..100       |                                |

Tiers: spam; cold for a wrong number; otherwise hot at 80+, warm at 50+, cold below.
An urgent first-time paid call asking for service with a visit booked is 100 (hot); a booked
estimate from a first-time caller who talked a minute is 95 (hot), a booked visit on an
ordinary answered call 80 (hot); an urgent voicemail asking for service from a first-time
caller is 80 (hot), a voicemail asking for service that can wait 55 (warm), one asking for
a quote 50 (warm); a missed call is cold; an existing customer's reschedule is 35 or less (cold)
however soon it is. A caller who is "just calling around to compare prices" is still a quote
request, a real lead not yet committed: warm on an ordinary call (55 for a first-time caller
who talked a minute), below a caller who asked for a quote and left a name and an email; the
reason says so, with no points, so the sales team sees it.

CallAnalysis has no field for price shopping, so the analyzer says it in key_phrases: any
phrase that contains one of PRICE_SHOPPING (case aside) counts, whichever analyzer wrote it.

Evidence: a reason from the analysis carries the words behind it, the analysis's evidence for
the signal it rests on (EVIDENCE_OF: "appointment_booked" on "booking"), quote and time; a
reason from the metadata (answered, first call, duration, paid source, clamp) has none. The
points never depend on the evidence.
"""

from __future__ import annotations

import re

import attrs

from domain.call import CallMetadata
from domain.results import CallAnalysis, Intent, LeadScore, ScoreReason, Sentiment, Tier, Urgency

SCORING_VERSION = "5"
HOT, WARM = 80, 50
SHORT_CALL_S, ENGAGED_CALL_S, LONG_CALL_S = 20, 60, 180

_INTENT_POINTS = {
    Intent.NEW_SERVICE_REQUEST: (30, "the caller asked for new service"),
    Intent.APPOINTMENT: (30, "the caller wanted to book a visit"),
    Intent.QUOTE_REQUEST: (25, "the caller asked for a quote or a price"),
    Intent.EXISTING_CUSTOMER: (5, "an existing customer calling about their account or a job"),
}
# What a caller says when they are comparing prices rather than choosing a contractor.
PRICE_SHOPPING = (
    "calling around", "shopping around", "compare prices", "comparing prices", "compare quotes",
    "comparing quotes", "price shopping", "checking prices", "getting prices", "other quotes",
    "cheapest", "other places", "other companies",
)  # fmt: skip
_URGENCY_POINTS = {Urgency.HIGH: 25, Urgency.MEDIUM: 7}
_SENTIMENT_POINTS = {Sentiment.POSITIVE: 5, Sentiment.NEGATIVE: -5}
_PAID = re.compile(r"\b(?:paid|ads?|cpc|ppc|adwords)\b", re.IGNORECASE)
# The analysis's signals a reason rests on, the first one it has evidence for.
EVIDENCE_OF: dict[str, tuple[str, ...]] = {
    "voicemail": ("intent",),
    "intent": ("intent", "service"),
    "voicemail_request": ("service", "urgency", "intent"),
    "wrong_number": ("intent",),
    "price_shopper": ("price_shopping", "intent"),
    "support_call": ("intent", "booking"),
    "appointment_booked": ("booking",),
    "booked_estimate": ("booking",),
    "urgency": ("urgency",),
    "sentiment": ("sentiment",),
    "caller_name": ("caller_name",),
    "caller_email": ("caller_email",),
    "spam": ("spam", "intent"),
}


def score_lead(analysis: CallAnalysis | None, metadata: CallMetadata, threshold: int) -> LeadScore:
    if metadata.marked_spam:  # a person said so in CallRail (Call Modified)
        spam = ScoreReason("spam", 0, "marked as spam in CallRail: not a lead")
        return LeadScore(0, Tier.SPAM, False, threshold, SCORING_VERSION, (spam,))
    if analysis is not None and (analysis.is_spam or analysis.intent is Intent.SPAM):
        spam = _cited(ScoreReason("spam", 0, "spam or a robocall: not a lead"), analysis)
        return LeadScore(0, Tier.SPAM, False, threshold, SCORING_VERSION, (spam,))
    reasons = _reasons(analysis, metadata)
    if analysis is not None and analysis.evidence:
        from_analysis = not metadata.voicemail  # a voicemail known from CallRail: metadata
        reasons = [
            _cited(r, analysis) if r.factor != "voicemail" or from_analysis else r for r in reasons
        ]
    total = sum(r.points for r in reasons)
    score = min(max(total, 0), 100)
    if score != total:
        reasons.append(
            ScoreReason("clamp", score - total, f"the factors add up to {total}; scores run 0-100")
        )
    wrong_number = analysis is not None and analysis.intent is Intent.WRONG_NUMBER
    tier = Tier.COLD if wrong_number else _tier(score)
    return LeadScore(score, tier, score >= threshold, threshold, SCORING_VERSION, tuple(reasons))


def _cited(reason: ScoreReason, analysis: CallAnalysis) -> ScoreReason:
    for signal in EVIDENCE_OF.get(reason.factor, ()):
        evidence = analysis.evidence_for(signal)
        if evidence is not None:
            return attrs.evolve(reason, quote=evidence.quote, at_s=evidence.at_s)
    return reason


def _tier(score: int) -> Tier:
    if score >= HOT:
        return Tier.HOT
    return Tier.WARM if score >= WARM else Tier.COLD


def _reasons(analysis: CallAnalysis | None, metadata: CallMetadata) -> list[ScoreReason]:
    voicemail = metadata.voicemail or (analysis is not None and analysis.intent is Intent.VOICEMAIL)
    missed = not voicemail and metadata.answered is False
    conversation = not voicemail and not missed
    if voicemail:
        reasons = [ScoreReason("voicemail", 20, "nobody answered; the caller left a voicemail")]
    elif missed:
        reasons = [ScoreReason("missed_call", 10, "nobody answered and no voicemail was left")]
    else:
        reasons = [ScoreReason("answered_call", 20, "the call was answered")]
    if analysis is not None:
        reasons += _analysis_reasons(analysis, metadata)
    reasons += _metadata_reasons(metadata, conversation)
    return reasons


def _analysis_reasons(analysis: CallAnalysis, metadata: CallMetadata) -> list[ScoreReason]:
    reasons = []
    support = analysis.intent is Intent.EXISTING_CUSTOMER
    if analysis.intent in _INTENT_POINTS:
        points, detail = _INTENT_POINTS[analysis.intent]
        reasons.append(ScoreReason("intent", points, detail))
    elif analysis.intent is Intent.VOICEMAIL:
        reasons += _voicemail_reasons(analysis)
    elif analysis.intent is Intent.WRONG_NUMBER:
        reasons.append(ScoreReason("wrong_number", -60, "the caller dialled the wrong number"))
    if analysis.intent is Intent.QUOTE_REQUEST and not analysis.appointment_booked:
        said = [p for p in analysis.key_phrases if any(s in p.lower() for s in PRICE_SHOPPING)]
        if said:
            detail = f'comparing prices, nothing booked: "{said[0]}"'
            reasons.append(ScoreReason("price_shopper", 0, detail))
    if support and (analysis.appointment_booked or analysis.urgency in _URGENCY_POINTS):
        detail = "an existing customer's booking or urgency is service, not a sale"
        reasons.append(ScoreReason("support_call", 0, detail))
    if analysis.appointment_booked and not support:
        reasons.append(ScoreReason("appointment_booked", 30, "a visit was booked on the call"))
        if analysis.intent is Intent.QUOTE_REQUEST:
            detail = "the estimate visit is booked: a sales appointment"
            reasons.append(ScoreReason("booked_estimate", 10, detail))
    if analysis.urgency in _URGENCY_POINTS and not support:
        detail = f"{analysis.urgency.value} urgency: the caller needs help soon"
        reasons.append(ScoreReason("urgency", _URGENCY_POINTS[analysis.urgency], detail))
    if analysis.sentiment in _SENTIMENT_POINTS:
        points = _SENTIMENT_POINTS[analysis.sentiment]
        reasons.append(ScoreReason("sentiment", points, f"{analysis.sentiment.value} caller"))
    if analysis.caller_name:
        reasons.append(ScoreReason("caller_name", 3, "the caller gave their name"))
    if analysis.caller_email:
        reasons.append(ScoreReason("caller_email", 3, "the caller gave an email address"))
    return reasons


def _voicemail_reasons(analysis: CallAnalysis) -> list[ScoreReason]:
    reasons = []
    if analysis.service_requested:
        detail = f"the voicemail asks for service: {analysis.service_requested}"
        reasons.append(ScoreReason("voicemail_request", 30, detail))
    elif analysis.urgency is not Urgency.LOW:
        detail = f"the voicemail asks for help ({analysis.urgency.value} urgency)"
        reasons.append(ScoreReason("voicemail_request", 30, detail))
    return reasons


def _metadata_reasons(metadata: CallMetadata, conversation: bool) -> list[ScoreReason]:
    reasons = []
    if metadata.first_call is True:
        reasons.append(ScoreReason("first_call", 5, "a first-time caller"))
    elif metadata.first_call is False:
        reasons.append(ScoreReason("repeat_caller", -5, "this number has called before"))
    duration = metadata.duration_s
    if conversation and duration is not None:
        if duration < SHORT_CALL_S:
            reasons.append(ScoreReason("duration", -15, f"a very short call ({duration} s)"))
        elif duration >= LONG_CALL_S:
            reasons.append(ScoreReason("duration", 10, f"a long conversation ({duration} s)"))
        elif duration >= ENGAGED_CALL_S:
            reasons.append(ScoreReason("duration", 5, f"a real conversation ({duration} s)"))
    if metadata.source and _PAID.search(metadata.source):
        reasons.append(ScoreReason("paid_source", 5, f"from a paid channel: {metadata.source}"))
    return reasons
