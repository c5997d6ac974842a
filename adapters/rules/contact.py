"""Who called: the caller's name and email address, as ASR writes them when spoken.

An email is read written ("jsmith@yahoo.com") or spoken ("john dot smith at gmail dot com",
"bob at sign outlook dot com"). Whisper often hears "dot" as "not": "David Not Kim at Gmail.com"
is read as david.kim@gmail.com. "not" is taken for "dot" only between two words that could be
part of an address (neither is a stop word such as "i", "is" or "it's") right before "at" and a
known domain, or between a domain name and its ending; a sentence that says "not" there and is
no email address would also need a mail domain right after it, which prose does not have.
"""

from __future__ import annotations

import re

from adapters.rules import vocabulary as vocab

_LITERAL_EMAIL = re.compile(r"[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}")
_SPOKEN_EMAIL = re.compile(
    r"\b((?:[a-z0-9]+ (?:dot|period|underscore|dash|hyphen) )*[a-z0-9]+) at "
    rf"((?:[a-z0-9]+(?: (?:dash|hyphen) [a-z0-9]+)* dot )+(?:{'|'.join(vocab.EMAIL_DOMAINS)}))\b"
)
_LOCAL_NOT = re.compile(r" ([a-z0-9]+) not (?=([a-z0-9]+) at [a-z0-9])")
_TLD_NOT = re.compile(rf" at ([a-z0-9]+) not ({'|'.join(vocab.EMAIL_DOMAINS)}) ")


def _dot_for_not(match: re.Match[str]) -> str:
    """In "david not kim at", "not" is "dot" misheard, unless a word beside it is prose."""
    left, right = match.groups()
    if left in vocab.NAME_STOPWORDS or right in vocab.NAME_STOPWORDS:
        return match.group()
    return f" {left} dot "


def caller_name(text: str) -> str | None:
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


def caller_email(text: str) -> str | None:
    literal = _LITERAL_EMAIL.search(text.lower())
    if literal:
        return literal.group()
    spoken = re.sub(r"(?<=[a-z0-9])\.(?=[a-z0-9])", " dot ", text.lower()).replace("@", " at ")
    spoken = vocab.normal(spoken)
    for sound, written in vocab.EMAIL_SOUNDS.items():
        spoken = spoken.replace(f" {sound} ", f" {written} ")
    spoken = _TLD_NOT.sub(r" at \1 dot \2 ", _LOCAL_NOT.sub(_dot_for_not, spoken))
    match = _SPOKEN_EMAIL.search(spoken)
    if match is None:
        return None
    local = "".join(vocab.EMAIL_SEPARATORS.get(w, w) for w in match.group(1).split())
    before = spoken[: match.start()].split()[-5:]
    if "is" in before and " dot " not in match.group(1):  # "my email is john smith at ..."
        run = [w for w in before[before.index("is") + 1 :] if w not in ("um", "uh")]
        if run and all(w.isalnum() and w not in vocab.NAME_STOPWORDS for w in run):
            local = "".join(run) + local
    if local in vocab.NAME_STOPWORDS:
        return None  # "it's not at gmail dot com", "send it to me at ...": prose, no address
    domain = "".join(vocab.EMAIL_SEPARATORS.get(w, w) for w in match.group(2).split())
    return f"{local}@{domain}"
