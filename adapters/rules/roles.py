"""Who said what: the business's side of a call and the caller's, as turns in the order said.

A stereo recording labels its channels "agent" and "caller". Whisper on one channel ("1") and
diarization ("1", "2") do not say which voice is the business's, so each sentence is given to
the side whose way of speaking it has: the business greets with its own name, asks for the
caller's name and email, offers and confirms times ("we can get someone out today", "you're
all set"). A sentence with neither side's marks continues the last speaker's turn, unless the
sentence before it was the other side's question, which this one answers.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import NamedTuple

from adapters.rules import vocabulary as vocab
from domain.results import Segment

AGENT, CALLER = "agent", "caller"
_SENTENCE = re.compile(r"(?:[^.?!]|[.?!](?=\S))+[.?!]*")  # "gmail.com" is no sentence end


class Turn(NamedTuple):
    role: str
    text: str  # as said, punctuation and case kept
    heard: str  # vocab.normal(text)


def turns(segments: Sequence[Segment], full: str, business: frozenset[str]) -> list[Turn]:
    labelled = [s for s in segments if s.speaker.strip().lower() in (AGENT, CALLER)]
    if segments and len(labelled) == len(segments):
        return [_turn(s.speaker.strip().lower(), s.text) for s in segments]
    sentences = [
        m.group().strip()
        for unit in ([s.text for s in segments] or [full])
        for m in _SENTENCE.finditer(unit)
        if m.group().strip()
    ]
    found: list[Turn] = []
    for sentence in sentences:
        heard = vocab.normal(sentence)
        if agent_voice(heard, business):
            role = AGENT
        elif found and found[-1].text.endswith("?") and found[-1].role == CALLER:
            role = AGENT  # the answer to the caller's question
        else:
            role = CALLER
        found.append(Turn(role, sentence, heard))
    return found


def _turn(role: str, text: str) -> Turn:
    return Turn(role, text, vocab.normal(text))


def agent_voice(heard: str, business: frozenset[str]) -> bool:
    """The business speaking: its name, or what only the business asks or promises."""
    if any(f" {m} " in heard for m in vocab.AGENT_MARKERS):
        return True
    if " we have " in heard and vocab.TIME_OFFER.search(heard):
        return True  # "we have thursday at 4"
    said = set(heard.split())
    return len(business) >= 2 and len(business & said) >= min(len(business), 2)


@functools.lru_cache(maxsize=256)  # a tenant's context, read again for every call
def business_name(business_context: str) -> frozenset[str]:
    """The distinctive words of the business's name: the context's opening words up to the
    first ':' ',' or ' is ' ("Peak Comfort Heating and Air: furnace repair..." gives peak,
    comfort, heating, air)."""
    head = re.split(r"[:,;.(\n]| is | are | - ", business_context, maxsplit=1)[0]
    if len(head.split()) > 6:
        return frozenset()
    return frozenset(w for w in vocab.normal(head).split() if w not in vocab.CONTEXT_STOPWORDS)
