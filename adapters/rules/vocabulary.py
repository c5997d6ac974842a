"""What the rules analyzer listens for, written as speech recognition writes it: lower case,
no punctuation, and with the mishearings it makes ("furnas", "a point meant", "quota").

Cues are (phrase, weight); a phrase matches as whole words. Weights are tuned on the sample
calls in tests/unit/test_rules_analyzer.py: 4 for a phrase that names a specific intent (a
quote, a booking, a bill), 3 for one that settles spam or a wrong number, 2 for a strong hint,
1 for a word that only counts together with others. A trade's words ("furnace", "drain") say
what the call is about, not what the caller wants, so together they add at most
TRADE_WORDS_CAP to a new service request.
"""

from __future__ import annotations

import re

from domain import scoring
from domain.results import Intent

Cues = tuple[tuple[str, int], ...]


# A word: letters and digits, with apostrophes inside it but not at its ends ("don't", not
# "'em'"); anything else separates words.
_WORD = re.compile(r"[a-z0-9]+(?:'+[a-z0-9]+)*")


def normal(text: str) -> str:
    """Lower case, words and apostrophes only, padded with spaces for whole-word matching: the
    form every cue here is written in."""
    return " " + " ".join(_WORD.findall(text.lower().replace("\u2019", "'"))) + " "


def words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def cues(weight: int, phrases: str) -> Cues:
    """Phrases separated by commas, all with the same weight."""
    return tuple((p.strip(), weight) for p in phrases.split(",") if p.strip())


