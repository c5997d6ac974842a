"""The rules analyzer on calls as speech recognition writes them: lower case, no punctuation,
misheard words ("furnas", "a point meant", "quota"), and already redacted."""

from __future__ import annotations

import re

import pytest

from adapters.rules import vocabulary as vocab
from adapters.rules.analyzer import MAX_SUMMARY, RulesCallAnalyzer
from domain.call import CallMetadata
from domain.results import CallAnalysis, Intent, Segment, Sentiment, Transcript, Urgency
from domain.tenant import AiConfig

HVAC = AiConfig(
    business_context=(
        "Denver Comfort Heating & Air is an HVAC contractor. We do furnace repair, AC"
        " installation, heat pumps and duct cleaning across the Denver metro. A good lead wants"
        " a technician out this week."
    )
)
NO_CONTEXT = AiConfig()
ANSWERED = CallMetadata(caller="+13035550142", duration_s=140, answered=True, first_call=True)
VOICEMAIL = CallMetadata(caller="+13035550142", duration_s=40, answered=False, voicemail=True)


def call(*turns: tuple[str, str]) -> Transcript:
    """A transcript with speaker turns, and its text as the engine would join them."""
    segments = tuple(
        Segment(speaker, 4.0 * i, 4.0 * i + 3.5, text) for i, (speaker, text) in enumerate(turns)
    )
    return Transcript("whisper-tiny.en", "en-US", " ".join(t for _, t in turns), segments)


def text_only(text: str) -> Transcript:
    """Whisper without diarisation: one block of text, nobody labelled."""
    return Transcript("whisper-tiny.en", "en-US", text)


async def analyze(
    transcript: Transcript | None, metadata: CallMetadata = ANSWERED, ai: AiConfig = HVAC
) -> CallAnalysis:
    return await RulesCallAnalyzer().analyze(transcript, metadata, ai)


NO_HEAT = call(
    ("agent", "thank you for calling denver comfort this is sarah how can i help you today"),
    (
        "caller",
        "hi yeah um my furnas stopped working last night and theres no heat in the house its"
        " like fifty degrees in here",
    ),
    ("agent", "oh no im sorry to hear that can i get your name"),
    ("caller", "yeah my name is dana whitfield"),
    ("agent", "okay dana we can get a technician out there this afternoon between two and four"),
    ("caller", "yes that would be great thank you so much"),
    ("agent", "perfect you're all set we'll see you this afternoon"),
)

INTENT_CALLS = [
    pytest.param(NO_HEAT, ANSWERED, Intent.NEW_SERVICE_REQUEST, id="furnace-out"),
    pytest.param(
        text_only(
            "plumbing this is joe uh yeah hi my kitchen drain is clogged and backed up into the"
            " sink can you send someone out to take a look"
        ),
        ANSWERED,
        Intent.NEW_SERVICE_REQUEST,
        id="unlabelled-drain",
    ),
    pytest.param(
        call(
            ("agent", "comfort heating and air how can i help"),
            (
                "caller",
                "hi i was wondering how much you guys charge to replace a water heater its a"
                " forty gallon gas one",
            ),
            ("agent", "it usually runs twelve to eighteen hundred i can send someone for a look"),
            ("caller", "okay let me think about it and ill call you back"),
        ),
        ANSWERED,
        Intent.QUOTE_REQUEST,
        id="price-of-water-heater",
    ),
    pytest.param(
        text_only("yeah hi could i get a quota on a new a c unit for a two story house"),
        ANSWERED,
        Intent.QUOTE_REQUEST,
        id="quota-misheard",
    ),
    pytest.param(
        call(
            ("agent", "denver comfort this is mike"),
            ("caller", "hey i need to set up a point meant for my annual furnace tune up"),
            ("agent", "sure i have thursday between eight and ten"),
            ("caller", "thursday works"),
            ("agent", "great i've booked you for thursday between eight and ten"),
        ),
        ANSWERED,
        Intent.APPOINTMENT,
        id="a-point-meant",
    ),
    pytest.param(
        call(
            ("agent", "thanks for calling how can i help"),
            (
                "caller",
                "hi um you guys were out last week to fix my furnace and i just got my bill and"
                " it looks like i was charged twice",
            ),
            ("agent", "im sorry about that let me pull up the invoice"),
        ),
        ANSWERED,
        Intent.EXISTING_CUSTOMER,
        id="charged-twice",
    ),
    pytest.param(
        call(
            ("agent", "comfort heating and air"),
            ("caller", "oh sorry i was trying to reach doctor patels office"),
            ("agent", "no this is a heating company"),
            ("caller", "oh my mistake sorry wrong number"),
        ),
        ANSWERED,
        Intent.WRONG_NUMBER,
        id="wrong-number",
    ),
    pytest.param(
        text_only("hello is this the pizza place oh sorry i dialed never mind"),
        ANSWERED,
        Intent.WRONG_NUMBER,
        id="sorry-i-dialed",
    ),
    pytest.param(
        call(
            (
                "caller",
                "this is not a sales call we are calling about your google business listing"
                " press one to speak to a specialist",
            ),
        ),
        ANSWERED,
        Intent.SPAM,
        id="google-listing",
    ),
    pytest.param(
        call(("1", "were calling about your car's extended warranty this is your final notice")),
        ANSWERED,
        Intent.SPAM,
        id="extended-warranty",
    ),
    pytest.param(
        call(
            (
                "caller",
                "hi this is mike calling my water heater is leaking all over the garage please"
                " give me a call back",
            ),
        ),
        VOICEMAIL,
        Intent.NEW_SERVICE_REQUEST,  # a voicemail's intent is what it asks for
        id="voicemail-asking-for-service",
    ),
    pytest.param(
        call(("caller", "hey it's mike again uh give me a call back when you get a chance thanks")),
        VOICEMAIL,
        Intent.VOICEMAIL,  # a voicemail that says nothing of what the caller wants
        id="voicemail",
    ),
    pytest.param(
        call(
            ("agent", "comfort heating"),
            ("caller", "hi yeah are you guys hiring i saw the sign on your truck"),
        ),
        ANSWERED,
        Intent.OTHER,
        id="job-seeker",
    ),
]


@pytest.mark.parametrize(("transcript", "metadata", "intent"), INTENT_CALLS)
async def test_intent_of_realistic_noisy_calls(
    transcript: Transcript, metadata: CallMetadata, intent: Intent
) -> None:
    analysis = await analyze(transcript, metadata)
    assert analysis.intent is intent
    assert analysis.engine == "rules"
    assert analysis.is_spam == (intent is Intent.SPAM)


