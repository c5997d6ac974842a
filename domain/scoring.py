"""Explainable lead scoring: every point of a lead's score comes with the reason it was given.

The score is the sum of the reasons' points, clamped to 0..100; when clamping changes it, a
final "clamp" reason carries the adjustment, so the reasons always add up to the score.

| factor                  | points | when                                                       |
|-------------------------|-------:|------------------------------------------------------------|
| answered_call           |    +20 | someone picked up (answered is not False, no voicemail)     |
| voicemail               |    +15 | the caller left a voicemail                                 |
| missed_call             |    +10 | nobody answered and no voicemail: metadata is all there is  |
| intent                  |    +30 | new_service_request or appointment                          |
|                         |    +20 | quote_request                                               |
|                         |     +5 | existing_customer                                           |
|                         |      0 | other, voicemail (no reason listed)                         |
| voicemail_request       |    +30 | a voicemail (intent voicemail) that names a service wanted  |
| wrong_number            |    -60 | intent wrong_number; the tier is forced to cold             |
| price_shopper           |    -15 | a quote request from a caller comparing prices (a key       |
|                         |        | phrase holds one of PRICE_SHOPPING), no visit booked        |
| appointment_booked      |    +20 | the agent booked a visit on the call                        |
| urgency                 |    +15 | high                                                        |
|                         |     +7 | medium                                                      |
| sentiment               |     +5 | positive                                                    |
|                         |     -5 | negative                                                    |
| first_call              |     +5 | CallRail says this number never called before               |
| repeat_caller           |     -5 | CallRail says it has (follow-ups, existing customers)       |
| duration                |    -15 | a conversation under 20 s                                   |
|                         |     +5 | a conversation of 60 s or more                              |
|                         |    +10 | a conversation of 180 s or more                             |
| paid_source             |     +5 | source names a paid channel: "Google Paid", "Google Ads"... |
| caller_name             |     +3 | the caller gave a name                                      |
| caller_email            |     +5 | the caller gave an email address                            |
| spam                    |      0 | is_spam or intent spam: the only reason, score 0, tier spam |
| clamp                   | adjust | the sum fell outside 0..100                                 |

Tiers: spam; cold for a wrong number; otherwise hot at 80+, warm at 50+, cold below.
An urgent first-time paid call asking for service with a visit booked is 95 (hot); a
voicemail asking for service from a first-time caller is 50 (warm); a missed call is cold. A
caller who is "just calling around to compare prices" is still a quote request, but one that
rarely becomes a job: it scores 15 below the same quote request, so cold on an ordinary call and
below a caller who asked for a quote and left a name and an email.

CallAnalysis has no field for price shopping, so the analyzer says it in key_phrases: any
phrase that contains one of PRICE_SHOPPING (case aside) counts, whichever analyzer wrote it.
"""

from __future__ import annotations

import re

from domain.call import CallMetadata
from domain.results import CallAnalysis, Intent, LeadScore, ScoreReason, Sentiment, Tier, Urgency

SCORING_VERSION = "2"
HOT, WARM = 80, 50
SHORT_CALL_S, ENGAGED_CALL_S, LONG_CALL_S = 20, 60, 180

_INTENT_POINTS = {
    Intent.NEW_SERVICE_REQUEST: (30, "the caller asked for new service"),
    Intent.APPOINTMENT: (30, "the caller wanted to book a visit"),
    Intent.QUOTE_REQUEST: (20, "the caller asked for a quote or a price"),
    Intent.EXISTING_CUSTOMER: (5, "an existing customer calling about their account or a job"),
}
# What a caller says when they are comparing prices rather than choosing a contractor.
PRICE_SHOPPING = (
    "calling around", "shopping around", "compare prices", "comparing prices", "compare quotes",
    "comparing quotes", "price shopping", "checking prices", "getting prices", "other quotes",
)  # fmt: skip
_URGENCY_POINTS = {Urgency.HIGH: 15, Urgency.MEDIUM: 7}
_SENTIMENT_POINTS = {Sentiment.POSITIVE: 5, Sentiment.NEGATIVE: -5}
_PAID = re.compile(r"\b(?:paid|ads?|cpc|ppc|adwords)\b", re.IGNORECASE)