INTENT_CUES: dict[Intent, Cues] = {
    Intent.SPAM: cues(
        3,
        "press one, press 1, press two, press 2, extended warranty, this is not a sales call,"
        " final notice, google listing, google business listing, lower your interest,"
        " your business listing, verify your business, to be removed, do not call list,"
        " this is an automated, you've been pre approved, you've been preapproved,"
        " you have been pre approved, you're pre approved, you're preapproved, you are pre"
        " approved, merchant services, free cruise,"
        " you have been selected, you've been selected, student loan forgiveness,"
        " car's extended warranty, vehicle's extended warranty, last chance to,"
        " disconnection department, scheduled to be disconnected, to avoid disconnection,"
        " to be disconnected",
    )
    + cues(2, "interest rate, warranty department, search results, special offer, seo"),
    Intent.WRONG_NUMBER: cues(
        3,
        "wrong number, i was trying to reach, sorry i dialed, sorry i dialled, i must have"
        " dialed, dialed the wrong, i thought this was, is this not, wrong place,"
        " sorry wrong, i was trying to call, never mind sorry, sorry to bother you,"
        " trying to get the, sorry about that",
    )
    + cues(2, "never mind, nevermind, my mistake, my bad"),
    Intent.EXISTING_CUSTOMER: cues(
        4,
        "my bill, invoice, charged twice, double charged, account number, you were out"
        " last week, you guys were out, you were out here, your technician was here,"
        " your tech was here, already paid, billing, refund, my service agreement,"
        " maintenance plan, came out last, were out yesterday, still not working since,"
        " warranty claim, my account, follow up on, following up on, you installed,"
        # a customer paying: "pay my bill" is often misheard ("pay my real"), "pay my" is not
        " pay my, make a payment, pay the balance, my balance, card on file,"
        " i'm a customer, im a customer, i am a customer, i'm an existing customer,"
        " i'm already a customer, i'm a current customer, we're customers, been a customer,"
        # what only someone the business already serves says: their visit, their plan, their
        # job, their money ("you guys were out" and the like are read by RELATIONSHIP)
        " reschedule, got a bill, i have an appointment, my appointment, i'm on your,"
        " i'm already on,"
        " i'm a client, i'm a patient, status of my, is it ready, ready yet, dropped off,"
        " pick her up, pick him up, pick it up, refill, charged me, got charged, my refund,"
        " callback, call back on, under warranty, under your warranty, i cancelled, push it,"
        " move my appointment, i was in last, i was in on, we were in last, on my case,"
        " about my case, with my case, my case manager,"
        " had me scheduled, nobody showed up, no one showed up, didn't show up",
    )
    + cues(
        2,
        "payment, bill, last time, came out, the tech who, same problem again, still not,"
        " existing customer,"  # also the agent's "are you an existing customer?"
        " my case",  # a client's, or a new caller's "i want to know if my case is worth it"
    ),
    Intent.QUOTE_REQUEST: cues(
        4,
        "quote, quota, quotes, estimate, estimates, how much, price, pricing, ballpark,"
        " you charge, you guys charge, would charge, hourly rate, like that run,"
        " what do you charge, what would it cost, what does it cost, rough idea, rates,"
        " free estimate, cost of, cost to, how much would it, prices, compare prices, commission,"
        " your fee, your fees, diagnostic fee, consultation fee, per unit, is there a charge,"
        " is there a fee, trip charge, do you charge,"
        " comparing prices, compare quotes, price shopping, checking prices, getting prices",
    )
    + cues(
        4,
        "per square, a square, taking bids, bid package, what are y'all getting,"
        " what are you getting, where y'all were at, where you guys are at",
    )
    + cues(
        4,
        "costs, what it costs, what that costs, to bid, bid the, bid a, bid on, a bid,"
        " a number on, get me a number",
    )
    + cues(2, "calling around, shopping around, other quotes")  # or for someone free today
    + cues(1, "cost, charge, afford, budget, financing"),
    Intent.APPOINTMENT: cues(
        4,
        "appointment, a point meant, a pointment, appointments,"
        " schedule a, to schedule, set up a time, book a, any availability,"
        " when can someone, when could someone, consultation, consult, new patient,"
        " new patients, come in for, checkup, check up, set up a, book an",
    )
    + cues(
        4,
        # a time asked for, in any trade: "do you have anything next week", "any openings"
        " can i see it, can we see it, see it this, see it on, like to see it, want to see it,"
        " to see the house, a tour, tour the, any openings, an opening, do you have anything,"
        " anything available, next available,"
        " make an appointment, get an appointment, on the schedule, get scheduled, checkups,"
        " a showing, set up a showing, see the house, an inspection, a checkup, an exam,"
        " yearly exam, annual exam, wellness exam, physical, vaccines, come in for, get him in,"
        " get her in, get them in, bring him in, bring her in, bring them in, inspection",
    )
    + cues(4, "looking for a new, new dentist, new vet, new doctor, new chiropractor, get me in")
    + cues(2, "still available, the listing, calling about the house")
    + cues(
        3,
        "nothing's wrong, nothing wrong with, nothing is wrong, oil change, tire rotation,"
        " a tune up, the tune up, annual maintenance, yearly maintenance, seasonal maintenance",
    )
    + cues(
        2,
        "tune up, checked out, serviced, cleaning, shots, come in, get in, book, exam, in network",
    )
    + cues(1, "schedule, availability, available, come out"),
    Intent.NEW_SERVICE_REQUEST: cues(
        2,
        "not working, stopped working, isn't working, is not working, quit working,"
        " quit on me, went out, broke, broken, need someone, send someone, come out,"
        " take a look, need a technician, repair, fix, replace, replacement, install,"
        " installation, need help with, looking for someone, looking to get, making a noise,"
        " making a weird noise, no heat, no hot water, no ac, no air, leaking, flooding, burst,"
        " clogged, backed up, won't turn on, won't start, not turning on,"
        # a problem, in any trade: something broken, hurt, damaged or got in
        " stopped, quit, broke, leak, dripping, water coming, grinding, squealing, shaking,"
        " smell, burning, noise, hurt, injured, accident, pain, toothache, swell, swelling,"
        " bites, nest, infestation, damage, storm, fell, backing up, overflowing,"
        " check engine, came on, throwing up, ate, split, missing, have a case, a lawyer, limping,"
        " got bit, bitten, stitches,"
        " bleeding, vomiting, won't eat, not eating, sick, look at him, look at her, slipped,"
        " rear ended, got hit, was hit, hit by, injury, injuries, worth anything,"
        # a home to buy or sell: what a realtor's caller needs
        " buy a house, buy a home, sell my house, sell our house, sell my home, sell our home,"
        " selling our house, selling my house, selling our home, selling my home, buying a"
        " house, buying a home, list our house, list my house, looked at, sell her house,"
        " sell his house, sell the house, sell their house, ready to sell, want to do a,"
        " we'd like to do, looking to do, thinking about doing,"
        " first home, house hunting, need an agent, need a realtor,"
        " shuts off, shutting off, cuts out, keeps turning off,"
        # a need: what the caller wants done
        " i need, we need, looking to, interested in, do you guys do, do you do,"
        " get it looked at, need somebody, need someone, somebody to, someone to, i want to get,"
        " looking at getting, we want",
    )
    + cues(4, "if i have a case, do i have a case, if we have a case, do we have a case")
    + cues(4, "put in an offer, make an offer, write an offer, write up an offer")
    + cues(4, "do you guys fix, do you fix, can you fix, can you guys fix, do y'all fix")
    + cues(4, "do you guys deal with, do you deal with, do you guys handle, do y'all deal with")
    + cues(1, "service, new, need, problem, issue"),
    Intent.VOICEMAIL: cues(
        3,
        "after the tone, after the beep, leave a message, leave your name, leave your name and"
        " number, not available to take your call, mailbox, voicemail, voice mail",
    )
    + cues(2, "give me a call back, call me back at, call me back when you"),
}