def test_every_intent_has_a_sample_call() -> None:
    covered = {p.values[2] for p in INTENT_CALLS}
    assert covered == set(Intent)


async def test_a_full_service_call_is_understood_end_to_end() -> None:
    analysis = await analyze(NO_HEAT)
    assert analysis.service_requested == "furnace repair"
    assert analysis.urgency is Urgency.HIGH
    assert analysis.appointment_booked
    assert analysis.caller_name == "Dana Whitfield"
    assert analysis.sentiment is Sentiment.POSITIVE
    assert not analysis.is_existing_customer
    assert "furnas" in analysis.key_phrases
    assert "no heat" in analysis.key_phrases
    assert analysis.summary.startswith("New service request (furnace repair): ")
    assert "stopped working" in analysis.summary
    assert "sarah" not in analysis.summary, "the summary quotes the caller, not the agent"


async def test_a_billing_call_marks_an_existing_customer() -> None:
    existing = INTENT_CALLS[5].values[0]
    assert isinstance(existing, Transcript)
    analysis = await analyze(existing)
    assert analysis.is_existing_customer
    assert {"my bill", "charged twice"} <= set(analysis.key_phrases)


async def test_a_voicemail_asking_for_service_keeps_the_service_and_the_urgency() -> None:
    voicemail = INTENT_CALLS[10].values[0]
    assert isinstance(voicemail, Transcript)
    analysis = await analyze(voicemail, VOICEMAIL)
    assert analysis.service_requested == "water heater"
    assert analysis.urgency is Urgency.HIGH
    assert analysis.caller_name == "Mike"


async def test_the_business_context_makes_its_trade_words_count() -> None:
    vague = text_only("hi yeah i had a question about a heat pump for the house")
    assert (await analyze(vague, ai=NO_CONTEXT)).intent is Intent.OTHER
    assert (await analyze(vague, ai=HVAC)).intent is Intent.NEW_SERVICE_REQUEST


async def test_the_business_context_adds_the_tenants_own_services() -> None:
    solar = AiConfig(business_context="Sunny Roofs: solar panel installation, battery storage.")
    transcript = text_only("hey we want to get solar panels installed on our roof next spring")
    assert (await analyze(transcript, ai=solar)).service_requested == "solar panel installation"
    assert (await analyze(transcript, ai=NO_CONTEXT)).service_requested == "roofing"


@pytest.mark.parametrize(
    ("said", "name"),
    [
        ("yeah my name is dana whitfield and i need help", "Dana Whitfield"),
        ("my name is um john and my furnace is out", "John"),
        ("hi this is mike calling about my water heater", "Mike"),
        ("hey it's jen calling back about the quote", "Jen"),
        ("yeah hi this is carlos ramirez i called yesterday", "Carlos Ramirez"),
        ("this is an emergency my basement is flooding", None),
        ("this is frustrating it broke again", None),
        ("yeah hi this is ray over on pine street", "Ray"),
        ("it's not working at all", None),
        ("my furnace stopped working last night", None),
    ],
)
async def test_caller_name(said: str, name: str | None) -> None:
    assert (await analyze(call(("caller", said)))).caller_name == name


async def test_a_name_said_again_in_full_is_taken_in_full() -> None:
    asked = call(("agent", "and can i get a name"), ("caller", "uh it's marisol. marisol vega"))
    assert (await analyze(asked)).caller_name == "Marisol Vega"
    again = call(("caller", "hi this is gail uh gail porter, my furnace is out"))
    assert (await analyze(again)).caller_name == "Gail Porter"


async def test_a_last_name_given_when_asked_for_it_completes_the_name() -> None:
    asked = call(
        ("agent", "what's your name"),
        ("caller", "it's dee"),
        ("agent", "last name dee"),
        ("caller", "oh sorry, okafor, o k a f o r"),
    )
    assert (await analyze(asked)).caller_name == "Dee Okafor"


async def test_an_email_said_after_its_is_not_a_name() -> None:
    asked = call(
        ("agent", "and an email for the forms"),
        ("caller", "yeah it's lopez family 3 at gmail dot com"),
    )
    analysis = await analyze(asked)
    assert analysis.caller_name is None
    assert analysis.caller_email == "lopezfamily3@gmail.com"


async def test_the_agents_own_name_is_not_taken_for_the_callers() -> None:
    unlabelled = text_only(
        "thank you for calling denver comfort this is sarah how can i help you yeah my heater"
        " is making a weird noise"
    )
    assert (await analyze(unlabelled)).caller_name is None
    greeting = text_only("hi this is sarah how can i help you my heater is making a noise")
    assert (await analyze(greeting)).caller_name is None


@pytest.mark.parametrize(
    ("said", "email"),
    [
        ("sure its john dot smith at gmail dot com", "john.smith@gmail.com"),
        ("my email is jsmith@yahoo.com thanks", "jsmith@yahoo.com"),
        ("its mary underscore k at hot mail dot com", "mary_k@hotmail.com"),
        ("my email is john smith at g mail dot com", "johnsmith@gmail.com"),
        ("yeah dana dot w at comfort dash air dot co", "dana.w@comfort-air.co"),
        ("send it to bob at sign outlook dot com", "bob@outlook.com"),
        ("you can call me at 303 555 0142 anytime", None),
        ("ill be at home at noon", None),
        # Whisper hears "dot" as "not"
        ("My name is David Kim and my email is David Not Kim at Gmail.com.", "david.kim@gmail.com"),
        ("its mary not jones at yahoo not com", "mary.jones@yahoo.com"),
        ("my email is not john at gmail dot com", "john@gmail.com"),
        ("it's not at gmail dot com", None),
        ("i'm not sure, i'll be at home", None),
        # a word and its spelling, said once in the address
        ("it's p okoro o k o r o at gmail dot com", "pokoro@gmail.com"),
        ("yes it's w e b b. webb dot anna at yahoo dot com", "webb.anna@yahoo.com"),
        ("it's l l o y d dot k at outlook dot com", "lloyd.k@outlook.com"),
        # what is said about the letters and numbers is not part of them
        ("it's greg with two gs. g r e g g dot h a l l at gmail dot com", "gregg.hall@gmail.com"),
        ("m a r k t eight two at icloud dot com", "markt82@icloud.com"),
        ("it's nora lee the number one at gmail dot com", "noralee1@gmail.com"),
        ("yeah it's r o b dot k i m um at yahoo dot com", "rob.kim@yahoo.com"),
        ("it's bob and june b o b a n d j u n e at cox dot net", "bobandjune@cox.net"),
        ("it's sofia with an f s o f i a underscore r a m at yahoo dot com", "sofia_ram@yahoo.com"),
        ("it's kelly dot roach k e l l y dot r o a c h at yahoo dot com", "kelly.roach@yahoo.com"),
        ("it's b cole b c o l e dot a z at gmail", "bcole.az@gmail.com"),
        # the name said first, in a sentence of its own, is not part of the address
        ("ava sorensen. a sorensen at gmail dot com", "asorensen@gmail.com"),
        ("it's j. smith at gmail dot com", "jsmith@gmail.com"),
    ],
)
async def test_caller_email_spoken_or_written(said: str, email: str | None) -> None:
    assert (await analyze(call(("caller", said)))).caller_email == email


