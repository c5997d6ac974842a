"""Who the caller already is to the business: what an existing customer says, in any trade.

A caller the business already serves speaks of its work for them ("since your tech came out",
"you guys did our roof last year", "i had botox with you"), of something of theirs it holds
(their appointment, case, closing, bill, results, a part on order: "my appointment is on
thursday", "bella's appointment", "our closing"), or of money between them ("a charge i don't
recognize", "i owe"). The business, looking them up ("let me pull up your account", "your
paralegal"), confirms it but never settles it alone. Any of these outweighs the service words
the same call holds: a failed repair is the business's customer calling back, not a new job.

Cues are (phrase, weight) as in adapters.rules.vocabulary: 4 settles it, 2 needs another.
"""

from __future__ import annotations

import re

from adapters.rules.vocabulary import cues

_DAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday|tomorrow|today"

# The business's work for the caller, by the business: "you guys were out", "your guy looked
# at it", "you all charged me twice", "you said the part was on order".
_DONE_BY_YOU = re.compile(
    r" (?<!\bcan )(?<!\bcould )(?<!\bwould )(?<!\bwill )(?<!\bto )"  # "can you put it in"
    r"(?:you|you guys|you all|y'all|your (?:guy|guys|tech|technician|crew|team|people|man"
    r"|electrician|plumber|company|office|doctor|vet|attorney|agent))"
    r" (?:(?!to |charge |would |could |can |will |do |gonna )[a-z']+ ){0,2}?"
    r"(?:were (?:out|here|there)|was (?:out|here|there)|came (?:out|by|over)|did (?:my|our|the"
    r"|a|some)|put in|installed|replaced|fixed|looked at|charged|billed|had me|serviced"
    r"|treated|sprayed|repaired|worked on|haven't|never showed|didn't show|told me|quoted me"
    r"|said (?:it|he|she|they|the|we|i|to)|ordered|gave (?:me|us)|prescribed|sent (?:me|us)"
    r"|moved (?:me|us)|put (?:a |an |the |my |our )?(?:[a-z]+ ){0,2}in|(?:was|were) supposed to"
    r"|changed (?:my|our|the)|rekeyed|cleaned (?:my|our|the)|mowed|trimmed|pumped|inspected"
    r"|towed|delivered|hauled|built|painted|sealed|removed (?:my|our|the)|took out|took down"
    r"|cut down"
    r"|never (?:came|showed)) "
    r"|(?:job|work|install|repair|roof|addition) (?:that )?(?:you|you guys|you all|y'all) did "
)
# The caller's own account of it: "we had somebody out friday", "i had botox with you",
# "we listed our house with you guys", "ever since he left".
_DONE_FOR_ME = re.compile(
    r" (?:(?:we|i) had (?:somebody|someone|a tech|a technician|an electrician|a plumber|your"
    r" [a-z]+|you guys|y'all|the crew) (?:out|over|come)"
    r"|(?:had|did|got|listed|bought|sold|worked) (?:[a-z']+ ){0,4}?with (?:you|you guys|you all"
    r"|y'all|your (?:office|company|team|agency)) (?:about|last|back|a|in|before|two|three|a few"
    r"|and|on|this)"
    r"|(?:ever )?since (?:he|she|they|the tech|the guy|your [a-z]+|you guys|you) (?:left|came"
    r"|was here|were here|was out|were out|did|fixed|worked|put)"
    r"|since i picked (?:it|him|her) up"
    r"|(?:had|got) (?:my|our|the) (?:[a-z]+ ){1,2}?(?:done|fixed|replaced|installed|serviced"
    r"|repaired|cleaned|treated) (?:there|here|with you|by you)"
    r"|(?:was|were|got) seen (?:last|on|yesterday|this|a few|two|here|there)"
    r"|(?:was|were) (?:just )?in (?:here )?(?:last|on|yesterday|earlier|this morning)"
    r"|came in (?:last|on|yesterday|earlier|this morning|a few|two|a couple)"
    r"|(?:i'm|im|we're|were) on (?:the|your|a) (?:[a-z]+ )?(?:plan|program|contract|membership)"
    r"|since (?:the|our|my) last (?:treatment|visit|service|spray|cleaning|appointment)"
    r"|(?:i'm|we're|im) (?:one of )?(?:[a-z]+ )?(?:[a-z]+'s|your|dr [a-z]+'s) (?:clients?|patients?"
    r"|customers?)"
    r"|(?:we|i) (?:talked|spoke) (?:to you |with you |to someone |with someone )?(?:last|yesterday"
    r"|on|earlier|a few|about)"
    r"|(?:got|bought|picked (?:[a-z']+ ){0,3}?up) (?:it )?from (?:you|you guys|you all|y'all) "
    r"|picked up my [a-z]+ (?:yesterday|last|on|this)"
    r"|dropped (?:it|her|him|them) off|(?:i|we) dropped off"
    r"|came in (?:like )?(?:last|on|yesterday|a few|two|three|a couple) (?:[a-z]+ )?(?:ago|week)"
    rf"|(?:i|we) got (?!a quote|an estimate|a price|quotes|estimates)(?:[a-z']+ ){{1,3}}?"
    rf"(?:on (?:{_DAYS})|last (?:week|{_DAYS})))"
)
# A visit of theirs on the business's calendar, or an order of theirs on its way: "i have a
# hydrafacial on saturday i need to move it", "move cooper's cleaning from tuesday", "is my door
# coming in", "is the inspector coming today".
_BOOKED = re.compile(
    r" (?:(?:i|we|he|she|[a-z]+) (?:have|has|got) (?:a|an|my|our|his|her)"
    r" (?!(?:health|city|county|fire|state) )(?:[a-z']+ ){1,2}"  # not the inspector's visit
    rf"(?:(?:on |this |next |for )?(?:{_DAYS})|(?:this|next) (?:week|morning|afternoon))"
    r"|need to move (?:it|his|her|my appointment|our appointment)"
    r"|(?:is|are) (?:he|she|it|they) ready|ready to (?:come home|go home|pick up)"
    r"|(?:my|our) [a-z]+(?:'s| is) ready"
    r"|(?:move|push|change|switch) (?:it|that|my|our|his|her|[a-z]+'s) (?:[a-z']+ ){0,2}?"
    rf"(?:to|from|back to) (?:{_DAYS}|next|the next|tomorrow|the following|another|a later)"
    r"|(?:is|did|has) (?:my|our|the) (?:[a-z']+ ){0,2}?(?:coming|still coming|come in|came in"
    r"|arrived|shipped|ready|done|finished)"
    r"|the one (?:we|i) ordered)"
)
# Something of the caller's that the business holds: an appointment or a visit booked, a
# matter it handles, an order, results, a bill. "his appointment", "bella's appointment".
_THEIRS = re.compile(
    r" (?:my|our|his|her|their"
    r"|(?!(?:she|he|it|that|there|what|who|here|where|let|this|everything|nothing|someone"
    r"|somebody|one)'s )[a-z]+'s)"  # "bella's appointment", not "she's in surgery"
    r" (?:(?!water |electric |gas |power |phone |energy |cable |hospital |medical )[a-z]+ )?"
    r"(?:appointment|appt|surgery|procedure"
    r"|file|deposition|hearing|court date|invoice|bill|statement|balance|package|membership"
    r"|results|bloodwork|lab work|x rays|prescription|medication|meds|refill|order|part|parts"
    r"|service is|service was|treatment plan|offer)\b"  # a part, not a party
    r"(?! (?:with (?:another|a different|someone|somebody)|somewhere))"
)
# The caller's words for standing with the business, and for money owed between them.
STANDING = cues(
    4,
    "patient of, client of, a patient there, patients there, we're patients, existing patient,"
    " current patient, current client, existing client, my hygienist, my tech,"
    " on order, the part came, part come in, did it come in,"
    " checking on the status, check on the status, checking the status, status on, an update on,"
    " any update, any updates, the results, test results, a charge on, a charge from,"
    " charge on my, charges on my, this charge, the charge,"
    " don't recognize, didn't recognize, i owe you, we owe you, what i owe, what we owe,"
    " how much i owe, how much we owe, do i owe, do we owe, i still owe, we still owe,"
    " still owe you, got a statement,"
    " i'm scheduled, we're scheduled, i'm booked, we're booked for, cancel, rebook, running late,"
    " on my way to my, same thing again, same problem again, same issue again, doing it again,"
    " happening again, came back again, still covered, re inspection, recheck,"
    " follow up appointment, warranty paperwork, nobody showed, no one showed, nobody's showed,"
    " no one's showed, nobody came, no one came, skip us, skip our, skipped us, skipped our,"
    " skipped me, keep coming,"
    " got us down, got me down, have us down, have me down, push us back, push me back,"
    " i have appointment, any word on, one of your packages, how many i have left,"
    " pause our service, cancel our service, stop our service",
) + cues(
    2,
    "again, haven't heard, the doctor said, the vet said, dr, warranty, i was told,"
    " calling back about, is that covered, is it covered, covered under, the paperwork, touch up,"
    " just checking, checking in on, last treatment, under the warranty, the permit",
)
# A lawyer's or a realtor's client speaks of them, and of the sale: at a roofer or a pest
# company "my realtor said" and "we close on the 28th" are a new customer's reasons to call.
PROFESSIONALS = (
    (
        ("law", "legal", "attorney", "attorneys", "lawyer", "lawyers"),
        cues(4, "my attorney, my lawyer, our attorney, our lawyer, my paralegal, my case manager"),
    ),
    (
        (
            "realty",
            "realtor",
            "realtors",
            "brokerage",
            "real estate team",
            "real estate agents",
            "buyer's agents",
            "listing agents",
            "buyer representation",
            "homes for sale",
        ),
        cues(
            4,
            "my agent, our agent, my realtor, our realtor, supposed to close, scheduled to close,"
            " we close on, we're closing, our closing, my closing, closing company, title company,"
            " the appraisal, the buyers, the sellers, our buyers, our sellers, under contract,"
            " inspection report",
        ),
    ),
)