# The caller asking to bring someone or something in: "can i bring my car in tomorrow".
BRING_IN = re.compile(
    r" (?:bring|get|take) (?:my|our|his|her|the|him|them|it) (?:[a-z']+ ){0,2}?in"
    r" (?:for|to|this|next|today|tomorrow|on|sometime|soon|at|before)"
)
# A problem to fix, in any trade: what makes a request for a visit a request for service.
# A caller who asks for a time and names none wants an appointment ("a cleaning", "her shots").
PROBLEMS = cues(
    2,
    "not working, stopped working, isn't working, is not working, quit working, quit on me,"
    " went out, broke, broken, making a noise, no heat, no hot water, no ac, no air, leaking,"
    " flooding, burst, clogged, backed up, won't turn on, won't start, not turning on, stopped,"
    " leak, dripping, water coming, grinding, squealing, shaking, smell, burning, noise, hurt,"
    " hurts, injured, accident, pain, toothache, swell, swelling, bites, nest, infestation,"
    " damage, storm, fell, backing up, overflowing, check engine, came on, throwing up, ate,"
    " split, missing, limping, bleeding, vomiting, won't eat, not eating, sick, lump, rash,"
    " infection, cracked, chipped, loose, fell out, came off, rear ended, hit, slipped,"
    " stuck, won't go, won't open, won't close, won't lock, won't unlock, won't flush,"
    " won't drain, won't stop, bang, snapped, popped, tripped, tripping, sparking, flickering,"
    " not cold, not cooling, not heating, not draining, locked out, lost my keys, jammed,"
    " sticking, stopped up, overflowed, rotted, sagging, fallen, came down, knocked, roaches,"
    " mice, rats, ants, termites, wasps, bees, hornets, mold, water spot, humming, beeping,"
    " dead, died, won't charge, won't spin, won't cool, won't heat, not working right,"
    " threw my back out, can barely, stiff, sore, pinched, wreck, whiplash, bubbling, geyser,"
    " gushing, spraying, standing water, puddle, soggy, stain, stains, sewage, smells, backs up,"
    " gurgle, gurgling, shuts off, shutting off, shuts down, shutting down, keeps turning off,"
    " cuts out, cutting out, cuts off, clicking,"
    " coming up out of, arrested, jail, d u i, dui, arraigned, got served, served papers",
)

# Said by a caller comparing prices: the scorer marks down a quote request that says one.
PRICE_SHOPPING = cues(4, ", ".join(scoring.PRICE_SHOPPING))
# Other ways a caller says they are comparing: the analyzer names them "comparing prices" in
# its key phrases, the only way a CallAnalysis can tell the scorer.
COMPARING = cues(
    4,
    "a few quotes, a couple quotes, a couple of quotes, few different places, a few places,"
    " couple of places, couple places, couple of different, few different, other shop,"
    " another shop, another company, other guys, somebody else quoted, someone else quoted,"
    " best price, price match, lowest price, beat that, beat their",
)

# Spoken in an answered call, these are a robot or an outbound script, not the caller.
SPAM_THRESHOLD = 3
WRONG_NUMBER_THRESHOLD = 3
INTENT_THRESHOLD = 3
TRADE_WORDS_CAP = 4
EXISTING_CUSTOMER_THRESHOLD = 3

URGENCY_HIGH = cues(
    2,
    "emergency, no heat, no hot water, leaking, leak, flooding, flooded, as soon as possible,"
    " asap, today, right away, urgent, urgently, burst, tonight, right now, immediately,"
    " no ac, no air, water everywhere, smell gas, gas smell, sparking, smoke, burning,"
    " killing me, swelling, swell, dripping, water coming, raining, freezing, won't stop,"
    " overflowing, as soon as you can, hurry, sooner the better, worried, within the hour,"
    " elderly, baby, newborn, bites,"
    # stuck, stranded or hurt: a problem that stops the caller's day
    " stuck, stranded, locked out, can't get in, can't get out, can't leave, won't close,"
    " won't open, won't lock, snapped, smoking, overheated, overheating, a tow, towed,"
    " broke my, stitches, hospital, emergency room, ambulance, no power, power's out,"
    " power is out, sparks, sewage, have to be out, bailed on, fell through, can't drive,"
    " throwing up, vomiting, bleeding, won't eat, poison, poisoned, seizure, can't breathe,"
    " hit by a car, in pain, unbearable, really hurting, really hurts",
)
URGENCY_MEDIUM = cues(
    1, "this week, soon, tomorrow, in the next few days, before the weekend, in two weeks"
)
# Greetings that say "today" without meaning it.
URGENCY_IGNORED = (
    "help you today",
    "how are you today",
    "calling today",
    "assist you today",
    "doing today",
    "for you today",
    "this morning for the",  # "i dropped it off this morning for the oil change"
    "not an emergency",
    "isn't an emergency",
    "not urgent",
    "not super urgent",
    "no emergency",
)