@pytest.mark.parametrize(
    ("agent_says", "booked"),
    [
        ("perfect you're all set we'll see you tomorrow", True),
        ("okay the technician will be there tomorrow between 8 and 10", True),
        ("great i've booked you for friday at nine", True),
        ("you're confirmed for monday morning", True),
        ("let me have the office call you back to schedule", False),
        ("we're fully booked this week sorry", False),
        ("how much is it well it depends on the unit", False),
    ],
)
async def test_appointment_booked_when_the_agent_confirms_a_time(
    agent_says: str, booked: bool
) -> None:
    transcript = call(("caller", "my ac is not cooling can you come out"), ("agent", agent_says))
    assert (await analyze(transcript)).appointment_booked is booked


async def test_a_caller_asking_for_a_time_has_not_booked_one() -> None:
    transcript = text_only("can you come out tomorrow at nine my ac is not cooling")
    assert not (await analyze(transcript)).appointment_booked


@pytest.mark.parametrize(
    ("said", "urgency"),
    [
        ("theres water everywhere a pipe burst in the basement", Urgency.HIGH),
        ("we have no heat and a newborn can someone come as soon as possible", Urgency.HIGH),
        ("its an emergency the water heater is leaking", Urgency.HIGH),
        ("i need someone out today if you can", Urgency.HIGH),
        ("sometime this week would be fine for the tune up", Urgency.MEDIUM),
        ("no rush just thinking about replacing the furnace next year", Urgency.LOW),
    ],
)
async def test_urgency(said: str, urgency: Urgency) -> None:
    assert (await analyze(call(("caller", said)))).urgency is urgency


async def test_the_agents_greeting_does_not_make_a_call_urgent() -> None:
    transcript = text_only("how can i help you today hi id like a quote on a new furnace")
    assert (await analyze(transcript)).urgency is Urgency.LOW


@pytest.mark.parametrize(
    ("said", "sentiment"),
    [
        ("thats perfect thank you so much you guys are awesome", Sentiment.POSITIVE),
        ("this is ridiculous its the third time and im really frustrated", Sentiment.NEGATIVE),
        ("okay my furnace is making a noise can someone look at it", Sentiment.NEUTRAL),
    ],
)
async def test_sentiment(said: str, sentiment: Sentiment) -> None:
    assert (await analyze(call(("caller", said)))).sentiment is sentiment


async def test_a_missed_call_is_analysed_from_metadata() -> None:
    missed = CallMetadata(caller="+13035550142", duration_s=0, answered=False)
    analysis = await analyze(None, missed)
    assert analysis.intent is Intent.OTHER
    assert "Missed call" in analysis.summary
    assert "+13035550142" in analysis.summary
    assert not analysis.appointment_booked
    assert analysis.key_phrases == ()


async def test_a_missed_call_with_a_voicemail_flag_is_a_voicemail() -> None:
    analysis = await analyze(
        None, CallMetadata(caller="+13035550142", answered=False, voicemail=True)
    )
    assert analysis.intent is Intent.VOICEMAIL
    assert "Voicemail" in analysis.summary


async def test_an_empty_recording_is_other() -> None:
    analysis = await analyze(Transcript("whisper-tiny.en", "en-US", "  "))
    assert analysis.intent is Intent.OTHER
    assert analysis.summary == "No speech was recognised in the recording."


async def test_the_summary_is_short_and_shows_no_digits_around_a_marker() -> None:
    rambling = " ".join(["so um the furnace is making a clicking noise and then it stops"] * 40)
    transcript = call(
        ("agent", "comfort heating how can i help"),
        ("caller", rambling),
        ("caller", "my card is 41 [REDACTED CARD] 11 and it expires [REDACTED EXPIRY]"),
    )
    analysis = await analyze(transcript)
    assert len(analysis.summary) <= MAX_SUMMARY
    assert analysis.summary.endswith("\u2026")
    assert not re.search(r"[0-9]\s*\[REDACTED|\]\s*[0-9]", analysis.summary)
    card_only = await analyze(call(("caller", "its 41 [REDACTED CARD] 11 thanks")))
    assert "[REDACTED CARD]" in card_only.summary
    assert not re.search(r"[0-9]", card_only.summary)


async def test_key_phrases_are_at_most_eight() -> None:
    everything = call(
        (
            "caller",
            "my furnace stopped working no heat its an emergency the pipe burst and its leaking"
            " and flooding the basement i need a repair or a replacement right away today urgent"
            " how much for an estimate can i book a point meant asap",
        ),
        ("agent", "you're all set we'll see you tomorrow between 8 and 10 confirmed for 8"),
    )
    assert len((await analyze(everything)).key_phrases) == 8


async def test_the_same_call_gives_the_same_analysis() -> None:
    first = await RulesCallAnalyzer().analyze(NO_HEAT, ANSWERED, HVAC)
    second = await RulesCallAnalyzer().analyze(NO_HEAT, ANSWERED, HVAC)
    assert first == second


# --- the demo's calls, as Whisper tiny.en really wrote them ---------------------------------

DEMO = AiConfig(
    business_context="Acme Heating & Air: furnace and AC repair, installation and maintenance in"
    " Denver. A good lead needs a repair or a new system."
)


def mono(text: str) -> Transcript:
    """A one-channel demo call: Whisper's sentences, every one from speaker "1"."""
    sentences = re.findall(r"[^.?!]+[.?!]?", text)
    return Transcript(
        "whisper-tiny.en",
        "en-US",
        text,
        tuple(Segment("1", 3.0 * i, 3.0 * i + 2.5, s.strip()) for i, s in enumerate(sentences)),
    )