# The business finding the caller in its books: it confirms, with a caller's word.
AGENT_KNOWS_THEM = cues(
    2,
    "your account, on the account, pull up your, pull you up, the ticket, your file,"
    " your paralegal, your agent, your project manager, who was out, re treatment,"
    " re inspection, your treatment, touch ups, i see you, moved you, no charge, back out,"
    " you're moved,"
    " still covered, everything's covered",
)


_REFERRAL = re.compile(
    r" (?:[a-z']+ ){1,2}(?=(?:gave|recommended|referred|told|said (?:i|we) should|said to) )"
)
# Another business's work: "again" then speaks of it, not of this one's.
_OTHER_COMPANY = re.compile(
    r" (?:a|another|the other|a different|the last|the previous|our old|some) (?:company"
    r"|contractor|guy|roofer|plumber|electrician|shop|place|outfit|dentist|office) "
)
_NOT = re.compile(r" (?:not|aren't|isn't|never|no longer|not yet) (?:[a-z']+ )?$")


# Someone else the business served: "my neighbor had you guys do their roof ... they said
# you did a free inspection" is a new customer's reason to call.
_SOMEONE_ELSE = re.compile(
    r" (?:neighbor|neighbors|neighbour|neighbours|friend|friends|coworker|coworkers|co worker"
    r"|colleague|boss|cousin|buddy) "
)
_SOMEONE_ELSE_WITHIN = 15  # words before the business's work that may name whose it was