APPOINTMENT_BOOKED = cues(
    2,
    "we'll see you, we will see you, see you then, see you tomorrow, you're all set,"
    " you are all set, confirmed for, technician will be there, tech will be there,"
    " got you down for, put you down for, booked you, i've booked, i have you scheduled,"
    " you're scheduled, you are scheduled, on the schedule for, will be out between,"
    " you're confirmed, you are confirmed, be there by, be there at, will be there at,"
    " they'll be there, he'll be there, she'll be there, come on in, come on by,"
    " bring it in now, bring it on in, as soon as you get here, have an electrician there,"
    " have a tech there, have someone there, crew will be there, you're on for, i've got you for,"
    " i have you for, got you in for,"
    " squeeze you in, we'll be ready for you, see you in a few, see you soon,"
    " send you a confirmation, when he's on the way, when she's on the way,"
    " when they're on the way, see you monday, see you tuesday, see you wednesday,"
    " see you thursday, see you friday, see you saturday, see you sunday, see you this,"
    " see you next, see you today, see you tonight, see you at, see you in a bit, fit you in,"
    " he's on his way, she's on her way, they're on their way, tech is on the way,"
    " someone on the way, somebody on the way, come straight in, have a room ready,"
    " on the board for, you're on the board",
) + cues(1, "booked, scheduled")  # and a day or a time window: see the analyzer
# The caller coming to the business, or taking its time: a booking in the caller's words.
CALLER_COMING = cues(
    2,
    "i'm on my way, on my way now, i'll be right there, be right there, i'll leave now,"
    " we're on our way, on our way now, i'll head over, heading over now,"
    # now, not "maybe i'll bring it in next month" or "i'm leaving now for work"
    " i'll bring him in now, i'll bring her in now, i'll bring it in now, i'll bring them in now,"
    " bring him right in, bring her right in, bring it right in, bring them right in",
)
APPOINTMENT_CANCELLED = cues(
    3,
    "fully booked, no availability, not scheduled, nothing available, call you back to"
    " schedule, i'll think about it, let me think about it, not booked",
)

SENTIMENT_POSITIVE = cues(
    1,
    "great, awesome, perfect, appreciate, wonderful, excellent, fantastic, happy, glad,"
    " sounds good, love, amazing, thank you so much, lifesaver, very helpful",
)
SENTIMENT_NEGATIVE = cues(
    2,
    "frustrated, frustrating, angry, terrible, ridiculous, upset, unacceptable, worst,"
    " disappointed, annoyed, not happy, horrible, awful, complaint, rude, never again,"
    " waste of, fed up, third time",
)

# The home-services trades, with the words a caller uses for each.
TRADES: dict[str, tuple[str, ...]] = {
    "hvac": (
        "hvac", "heating", "cooling", "furnace", "furnas", "heater", "heat", "ac", "a c",
        "air conditioner", "air conditioning", "heat pump", "thermostat", "boiler", "duct",
        "ducts", "vents", "compressor", "blowing cold air", "blowing warm air", "mini split",
    ),
    "plumbing": (
        "plumbing", "plumber", "leak", "leaking", "pipe", "pipes", "drain", "clog", "clogged",
        "toilet", "faucet", "sink", "sewer", "water heater", "hot water", "disposal",
        "sump pump", "shower", "water line",
    ),
    "electrical": (
        "electrical", "electric", "electrician", "outlet", "outlets", "breaker", "panel",
        "wiring", "lights", "generator", "ev charger",
    ),
    "roofing": ("roofing", "roof", "roofer", "shingles", "gutter", "gutters", "hail damage"),
}  # fmt: skip
# The words in a tenant's business context that name each trade.
TRADE_NAMES: dict[str, tuple[str, ...]] = {
    "hvac": ("hvac", "heating", "cooling", "air conditioning", "furnace", "heat pump"),
    "plumbing": ("plumbing", "plumber", "plumbers", "drain", "water heater"),
    "electrical": ("electrical", "electric", "electrician", "electricians"),
    "roofing": ("roofing", "roof", "roofer", "roofers"),
}