# Redacted, as the analyzer reads it: "pay my real" is "pay my bill", "Humber" is "number".
BILLING_CARD = mono(
    "I'm a customer and I'd like to pay my real. Sure, go ahead with the card, Humber. It's"
    " [REDACTED CARD] And the expiry date and secure ready code. [REDACTED EXPIRY] and secure"
    " ready code is [REDACTED CVV]. Thanks, your payment is complete."
)
PRICE_SHOPPER = mono(
    "I can be teething and there, how can I help you? Hi, how much do you charge to install a new"
    " water heater? It depends on the model, but most installs cost between 12 hundred and two"
    " thousand dollars. Okay, I'm just calling around to compare prices. I'll think about it,"
    " thanks. No problem, call us back anytime."
)
QUOTE_REQUEST = mono(
    "I'm a meeting and there this is Sam's speaking. Hi, I'd like a quote to replace my air"
    " conditioning unit. It is about 15 years old. Sure, we can send you a free estimate. What is"
    " the best email for you? My name is David Kim and my email is David Not Kim at Gmail.com."
    " Great. We will email your estimates by Friday."
)


async def test_the_demo_billing_call_is_an_existing_customer_paying_a_bill() -> None:
    analysis = await analyze(BILLING_CARD, ai=DEMO)
    assert analysis.intent is Intent.EXISTING_CUSTOMER
    assert analysis.is_existing_customer
    assert {"i'm a customer", "pay my"} <= set(analysis.key_phrases)
    assert not analysis.appointment_booked
    assert analysis.summary.startswith("Existing customer: ")


@pytest.mark.parametrize(
    "said",
    [
        "hi i'd like to pay my bill please",
        "yeah im a customer of yours and i had a question",
        "i need to make a payment on my account",
        "i'd like to pay my real",  # what tiny.en wrote for "pay my bill"
    ],
)
async def test_a_customer_paying_is_an_existing_customer_however_it_is_heard(said: str) -> None:
    analysis = await analyze(call(("caller", said)), ai=DEMO)
    assert analysis.intent is Intent.EXISTING_CUSTOMER


async def test_the_demo_price_shopper_asks_for_a_price_and_says_they_are_shopping() -> None:
    analysis = await analyze(PRICE_SHOPPER, ai=DEMO)
    assert analysis.intent is Intent.QUOTE_REQUEST
    assert {"calling around", "compare prices"} <= set(analysis.key_phrases)
    assert not analysis.appointment_booked
    assert analysis.service_requested == "water heater"


async def test_the_demo_quote_request_keeps_its_contact_details() -> None:
    analysis = await analyze(QUOTE_REQUEST, ai=DEMO)
    assert analysis.intent is Intent.QUOTE_REQUEST
    assert analysis.caller_name == "David Kim"
    assert analysis.caller_email == "david.kim@gmail.com"
    assert not any("calling around" in p or "prices" in p for p in analysis.key_phrases)


async def test_price_shopping_is_a_key_phrase_even_among_many() -> None:
    crowded = call(
        (
            "caller",
            "how much for an estimate on a new furnace its broken no heat its leaking an"
            " emergency asap right now i need a repair or a replacement today urgent and a"
            " price for the ac too im just calling around",
        ),
    )
    analysis = await analyze(crowded)
    assert len(analysis.key_phrases) == 8
    assert "calling around" in analysis.key_phrases
    assert analysis.key_phrases[-1] == "calling around", "still in the order they were said"


async def test_calling_around_for_help_today_is_not_a_quote_request() -> None:
    transcript = call(("caller", "my furnace is broken and we have no heat im calling around"))
    assert (await analyze(transcript)).intent is Intent.NEW_SERVICE_REQUEST


@pytest.mark.parametrize(
    ("heard", "words"),
    [
        ("I DON'T have heat!", " i don't have heat "),
        ("we\u2019ve got a leak", " we've got a leak "),  # the apostrophe ASR often writes
        ("'quoted' prices... 'n' ''", " quoted prices n "),  # quotes around words are not words
        ("rock''n''roll, 24/7", " rock''n''roll 24 7 "),
        ("", "  "),
    ],
)
def test_cues_are_matched_against_lower_case_words_and_inner_apostrophes(
    heard: str, words: str
) -> None:
    assert vocab.normal(heard) == words


async def test_a_cue_matches_only_as_whole_words_in_the_order_said() -> None:
    # "press one" alone settles spam: its words inside other words, or apart, are not it.
    for heard in ("please express one concern", "press the one button", "one press", "pressone"):
        analysis = await analyze(call(("caller", heard)), ai=NO_CONTEXT)
        assert analysis.intent is not Intent.SPAM, heard
    analysis = await analyze(call(("caller", "hello press one now")), ai=NO_CONTEXT)
    assert analysis.intent is Intent.SPAM
    assert "press one" in analysis.key_phrases


CLINIC = AiConfig(business_context="Riverbend Pediatric Dentistry: cleanings, sealants.")


async def test_a_patient_with_a_problem_at_a_clinic_wants_an_appointment() -> None:
    toothache = call(
        ("agent", "riverbend pediatric dentistry this is paula"),
        ("caller", "hi my son's tooth got knocked loose at soccer and it's bleeding a little"),
        ("agent", "oh no, can you bring him in at eleven"),
        ("caller", "yes we'll be there"),
    )
    assert (await analyze(toothache, ai=CLINIC)).intent is Intent.APPOINTMENT
    # the same words to a business that comes out to you are a service request
    leak = call(("caller", "hi my water heater is leaking all over the garage floor"))
    assert (await analyze(leak)).intent is Intent.NEW_SERVICE_REQUEST


@pytest.mark.parametrize(
    "said",
    [
        "hey it's rob your guys were supposed to come out this morning and nobody's here",
        "hi you guys put in our new furnace in october and it's making a clunking noise",
        "hi this is amy i have a tune up on thursday and i need to move it to next week",
        "yeah i'm on the annual plan and the filter thing is beeping again",
        "is my new thermostat coming in this week, the one we ordered",
    ],
)
async def test_an_existing_customer_is_heard_in_their_own_words(said: str) -> None:
    analysis = await analyze(call(("caller", said)))
    assert analysis.intent is Intent.EXISTING_CUSTOMER
    assert analysis.is_existing_customer