def score_lead(analysis: CallAnalysis | None, metadata: CallMetadata, threshold: int) -> LeadScore:
    if analysis is not None and (analysis.is_spam or analysis.intent is Intent.SPAM):
        spam = ScoreReason("spam", 0, "spam or a robocall: not a lead")
        return LeadScore(0, Tier.SPAM, False, threshold, SCORING_VERSION, (spam,))
    reasons = _reasons(analysis, metadata)
    total = sum(r.points for r in reasons)
    score = min(max(total, 0), 100)
    if score != total:
        reasons.append(
            ScoreReason("clamp", score - total, f"the factors add up to {total}; scores run 0-100")
        )
    wrong_number = analysis is not None and analysis.intent is Intent.WRONG_NUMBER
    tier = Tier.COLD if wrong_number else _tier(score)
    return LeadScore(score, tier, score >= threshold, threshold, SCORING_VERSION, tuple(reasons))


def _tier(score: int) -> Tier:
    if score >= HOT:
        return Tier.HOT
    return Tier.WARM if score >= WARM else Tier.COLD


def _reasons(analysis: CallAnalysis | None, metadata: CallMetadata) -> list[ScoreReason]:
    voicemail = metadata.voicemail or (analysis is not None and analysis.intent is Intent.VOICEMAIL)
    missed = not voicemail and metadata.answered is False
    conversation = not voicemail and not missed
    if voicemail:
        reasons = [ScoreReason("voicemail", 15, "nobody answered; the caller left a voicemail")]
    elif missed:
        reasons = [ScoreReason("missed_call", 10, "nobody answered and no voicemail was left")]
    else:
        reasons = [ScoreReason("answered_call", 20, "the call was answered")]
    if analysis is not None:
        reasons += _analysis_reasons(analysis)
    reasons += _metadata_reasons(metadata, conversation)
    return reasons


def _analysis_reasons(analysis: CallAnalysis) -> list[ScoreReason]:
    reasons = []
    if analysis.intent in _INTENT_POINTS:
        points, detail = _INTENT_POINTS[analysis.intent]
        reasons.append(ScoreReason("intent", points, detail))
    elif analysis.intent is Intent.VOICEMAIL and analysis.service_requested:
        detail = f"the voicemail asks for service: {analysis.service_requested}"
        reasons.append(ScoreReason("voicemail_request", 30, detail))
    elif analysis.intent is Intent.WRONG_NUMBER:
        reasons.append(ScoreReason("wrong_number", -60, "the caller dialled the wrong number"))
    if analysis.intent is Intent.QUOTE_REQUEST and not analysis.appointment_booked:
        said = [p for p in analysis.key_phrases if any(s in p.lower() for s in PRICE_SHOPPING)]
        if said:
            detail = f'comparing prices, nothing booked: "{said[0]}"'
            reasons.append(ScoreReason("price_shopper", -15, detail))
    if analysis.appointment_booked:
        reasons.append(ScoreReason("appointment_booked", 20, "a visit was booked on the call"))
    if analysis.urgency in _URGENCY_POINTS:
        detail = f"{analysis.urgency.value} urgency: the caller needs help soon"
        reasons.append(ScoreReason("urgency", _URGENCY_POINTS[analysis.urgency], detail))
    if analysis.sentiment in _SENTIMENT_POINTS:
        points = _SENTIMENT_POINTS[analysis.sentiment]
        reasons.append(ScoreReason("sentiment", points, f"{analysis.sentiment.value} caller"))
    if analysis.caller_name:
        reasons.append(ScoreReason("caller_name", 3, "the caller gave their name"))
    if analysis.caller_email:
        reasons.append(ScoreReason("caller_email", 5, "the caller gave an email address"))
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