# Words of a business context that say its customers come to it to be seen (a patient, a pet,
# a consultation): a caller there who wants its service wants an appointment, even for a
# problem ("i cracked a tooth, can you see me today"). Trades that come out to the caller or
# take on a job (a furnace, a case) are not: their caller with a problem wants a service.
SEEN_AT_THE_BUSINESS = (
    "dental", "dentist", "dentistry", "orthodontic", "orthodontics", "veterinary", "vet",
    "animal hospital", "animal clinic", "med spa", "medspa", "medical spa", "aesthetics",
    "clinic", "salon", "chiropractic", "chiropractor", "physical therapy", "optometry",
    "eye care", "dermatology", "patients",
)  # fmt: skip

# Built-in services, most specific first: (name, phrases that ask for it).
SERVICES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("water heater", ("water heater", "hot water heater", "no hot water", "hot water")),
    ("heat pump", ("heat pump",)),
    ("furnace repair", ("furnace", "furnas", "no heat", "heater", "heating", "boiler")),
    ("ac repair", ("air conditioner", "air conditioning", "ac", "a c", "not cooling", "no ac")),
    ("drain cleaning", ("drain", "clogged", "clog", "backed up", "sewer")),
    ("duct cleaning", ("duct cleaning", "air ducts", "ducts", "duct")),
    ("thermostat", ("thermostat",)),
    ("maintenance", ("tune up", "maintenance", "check up", "inspection")),
    ("plumbing", ("leak", "leaking", "pipe", "pipes", "toilet", "faucet", "plumber", "burst")),
    ("electrical", ("outlet", "breaker", "panel", "wiring", "electrician")),
    ("roofing", ("roof", "shingles", "gutter", "gutters")),
)  # fmt: skip
# Words that make a phrase of the business context a service ("solar panel installation"); a
# caller says one when a word starts with its first five letters ("installing", "repaired").
SERVICE_WORDS = words(
    "repair repairs installation installations install replacement replacements cleaning"
    " service services maintenance inspection inspections removal tune"
)
CONTEXT_STOPWORDS = words(
    "a an the and or of for in on at to we our us you your is are be with from by as that"
    " this it its new good best all any"
)

# "her name is luna": only the caller's own name counts.
NAME_CUES = ("my name is", "my name's", "this is", "it's", "its")
# The business asking who is calling; the caller's next turn answers it.
NAME_QUESTIONS = (
    "your name", "the name", "a name", "your last name", "your first name", "the last name",
    "who am i speaking with", "who i'm speaking with", "who's calling", "who is calling",
)  # fmt: skip
CONTACT_QUESTIONS = (*NAME_QUESTIONS, "email", "e mail", "spell")
ANSWER_OPENERS = words(
    "yeah yes yep yea sure ok okay um uh oh so it's its it is my name name's this i'm im hi"
    " hey well under sorry"
)
NAME_STOPWORDS = words(
    "a an the and or but so um uh er calling call from with about regarding for just here"
    " not sorry yeah yes no okay ok hi hello hey my your our is was i im me we you he she"
    " they it its that this there going trying looking wondering having getting really very"
    " actually still also again office home house at on in to of urgent emergency only"
    " first second third last wrong fine good great how what when where who why can could"
    " would will be been have has had do does did get got need want please thanks thank"
    " well like gonna gotta one two three four five six seven eight nine ten hold hang wait"
    " sir ma'am maam mam mister mr mrs ms dr doctor our their his her him them us wife"
    " husband son daughter mom dad saw said got just think thought under over out down up by"
    " apartment apt suite unit road street avenue drive boulevard"  # an address said first
)
NUMBER_WORDS = words(
    "zero eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty"
    " thirty forty fifty sixty seventy eighty ninety hundred"
)
AGENT_GREETINGS = ("thank you for calling", "thanks for calling", "how can i help", "how may i")
EMAIL_DOMAINS = ("com", "net", "org", "edu", "gov", "us", "io", "co", "info", "biz", "me")
# Mail domains said without their ending: "at gmail" is gmail.com.
MAIL_PROVIDERS = ("gmail", "yahoo", "hotmail", "outlook", "icloud", "aol")
# Words after which a caller starts saying an address: a run of words before "at" that starts
# after one of these, or the sentence's start, is the address; after any other word, unsure.
EMAIL_ANCHORS = words(
    "is it's its it to me email mail address sure yeah yes okay ok um uh so not and or just"
    " at that's thats"
)
EMAIL_SEPARATORS = {"dot": ".", "period": ".", "underscore": "_", "dash": "-", "hyphen": "-"}
# How ASR writes what a caller spells out, and what it means.
EMAIL_SOUNDS = {"at sign": "at", "at symbol": "at", "g mail": "gmail", "gee mail": "gmail"}
EMAIL_SOUNDS |= {"hot mail": "hotmail", "out look": "outlook", "i cloud": "icloud"}
EMAIL_SOUNDS |= {"e mail": "email", "yahoo dot come": "yahoo dot com"}
# What a caller says about the address inside it: "hernandez family 5 all one word at gmail".
EMAIL_SOUNDS |= dict.fromkeys(("all one word", "one word", "all lowercase", "no spaces"), "")