async def test_a_caller_who_is_not_a_patient_yet_is_not_an_existing_one() -> None:
    said = "hi my dog is limping badly, we're not clients there yet, can you see him today"
    vet = AiConfig(business_context="Hillside Veterinary Clinic: dogs and cats, urgent care.")
    analysis = await analyze(call(("caller", said)), ai=vet)
    assert analysis.intent is Intent.APPOINTMENT
    assert not analysis.is_existing_customer


@pytest.mark.parametrize(
    "said",
    [
        "hi i'm an hvac tech with eight years of experience, are you guys taking on anyone",
        "hey this is sam from johnstone supply, your order of condensers shipped today",
        "hi i'm a loan officer with lakeview lending, i'd love to be a preferred lender for you",
    ],
)
async def test_job_seekers_and_vendors_are_not_leads(said: str) -> None:
    assert (await analyze(call(("caller", said)))).intent is Intent.OTHER


async def test_a_caller_the_business_sends_elsewhere_is_not_a_lead() -> None:
    pool = call(
        ("caller", "hi do you guys fix pool heaters, ours quit"),
        ("agent", "sorry we don't work on pool equipment, you'd want to call a pool company"),
    )
    assert (await analyze(pool)).intent is Intent.OTHER


async def test_a_silent_caller_channel_is_not_a_lead() -> None:
    hangup = call(("agent", "denver comfort heating and air this is sarah, hello?"))
    analysis = await analyze(hangup)
    assert analysis.intent is Intent.OTHER
    assert analysis.service_requested is None


async def test_the_business_saying_who_it_is_not_settles_a_wrong_number() -> None:
    wrong = call(
        ("caller", "hi is this mountain view dental? i have an appointment at three"),
        ("agent", "no, this is denver comfort heating, you want mountain view dental"),
    )
    assert (await analyze(wrong)).intent is Intent.WRONG_NUMBER


@pytest.mark.parametrize(
    "said",
    [
        "my car slid into a ditch and i'm stuck, i need a tow",
        "the garage door won't close and i can't leave for work",
        "it's not an emergency but the ac is making a rattle",
    ],
)
async def test_urgency_of_a_stuck_caller_and_of_a_calm_one(said: str) -> None:
    urgency = (await analyze(call(("caller", said)))).urgency
    assert urgency is (Urgency.LOW if "not an emergency" in said else Urgency.HIGH)


async def test_a_message_from_a_job_seeker_or_an_insurer_is_not_a_voicemail_lead() -> None:
    for said in (
        "hi my name is dale i saw your posting on indeed for an hvac installer, call me back",
        "this is ann with keystone mutual claims regarding your client, date of loss may 2nd",
    ):
        assert (await analyze(call(("caller", said)), VOICEMAIL)).intent is Intent.OTHER


async def test_the_business_saying_what_it_is_not_is_a_wrong_number() -> None:
    pizza = call(
        ("caller", "yeah can i get two mediums with extra cheese for delivery"),
        ("agent", "ma'am this is not a pizza place, it's a heating company"),
    )
    assert (await analyze(pizza)).intent is Intent.WRONG_NUMBER


async def test_a_referral_by_someone_of_the_callers_is_no_standing_with_the_business() -> None:
    said = "hi my realtor gave me your number, the buyer wants the furnace inspected, how much"
    analysis = await analyze(call(("caller", said)))
    assert not analysis.is_existing_customer
    assert analysis.intent is Intent.QUOTE_REQUEST


async def test_a_price_asked_and_a_visit_booked_is_an_appointment_unless_an_estimate() -> None:
    shop = AiConfig(business_context="Corner Auto: oil changes, brakes, tires.")
    oil = call(
        ("caller", "how much is an oil change, and can i come in friday"),
        ("agent", "it's 49 99. friday at ten?"),
        ("caller", "yes"),
        ("agent", "great, see you friday at ten"),
    )
    assert (await analyze(oil, ai=shop)).intent is Intent.APPOINTMENT
    estimate = call(
        ("caller", "how much would a new furnace run us"),
        ("agent", "we do a free estimate, i can send the estimator friday at ten"),
        ("caller", "yes"),
        ("agent", "great, you're all set friday at ten"),
    )
    assert (await analyze(estimate)).intent is Intent.QUOTE_REQUEST


async def test_a_pay_per_job_lead_network_is_a_solicitation() -> None:
    said = (
        "hey this is mike with fixit leads, we run a call network and we send you jobs in your"
        " zip codes, you pay per job, no contract"
    )
    analysis = await analyze(call(("caller", said)))
    assert analysis.intent is Intent.SPAM
    assert analysis.is_spam


async def test_a_closed_offices_press_1_is_not_the_callers() -> None:
    message = call(
        ("agent", "our office is closed, leave your name and number. for emergencies press 1"),
        ("caller", "hi it's dora, i have a tune up on monday and i need to move it, call me back"),
    )
    analysis = await analyze(message, VOICEMAIL)
    assert analysis.intent is Intent.EXISTING_CUSTOMER
    assert not analysis.is_spam


@pytest.mark.parametrize(
    "pitch",
    [
        "hi this is dana with brightpath lending, we partner with hvac contractors to offer their"
        " homeowners financing, who would be the best person to talk to",
        "hey it's luke from citypages, i'm calling to verify the information for your listing in"
        " our directory, we're offering a featured placement this month",
        "hi this is jo from pixel forge, we build websites for contractors and yours isn't mobile"
        " friendly, can i send a free mockup",
    ],
)
async def test_a_pitch_to_the_business_is_spam_even_as_a_voicemail(pitch: str) -> None:
    greeting = ("agent", "you've reached denver comfort, please leave your name and number")
    for metadata in (ANSWERED, VOICEMAIL):
        analysis = await analyze(call(greeting, ("caller", pitch)), metadata)
        assert analysis.intent is Intent.SPAM, (metadata, pitch)


async def test_what_a_caller_says_about_the_address_is_not_part_of_it() -> None:
    said = "yeah it's brooks family 12 all one word at gmail dot com"
    assert (await analyze(call(("caller", said)))).caller_email == "brooksfamily12@gmail.com"


async def test_a_neighbours_job_is_not_the_callers() -> None:
    said = "my neighbor said y'all did his furnace, mine's making a grinding noise, can you come"
    analysis = await analyze(call(("caller", said)))
    assert analysis.intent is Intent.NEW_SERVICE_REQUEST
    assert not analysis.is_existing_customer


async def test_a_supplier_calling_about_the_business_order_is_not_a_customer() -> None:
    said = "hey it's nate over at the supply house, the condenser you ordered is backordered"
    assert (await analyze(call(("caller", said)))).intent is Intent.OTHER