def said(asking: str, business: str = "") -> list[tuple[str, int]]:
    """The caller's own signs of an existing relationship, in a normal() text; `business` is
    the tenant's business context, normal() too, for the words only its clients use."""
    found = [
        (m.group().strip(), 6)
        for pattern in (_DONE_BY_YOU, _DONE_FOR_ME, _THEIRS, _BOOKED)
        for m in pattern.finditer(asking)
        if not _SOMEONE_ELSE.search(_words_before(asking, m.start(), _SOMEONE_ELSE_WITHIN))
    ]
    mine = [
        c
        for names, phrases in PROFESSIONALS
        if any(f" {n} " in business for n in names)
        for c in phrases
    ]
    if _OTHER_COMPANY.search(asking):  # "i paid a company last spring... leaking again"
        mine += [c for c in STANDING if c[1] > 2]  # "again" speaks of the other company
    else:
        mine += STANDING
    referrals = _REFERRAL.findall(asking)  # "my realtor gave me your number": not a standing
    standing = [(p, w) for p, w in mine if f" {p} " in asking and f" {p} " not in referrals]
    return found + [(p, w) for p, w in standing if not _NOT.search(asking.split(f" {p} ")[0] + " ")]


def _words_before(text: str, at: int, count: int) -> str:
    return " " + " ".join(text[:at].split()[-count:]) + " "


def confirmed(agent: str) -> list[tuple[str, int]]:
    """The business treating the caller as one of its own."""
    return [(p, w) for p, w in AGENT_KNOWS_THEM if f" {p} " in agent]