INTENT_LABELS = {
    Intent.NEW_SERVICE_REQUEST: "New service request",
    Intent.QUOTE_REQUEST: "Quote request",
    Intent.APPOINTMENT: "Appointment request",
    Intent.EXISTING_CUSTOMER: "Existing customer",
    Intent.WRONG_NUMBER: "Wrong number",
    Intent.SPAM: "Spam or robocall",
    Intent.VOICEMAIL: "Voicemail",
    Intent.OTHER: "Call",
}

# What only the business says on a call: it greets, asks who is calling, offers and confirms
# times. Read in calls whose channels are not labelled (adapters.rules.roles).
AGENT_MARKERS = (
    "thank you for calling", "thanks for calling", "how can i help", "how may i help",
    "what can i do for you", "can i get your", "can i have your", "could i get your",
    "may i have your", "can i get a name", "what's your name", "whats your name",
    "what is your name", "what's the name", "whats the name", "what's a good email",
    "best email", "and your email", "you're all set", "you are all set", "you're booked",
    "you're set for", "i've got you down", "i have you down", "we'll see you", "we can get",
    "we can send", "we can have", "we'll get", "we'll have someone", "we'll send", "we do free",
    "we offer", "we're open", "let me pull", "can i put you on hold", "we have a tech",
    "i have a tech", "i can have", "i can send", "we have an opening", "will call you",
    "will email you", "will reach out", "and an email", "how about", "can you make",
    "can you come in", "can you drop", "can you bring", "we can take care", "we can help",
)  # fmt: skip
# The business answering a request for a price: it offers an estimate or a quote.
AGENT_QUOTES = cues(
    3,
    "free estimate, free estimates, an estimate, a quote, walkthrough, estimator, proposal,"
    " price range, exact quote, written quote, send you a quote, to the quote",
)
# The caller asking for an estimate of a job rather than a price of a service: booked, it is
# the estimate's visit ("get an estimate on a tankless"), not the service ("an oil change").
ESTIMATE_ASKED = cues(3, "estimate, estimates, quote, quotes, quota, a price on, proposal, bid")
# The business taking the job on: what the caller asked for is a service it gives.
AGENT_TAKES_THE_JOB = cues(
    2,
    "we can take care, we can help, we can do that, we handle, we can definitely, we can get"
    " someone, we can have someone, take a look, do a diagnostic, an inspection,"
    " we can get somebody, definitely worth a look",
)