async def test_a_firm_that_only_handles_another_kind_of_case_sends_the_caller_elsewhere() -> None:
    law = AiConfig(business_context="Pike Injury Law: car accidents and slip and fall.")
    divorce = call(
        ("caller", "hi i need to talk to somebody about a divorce, i got served papers"),
        ("agent", "i'm sorry, we only handle personal injury, try the lawyer referral line"),
    )
    assert (await analyze(divorce, ai=law)).intent is Intent.OTHER


async def test_a_price_asked_about_a_problem_then_booked_is_the_job() -> None:
    springs = call(
        ("caller", "my garage door won't open, i heard a bang, how much to fix the spring"),
        ("agent", "usually 250 to 350. i can have a tech there at eleven"),
        ("caller", "okay yes please"),
        ("agent", "you're all set for eleven"),
    )
    assert (await analyze(springs, ai=NO_CONTEXT)).intent is Intent.NEW_SERVICE_REQUEST


async def test_a_price_asked_at_a_clinic_with_nothing_booked_is_a_quote_request() -> None:
    said = call(
        ("caller", "how much is a cleaning and an exam without insurance"),
        ("agent", "it's 129 for new patients, would you like to schedule"),
        ("caller", "let me think about it, i'll call back"),
    )
    assert (await analyze(said, ai=CLINIC)).intent is Intent.QUOTE_REQUEST


async def test_a_bad_back_at_a_chiropractor_is_an_appointment() -> None:
    chiro = AiConfig(business_context="Spine Line Chiropractic: adjustments and massage.")
    said = "hi i threw my back out lifting a box and can barely stand, can you get me in"
    assert (await analyze(call(("caller", said)), ai=chiro)).intent is Intent.APPOINTMENT


ROOFER = AiConfig(business_context="High Plains Roofing: roof repair, replacement, inspections.")


@pytest.mark.parametrize(
    "said",
    [
        "hi we're selling our house, our realtor said the roof needs looking at, we close on the"
        " 28th and the lender wants an inspection",
        "we have a two week old and i think there's water coming through the ceiling",
        "our water bill doubled and now there's a stain on the ceiling by the chimney",
    ],
)
async def test_a_new_callers_own_life_is_no_standing_with_the_business(said: str) -> None:
    analysis = await analyze(call(("caller", said)), ai=ROOFER)
    assert not analysis.is_existing_customer
    assert analysis.intent in (Intent.NEW_SERVICE_REQUEST, Intent.APPOINTMENT)


@pytest.mark.parametrize(
    ("ai", "said"),
    [
        (AiConfig(business_context="Vega Realty: buyer's and listing agents."),
         "hi it's dana, we close on the 28th, has the title company sent the papers"),
        (AiConfig(business_context="Reyes Law: injury attorneys."),
         "hi i'm one of ms lindquist's clients, the mediation got moved"),
        (AiConfig(business_context="Greenway Lawn: weekly mowing and cleanups."),
         "hey it's tom, we're away in july, can you skip us until august"),
    ],
)  # fmt: skip
async def test_a_clients_own_words_at_the_business_they_belong_to(ai: AiConfig, said: str) -> None:
    assert (await analyze(call(("caller", said)), ai=ai)).intent is Intent.EXISTING_CUSTOMER


async def test_a_time_taken_by_saying_it_back_is_a_booking() -> None:
    echo = call(
        ("caller", "my furnace is making a loud bang when it starts"),
        ("agent", "i have monday at ten or wednesday at one"),
        ("caller", "wednesday at one"),
    )
    assert (await analyze(echo)).appointment_booked


@pytest.mark.parametrize(
    ("turns", "intent"),
    [
        ((("caller", "how much do you charge to snake a drain, ours is slow"),
          ("agent", "175 to 250"), ("caller", "okay i'll call around, thanks")),
         Intent.QUOTE_REQUEST),
        ((("caller", "we want to replace our old ac before summer"),
          ("agent", "we do a free estimate, i have friday at two"), ("caller", "friday works")),
         Intent.QUOTE_REQUEST),
        ((("caller", "what are y'all getting per square for a tear off"),
          ("agent", "four fifty to six fifty")),
         Intent.QUOTE_REQUEST),
        ((("caller", "do you guys fix sprinklers, water is bubbling up in the yard"),
          ("agent", "yes, tomorrow between eight and eleven"), ("caller", "great")),
         Intent.NEW_SERVICE_REQUEST),
    ],
)  # fmt: skip
async def test_what_the_caller_led_with_and_how_the_call_ended(
    turns: tuple[tuple[str, str], ...], intent: Intent
) -> None:
    assert (await analyze(call(*turns), ai=NO_CONTEXT)).intent is intent


@pytest.mark.parametrize(
    ("said", "intent"),
    [
        ("this is ray with the city of mesa building inspections, i'm at the site for the final"
         " and nobody's here", Intent.OTHER),
        ("hi this is nicole with review boost, we help practices get more five star google"
         " reviews, who's the best person to talk to", Intent.SPAM),
        ("this is denise with crestview property management, we're taking bids for landscape"
         " maintenance, please email me for the bid package", Intent.QUOTE_REQUEST),
    ],
)  # fmt: skip
async def test_inspectors_pitches_and_bids(said: str, intent: Intent) -> None:
    assert (await analyze(call(("caller", said)), ai=NO_CONTEXT)).intent is intent


async def test_a_business_that_sends_the_caller_to_another_company_has_no_lead() -> None:
    septic = call(
        ("caller", "hi i think my septic tank needs pumped, do you guys do that"),
        ("agent", "we don't do septic unfortunately, i'd call pierce county septic"),
    )
    assert (await analyze(septic)).intent is Intent.OTHER


@pytest.mark.parametrize(
    "turns",
    [
        (("caller", "my heater is out"), ("agent", "saturday at nine, you're confirmed")),
        (("caller", "my check engine light is flashing"), ("agent", "bring it in now"),
         ("caller", "okay i'm on my way")),
        (("caller", "i need a tune up"), ("agent", "thursday at 9 or at 1"), ("caller", "one")),
        (("caller", "water's coming through the ceiling"), ("agent", "what's the address"),
         ("caller", "902 elm"), ("agent", "okay loretta, thursday at 2")),
        (("caller", "my car won't start"), ("agent", "drop it off at seven thirty"),
         ("caller", "okay"), ("agent", "okay kenji see you at seven thirty")),
        (("caller", "a pipe burst in the basement"), ("agent", "a plumber can be there in about"
         " an hour"), ("caller", "yes please"), ("agent", "okay he's on his way")),
        (("caller", "half the house has no power"), ("agent", "our electrician can be there"
         " around 1 o'clock"), ("caller", "okay one o'clock thank you")),
    ],
)  # fmt: skip
async def test_bookings_confirmed_in_the_many_ways_people_say_them(
    turns: tuple[tuple[str, str], ...],
) -> None:
    assert (await analyze(call(*turns))).appointment_booked


async def test_a_price_per_unit_is_no_time_offered() -> None:
    botox = call(
        ("caller", "what's your price per unit for botox"),
        ("agent", "we're at 13 a unit"),
        ("caller", "okay i'll think about it"),
    )
    analysis = await analyze(botox, ai=CLINIC)
    assert not analysis.appointment_booked
    assert analysis.intent is Intent.QUOTE_REQUEST


@pytest.mark.parametrize(
    "said",
    [
        "i paid a company last spring to fix a leak and now it's leaking again",
        "mike from your company came out last week and gave us a quote, we're ready to do it",
    ],
)
async def test_another_companys_work_or_a_quote_had_makes_no_customer(said: str) -> None:
    assert not (await analyze(call(("caller", said)))).is_existing_customer


async def test_a_supplier_is_never_flagged_a_customer() -> None:
    said = "hi this is dan with ferguson supply, the part you ordered came in, it's on will call"
    analysis = await analyze(call(("caller", said)))
    assert analysis.intent is Intent.OTHER
    assert not analysis.is_existing_customer


async def test_a_utility_disconnection_scam_is_spam() -> None:
    said = (
        "this is the disconnection department, your account is past due and your service is"
        " scheduled to be disconnected in forty five minutes"
    )
    assert (await analyze(call(("caller", said)))).intent is Intent.SPAM


async def test_the_business_naming_the_place_the_caller_wanted_is_a_wrong_number() -> None:
    dog = call(
        ("caller", "hi i'm checking on my dog, she was getting her teeth cleaned today"),
        ("agent", "this is a dentist for people, you might be looking for the animal hospital"),
    )
    assert (await analyze(dog, ai=CLINIC)).intent is Intent.WRONG_NUMBER


async def test_a_staffing_agency_or_a_uniform_service_is_a_solicitation() -> None:
    for said in (
        "hi this is dana with talent partners, we're a staffing agency that places technicians"
        " with companies like yours, are you planning to grow this year",
        "hi my name's jess with pro wear uniform services, we'd like to drop off samples of our"
        " shirts and shop towels, who handles that for you",
    ):
        assert (await analyze(call(("caller", said)))).intent is Intent.SPAM, said


@pytest.mark.parametrize(
    "turns",
    [
        (("caller", "just getting prices on a new system"),
         ("agent", "do you want me to put you on the schedule for the free estimate i have"
          " thursday morning"),
         ("caller", "nah not yet let me talk to my wife first i'll call you back")),
        (("caller", "what does a new furnace run installed"),
         ("agent", "most installs land somewhere between four and nine thousand"),
         ("caller", "yeah i'm getting a few prices")),
        (("caller", "ballpark for a three ton system"),
         ("agent", "you're usually looking somewhere around eight to twelve"),
         ("caller", "okay so about the same")),
    ],
)  # fmt: skip
async def test_an_offer_turned_down_or_a_price_range_is_no_booking(
    turns: tuple[tuple[str, str], ...],
) -> None:
    assert not (await analyze(call(*turns))).appointment_booked


async def test_a_no_to_a_question_about_insurance_is_not_a_wrong_number() -> None:
    consult = call(
        ("agent", "sonoran glow med spa this is mackenzie"),
        ("caller", "hi i'm calling about the weight loss injections how does that work"),
        ("agent", "you come in for a consultation and the program is three ninety nine a month"),
        ("caller", "is that covered by insurance at all"),
        ("agent", "no it's self pay"),
        ("caller", "okay yeah i think i want to do the consult"),
        ("agent", "great i have wednesday at four or thursday at nine"),
        ("caller", "um thursday at nine"),
        ("agent", "you're all set thursday at nine"),
    )
    analysis = await analyze(consult, ai=CLINIC)
    assert analysis.intent is Intent.APPOINTMENT
    assert analysis.appointment_booked


async def test_an_inspection_by_the_health_department_is_not_a_booking_with_the_business() -> None:
    roaches = call(
        ("caller", "we found cockroaches in the kitchen and we have a health inspection next"
         " week i need someone right away"),
        ("agent", "okay i can have a tech there tomorrow morning at 7"),
        ("caller", "yes do it"),
    )  # fmt: skip
    analysis = await analyze(roaches, ai=AiConfig(business_context="Sentinel Pest Solutions"))
    assert not analysis.is_existing_customer
    assert analysis.appointment_booked


async def test_work_done_there_before_makes_an_existing_customer() -> None:
    brakes = call(
        ("caller", "yeah i had my brakes done there last week and they're grinding worse now"),
        ("agent", "let's get it back in and look at it"),
    )
    analysis = await analyze(brakes, ai=AiConfig(business_context="Delgado's Auto Care"))
    assert analysis.is_existing_customer
    assert analysis.intent is Intent.EXISTING_CUSTOMER


async def test_an_address_said_before_the_name_is_not_the_name() -> None:
    emergency = call(
        ("agent", "what's the address and your name"),
        (
            "caller",
            "2205 oberlin road, apartment, no it's a house sorry. and it's marcus. marcus lee",
        ),
    )
    assert (await analyze(emergency)).caller_name == "Marcus Lee"


async def test_the_business_triage_says_urgent_and_come_straight_in_is_a_booking() -> None:
    vet = AiConfig(business_context="Maple Street Animal Clinic: exams, vaccines and surgery.")
    found = await analyze(
        call(
            ("agent", "maple street animal clinic"),
            ("caller", "hi my puppy chewed up a bottle of ibuprofen, like a few pills are gone"),
            ("agent", "that's an emergency, please bring him straight in, we'll have a room ready"),
            ("caller", "okay i'll leave now, we're ten minutes away"),
        ),
        ai=vet,
    )

    assert found.urgency is Urgency.HIGH
    assert found.appointment_booked