# A caller selling to the business rather than buying from it: what they sell (marketing,
# leads, listings, payments, money) and how they speak to the business as their customer.
SOLICITATION_TOPICS = (
    "seo", "search engine", "first page", "page of google", "ranked", "ranking", "google ads",
    "facebook ads", "sponsored ads", "marketing", "leads", "lead generation", "exclusive",
    "five star reviews", "more reviews", "map pack", "google maps", "listing", "listings",
    "verify your", "verified", "credit card processing", "card processing", "merchant",
    "processing fees", "lower your rates", "line of credit", "funding", "pre qualified",
    "prequalified", "business loan", "new patients a month", "more jobs", "signed retainers",
    "per appointment", "per booked job", "your website", "business page", "local search",
    "free audit", "more new clients", "more clients", "more customers", "more patients",
    "more calls", "online presence", "sponsored placement", "advertising", "your page",
    "page views", "business team", "pay per job", "per job", "referral fee", "call network",
    "your zip codes", "your zip code", "more views", "featured placement", "show up first",
    "mobile friendly", "your customers", "your patients", "your clients", "your homeowners",
    "their homeowners", "offer financing", "homeowners financing", "close more", "google reviews",
    "star google reviews", "dental practices", "law firms", "practices to help",
    "clients a month", "customers a month", "instagram ads", "working capital",
    "recover denied", "underpaid", "collections", "google guaranteed", "lower rate", "lock in",
    "commercial rates", "calling local businesses", "gps", "fleet", "your techs", "their techs",
    "your trucks", "distributor", "your purchasing", "pricing on", "staffing agency", "staffing",
    "uniform service", "uniform services", "uniforms", "shop towels", "switching to us",
    "long contracts", "samples of our",
    # where it shows in a search; what a card machine costs it; who would buy it
    # (a customer's tech is "not showing up", a breaker gives "a pop", a bill "your statement")
    "showing up on google", "showing up on the first page", "showing up in the top",
    "showing up in the map", "top three", "top 3", "the top of google",
    "processing rates", "card machine", "your machine", "the rates you're paying",
    "at your statements", "acquiring", "buyers who", "firms your size", "businesses your size",
    "practices your size", "sell your practice", "sell your firm",
    # leads sold by the piece: "we sell them to roofers, 250 a pop"
    "sell them to", "we sell them", "door knock", "homeowners with",
)  # fmt: skip
ADDRESSING_THE_BUSINESS = (
    "the owner", "business owner", "who handles", "decision maker", "your business",
    "your company", "companies in your area", "businesses in your area", "in your area",
    "practices", "firms", "is the doctor available", "managing partner", "we help",
    "we generate", "we send", "we provide", "we can get you", "we can lower", "we work with",
    "send you some info", "save you", "i'm calling from", "im calling from", "your marketing",
    "calling from the", "we run a", "we send you", "calling about your", "we partner with",
    "best person to talk to", "we specialize", "we build", "like yours", "for your listing",
    "our directory", "you're listed", "office manager", "case study", "one pager",
    "free comparison", "free mockup", "calling from", "who handles your", "saving shops",
    "saving businesses", "one of the partners", "the local rep",
)  # fmt: skip
# Calls from people who want something else from the business than its service: work, an
# order, an insurance claim. "other", never a lead.
JOB_SEEKING = (
    "hiring", "job opening", "job posting", "looking for work", "looking for a job", "apply",
    "application", "resume", "employment", "need any help", "ase certified", "epa certification",
    "sub work", "subcontract", "subcontractor", "subcontracting", "i have experience",
    "years experience", "years of experience", "the position", "the job posting",
    "if you guys need help", "if you need help", "need any installers", "need any techs",
    "need any workers", "need any drivers", "need any guys", "my own crew", "your posting",
    "on indeed", "your job ad", "the opening for", "are you hiring", "y'all hiring",
    "yinz hiring", "posted for a helper", "posted for help", "posted a job", "posting for",
    "event staff", "wait staff",  # not "the price you guys posted for a new furnace"
    "like to work for", "want to work for", "looking to work for",
)  # fmt: skip
BUSINESS_ERRANDS = (
    "claim number", "the claim", "a claim", "adjuster", "our insureds", "the insured",
    "your order", "the order", "supply", "sales rep", "deposition", "promotion", "delivered",
    "claims", "samples", "the rep", "your rep", "lunch and learn", "your policy", "policy renewal",
    "shipped", "preferred lender", "shipment", "your client", "date of loss", "pharmacy",
    "approval request", "can you verify", "our client", "the claimant", "backordered",
    "the warehouse", "parts house", "you ordered", "will call", "building inspections",
    "inspector", "the city of", "building department",
)  # fmt: skip
# A caller who says who they work for: "this is dan with ferguson supply".
ON_BEHALF = re.compile(
    r" (?:(?:this is|i'm|im|my name is|my name's|hi this is|it's) (?:[a-z']+ ){0,4}?"
    r"(?:with|from|over at|at) "
    r"(?!the house|my |our |home )"
    r"|this is (?:[a-z']+ ){1,2}(?:supply|distribution|distributors|wholesale|insurance"
    r"|logistics|freight) )"
)
# The business sending the caller elsewhere: what they want, it does not do. Not a lead.
REFERRED_OUT = (
    "you'd want to call", "you'll want to call", "you want to call", "you'd have to call",
    "you'll have to call", "you need to call", "you'd need to call", "try calling",
    "we don't do that", "we don't offer", "we don't work on", "we don't service",
    "we don't take", "we don't handle", "we only do", "we're not able to help",
    "sorry we don't do", "we don't do either", "we don't do those", "we don't do that kind",
    "you'd want a", "you'll want a", "you would want a", "you'd need a",
    "i'd call", "i would call", "you could try", "i'd try", "don't do that unfortunately",
    "we only handle", "we only work on", "we only service", "lawyer referral", "that we refer to",
)  # fmt: skip
# The business's "no" to "is this the pizza place?": a wrong number.
# The business saying what it is not: "sir this isn't a pizza place", "this is a dentist
# office for people, you might be looking for maple grove animal hospital".
NOT_THIS_PLACE = re.compile(
    r" this (?:isn't|is not) (?:a|an|the) (?:[a-z']+ ){0,2}?(?:place|restaurant|store|office"
    r"|shop|company|pharmacy|hospital|school|bank|number) "
    r"| you (?:might|may) be looking for | you're probably looking for | you might want "
)
# A quote or an estimate the caller had from the business: a prospect's visit, not a job done.
QUOTED_BEFORE = re.compile(
    r" (?:gave (?:us|me) (?:a|an|the) (?:quote|estimate|price|bid)|quoted (?:us|me)"
    r"|(?:your|the) (?:quote|estimate|proposal) (?:for|was|came))"
)
A_VISIT = re.compile(r" (?:came out|came by|was out|were out|quoted|came over) ")
WRONG_PLACE_QUESTION = re.compile(  # not "is that covered by insurance" - "no, it's self pay"
    r" (?:is this|is that|this isn't|trying to (?:get|reach))"
    r" (?!covered|included|free|available|open|normal|safe|serious|bad|something|going|gonna"
    r"|worth|necessary|the price|the cost|per|each|all|it|for|with|a lot|too|really|just)"
)
AGENT_DENIAL = re.compile(
    r"^ (?:no|nope|oh no|um no|uh no|sorry no)\b| you want [a-z]+'s | you're looking for "
)
# An hour said as a word: "at two", "between nine and eleven".
SPOKEN_HOURS = "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve"
HOUR_WORDS = {str(n): w for n, w in enumerate(SPOKEN_HOURS.split("|"), start=1)}  # "1": "one"
# The business giving a time the caller then takes: a visit booked.
TIME_OFFER = re.compile(
    r" (?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|tomorrow|today|tonight"
    r"|this (?:morning|afternoon|evening)"
    rf"|(?:at|between|around) (?:[0-9]{{1,2}}|{SPOKEN_HOURS}|noon)"
    r"|(?:there|out) (?:in|within) (?:about |around |like )?(?:an hour|the hour|half an hour"
    r"|[0-9]+ minutes))"
    r"\b(?! (?:hundred|thousand|dollars|bucks|a unit|a syringe|per|an hour|a month|a square"
    r"|percent|off|to [a-z0-9]+\b)"
    r"| (?:and|or|to) [a-z0-9]+ (?:hundred|thousand|grand|dollars|bucks))"
)  # "between 12 hundred and two thousand", "around eight to twelve", "at 13 a unit": prices
NOT_AN_OFFER = (
    "call you", "reach out", "text you", "email you", "when we have", "first come", "walk in",
)  # fmt: skip
ACCEPTANCE = words(
    "yes yeah yep sure perfect great works fine good okay ok absolutely definitely alright"
)
REFUSAL = (
    "let me", "let you know", "get back to you", "i'll call", "ill call", "think about", "no ",
    "not ", "can't", "cannot", "nah",
)  # fmt: skip
# Same-day help from the business says the call is urgent, whatever the caller's words.
# ("we're pretty booked today" and "i'll email that over today" are not: see SAME_DAY).
AGENT_URGENT = cues(
    2,
    "right away, within the hour, on his way, on her way, on their way,"
    # the business's triage: come now, it cannot wait ("she's not in right now" is no such)
    " come in right now, bring her in right now, bring him in right now, bring it in right now,"
    " bring them in right now, come straight in, come straight over, bring her straight,"
    " bring him straight, it's an emergency, that's an emergency, can be an emergency,"
    " wouldn't wait, would not wait, don't wait, top of the list, put you at the top",
)
# A greeting's "if this is an emergency, hang up and call 911" is no triage of this call.
AGENT_URGENCY_IGNORED = (
    "if this is an emergency",
    "if it's an emergency",
    "if it is an emergency",
    "if you have an emergency",
)
SAME_DAY = re.compile(
    rf" (?:(?:out|there|in|over|by|someone|somebody|[0-9]+|{SPOKEN_HOURS}|fifteen|thirty|forty"
    r"|o'clock) (?:today|tonight)"
    r"|(?:today|tonight|this afternoon|this morning) (?:between|at|by)"
    r"|(?:this afternoon|this morning|tonight)(?= |$))"
)
AGENT_SOON = cues(1, "tomorrow")
# Words of a business context that say nothing about what it offers.
CONTEXT_GENERIC = words(
    "good lead leads needs need wants area areas across metro welcome free licensed local"
    " care emergency services service full city county"
)