@pytest.mark.parametrize(
    "agent",
    [
        "thanks for calling, if this is an emergency please hang up and dial 911, how can i help",
        "dr lee is not in right now but i can take a message for her",
        "okay and is the drip at the top of the tank or down by the valve",
    ],
)
async def test_the_business_greeting_or_questions_are_no_triage(agent: str) -> None:
    found = await analyze(
        call(
            ("caller", "hi, i'd like to get a quote on a new water heater, sometime next month"),
            ("agent", agent),
            ("caller", "okay, no rush"),
        )
    )

    assert found.urgency is Urgency.LOW


@pytest.mark.parametrize(
    "said",
    [
        "it's lennox, lennox furnace, about ten years old, and it won't light",
        "it's rheem, rheem water heater, leaking from the bottom",
        "it's goodman, goodman heat pump, making a grinding noise",
    ],
)
async def test_a_brand_said_twice_is_no_name(said: str) -> None:
    found = await analyze(call(("agent", "denver comfort how can i help"), ("caller", said)))

    assert found.caller_name is None


@pytest.mark.parametrize(
    "reply",
    [
        "okay i'm leaving now for work so just call my cell",
        "okay let me think about it, maybe i'll bring it in next month",
    ],
)
async def test_a_caller_leaving_for_work_or_maybe_bringing_it_in_has_booked_nothing(
    reply: str,
) -> None:
    found = await analyze(
        call(
            ("agent", "denver comfort how can i help"),
            ("caller", "hi my furnace is making a noise, how much would a repair be"),
            ("agent", "it depends, we can call you back with a price"),
            ("caller", reply),
        )
    )

    assert not found.appointment_booked


async def test_a_name_said_twice_and_a_name_after_a_pets_is_the_callers() -> None:
    twice = await analyze(
        call(("agent", "what can we do for you"), ("caller", "it's maya, maya ortiz, my ac quit"))
    )
    after_the_pet = await analyze(
        call(
            ("agent", "and what's his name and your name"),
            ("caller", "he's rocket and i'm dev patel"),
        )
    )

    assert twice.caller_name == "Maya Ortiz"
    assert after_the_pet.caller_name == "Dev Patel"


async def test_a_letter_made_clear_with_as_in_is_one_letter_of_the_address() -> None:
    found = await analyze(
        call(
            ("agent", "and an email"), ("caller", "sure it's k as in kilo, l e e at gmail dot com")
        )
    )

    assert found.caller_email == "klee@gmail.com"


async def test_a_time_then_a_day_read_back_by_the_business_is_a_booking() -> None:
    found = await analyze(
        call(
            ("agent", "we have some openings later this week"),
            ("caller", "could somebody come after 2 on friday"),
            ("agent", "sure, 2 30 friday then"),
        )
    )

    assert found.appointment_booked


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ("Volt Brothers Electric: panels, wiring and lighting.", "hi it's lena, the lights in"
         " the whole back of the house keep cutting out, can someone call me back"),
        ("Harbor Realty: buyer's and listing agents.", "hi it's sam from the open house saturday,"
         " we'd like to put in an offer on the maple street one, please call me"),
    ],
)  # fmt: skip
async def test_a_voicemail_that_asks_for_a_job_is_a_service_request(
    context: str, message: str
) -> None:
    found = await analyze(call(("caller", message)), VOICEMAIL, AiConfig(business_context=context))

    assert found.intent is Intent.NEW_SERVICE_REQUEST


async def test_a_company_domain_in_several_words_is_read_and_the_businesss_own_is_not() -> None:
    given = await analyze(
        call(
            ("agent", "and an email for the invoice"), ("caller", "tom at pine hill homes dot com")
        )
    )
    repeated = await analyze(
        call(
            ("agent", "send your resume to hiring at denver comfort dot com"),
            ("caller", "hiring at denver comfort dot com, okay, thanks"),
        )
    )

    assert given.caller_email == "tom@pinehillhomes.com"
    assert repeated.caller_email is None


@pytest.mark.parametrize(
    "pitch",
    [
        "hi is this the owner? i was searching plumbers in boise and you guys aren't showing up"
        " in the top three, we help contractors fix that",
        "hi this is the local rep calling about the processing rates on your card machine, who"
        " looks at your statements",
        "hi is this one of the partners? i have buyers who are interested in acquiring firms"
        " your size",
    ],
)
async def test_a_caller_selling_to_the_business_is_spam(pitch: str) -> None:
    found = await analyze(call(("agent", "good morning"), ("caller", pitch)))

    assert found.intent is Intent.SPAM


@pytest.mark.parametrize(
    "said",
    [
        "hi my ac quit and i called two other contractors and they keep not showing up, can"
        " somebody come out today",
        "yeah the furnace made a pop and now it won't turn on, i already tried two other hvac"
        " contractors",
        "hi there was a pop in the breaker box and now your machine, the heat pump you put in,"
        " isn't running",
        "hi i'm calling about your statements, i got charged twice for the tune up",
    ],
)
async def test_a_customer_naming_other_contractors_or_a_pop_is_no_solicitation(said: str) -> None:
    found = await analyze(call(("agent", "denver comfort how can i help"), ("caller", said)))

    assert found.intent is not Intent.SPAM


async def test_a_caller_answering_a_job_post_is_no_lead() -> None:
    said = "hi i saw you posted for a helper on facebook, i've done drywall for five years"
    found = await analyze(call(("agent", "good morning"), ("caller", said)))

    assert found.intent is Intent.OTHER


async def test_a_customer_asking_about_a_price_the_business_posted_is_no_job_seeker() -> None:
    said = "hi the price you guys posted for a new furnace, is that with the install"
    found = await analyze(call(("agent", "denver comfort how can i help"), ("caller", said)))

    assert found.intent is Intent.QUOTE_REQUEST


async def test_a_lead_seller_who_opens_like_a_customer_is_spam_and_never_qualifies() -> None:
    found = await analyze(
        call(
            ("agent", "denver comfort"),
            ("caller", "hey yeah i've got a bunch of homes that need new furnaces over in aurora"),
            ("agent", "okay is one of them yours"),
            ("caller", "no so we door knock and sell them to hvac guys, 90 a pop, you doing any"
                       " replacements right now"),
        )
    )  # fmt: skip

    assert found.intent is Intent.SPAM


async def test_the_word_email_before_a_spoken_address_is_not_part_of_it() -> None:
    found = await analyze(
        call(("caller", "call me after five or email t reyes 77 at gmail dot com thanks")),
        VOICEMAIL,
    )

    assert found.caller_email == "treyes77@gmail.com"
