"""Who called: the caller's name and email address, as ASR writes them when spoken.

A name is what the caller says after "my name is", "this is" or "it's" ("hi this is mike
calling"), or the whole of the caller's answer to the business's "can I get your name?". Words
that cannot be a name stop it: common words, contractions ("we're"), -ing words ("Running into
the same issue" is no Mr Running), letters spelling the name out ("omar, o m a r, haddad").

An email is read written ("jsmith@yahoo.com") or spoken ("john dot smith at gmail dot com",
"g palmer 76 at yahoo dot com"). The address is the run of words before "at" and a mail
domain, back to where the caller's sentence starts or to a word that cannot be part of one
("my email is", "it's", "send it to"); a run that reaches further back than three words is not
trusted, and neither is a number said as a word: no address is better than a wrong one.
Whisper often hears "dot" as "not": "David Not Kim at Gmail.com" is david.kim@gmail.com when
the words beside "not" could be part of an address.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

from adapters.rules import vocabulary as vocab
from adapters.rules.roles import AGENT, CALLER, Turn

# A full stop that ends a sentence: a space after it ("j.smith" is an address) and a word
# before it ("j. smith at gmail" spells an initial).
_SENTENCE_END = re.compile(r"(?<=\w\w)[.?!]+(?:\s+|$)")
_LITERAL_EMAIL = re.compile(r"[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}")
_DOMAIN = re.compile(  # a company's domain in up to four words: "at bella rose events dot com"
    rf" at ((?:(?!(?:the|a|my|our|your|home|work) )[a-z0-9]+(?: (?:dash|hyphen) [a-z0-9]+"
    rf"| [a-z0-9]+){{0,3}} dot )+(?:{'|'.join(vocab.EMAIL_DOMAINS)})"
    rf"|{'|'.join(vocab.MAIL_PROVIDERS)}) "
)
_LOCAL_NOT = re.compile(r" ([a-z0-9]+) not (?=([a-z0-9]+) at [a-z0-9])")
_TLD_NOT = re.compile(rf" at ([a-z0-9]+) not ({'|'.join(vocab.EMAIL_DOMAINS)}) ")
_CONTRACTION = re.compile(r"'(?:re|m|d|ll|ve|s|t)$")
MAX_LOCAL_WORDS = 3
_DIGIT_WORDS = {
    w: str(d)
    for d, w in enumerate(
        ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
    )
}
_THE_NUMBER = re.compile(rf" (?:the )?number (?=(?:{'|'.join(_DIGIT_WORDS)}|[0-9]+) )")
_AS_IN = re.compile(r"(?<= [a-z]) as in [a-z]+(?= )")  # a letter made clear
_LETTER_COUNT = re.compile(r"^[a-z]'?s$")  # "two gs", "double s's"


def caller_name(turns: Sequence[Turn]) -> str | None:
    asked = False
    for n, turn in enumerate(turns):
        if turn.role == AGENT:
            asked = any(f" {q} " in turn.heard for q in vocab.NAME_QUESTIONS)
            continue
        clauses = re.split(r"[,.;!?]", turn.text)  # "this is ted, a tree fell": Ted
        for clause, then in itertools.zip_longest(clauses, clauses[1:], fillvalue=""):
            words = vocab.normal(clause).split()
            name = _introduced(words) or (_answered(words) if asked else None)
            if name is None and not _maybe_named(words):
                continue
            again = _answer(vocab.normal(then).split())
            if name is None and _named_again(words, again):
                return again  # "it's chris, chris dalton": no "it's cold" says a name twice
            if name:  # "it's terrence. terrence wilkes": the name said again, in full
                if again and _named_again([name.lower()], again):
                    return again
                return _with_last_name(name, turns[n + 1 : n + 3])
        asked = False
    return None


def _maybe_named(words: list[str]) -> bool:
    """A clause that may be a name the next one says in full: "chris", "it's chris"."""
    if not words or len(words) > 2 or (len(words) == 2 and words[0] not in ("it's", "its")):
        return False
    return _could_be_name(words[-1])


# What a brand said twice goes on to name: "it's lennox, lennox furnace" is no caller's name.
_THINGS = (
    frozenset(
        word for trade in vocab.TRADES.values() for phrase in trade for word in phrase.split()
    )
    | vocab.SERVICE_WORDS
    | {"brand", "unit", "system", "model"}
)


def _named_again(words: list[str], again: str | None) -> bool:
    """The clause "it's chris" (or just a name) and the next the name in full: "chris
    dalton", or a short name's long form, "don" then "donald ferguson"."""
    if again is None or " " not in again or not _maybe_named(words):
        return False
    first, *rest = again.lower().split()
    return first.startswith(words[-1]) and not _THINGS.intersection(rest)


def _answered(words: list[str]) -> str | None:
    """The answer to "your name?", or a name the answer introduces: "her name's pixie and
    i'm jordan kline"."""
    for k in range(len(words) - 1, 0, -1):
        if words[k] in ("i'm", "im") and words[k - 1] == "and":
            return _answer(words[k + 1 :]) or _answer(words)
    return _answer(words)


def _with_last_name(name: str, after: Sequence[Turn]) -> str:
    """ "tom" - "and last name, tom?" - "oh, harjo, h a r j o": Tom Harjo."""
    if " " in name or len(after) < 2 or (after[0].role, after[1].role) != (AGENT, CALLER):
        return name
    if " last name " not in after[0].heard:
        return name
    last = _answer(after[1].heard.split())
    if last is None or " " in last:
        return last if last and last.startswith(f"{name} ") else name
    return f"{name} {last}"


def _introduced(words: list[str]) -> str | None:
    for cue in vocab.NAME_CUES:
        size = len(cue.split())
        for i in range(len(words) - size):
            if " ".join(words[i : i + size]) == cue and (name := _name_at(words, i, size, cue)):
                return name
    return None


def _answer(words: list[str]) -> str | None:
    """The caller's answer to "what's your name?": "karen mills", "yeah it's dave"."""
    j = 0
    while j < len(words) and words[j] in vocab.ANSWER_OPENERS:
        j += 1
    name, j = _name_words(words, j)
    return _title(name) if name and len(words) - j <= 2 else None


def _name_words(words: list[str], j: int) -> tuple[list[str], int]:
    name: list[str] = []
    while j < len(words) and len(name) < 2:
        word = words[j]
        if name and len(word) == 1:  # "omar o m a r haddad": the name spelled out
            while j < len(words) and len(words[j]) == 1:
                j += 1
            continue
        if name and (word in ("um", "uh", "er") or word == name[0]):
            j += 1  # "janet uh janet kaminski", "robert robert kline"
            continue
        if not _could_be_name(word) or (not name and word.endswith("ing") and len(word) >= 5):
            break  # "running into the same issue", "icing up again": no name
        name.append(word)
        j += 1
    return name, j


def _could_be_name(word: str) -> bool:
    if _CONTRACTION.search(word):
        return False
    bare = word.replace("'", "")
    return (
        bare.isalpha()
        and len(bare) >= 2
        and bare not in vocab.NAME_STOPWORDS
        and not (bare.endswith("ed") and len(bare) > 5)  # "this is robert i slipped"
    )


def _title(name: list[str]) -> str:
    return " ".join(w.replace("'", "").capitalize() for w in name)


def _name_at(words: list[str], i: int, size: int, cue: str) -> str | None:
    j = i + size
    while j < len(words) and words[j] in ("um", "uh", "er"):
        j += 1
    name, j = _name_words(words, j)
    after = words[j] if j < len(words) else ""
    before = " ".join(words[max(i - 8, 0) : i])
    if not name or any(g in before for g in vocab.AGENT_GREETINGS[:2]):
        return None
    if after.isdigit() or after in ("at", *vocab.EMAIL_SEPARATORS):
        return None  # "it's hernandez family 5 at gmail": an email address
    hello = ("hi", "hello", "hey", "yeah", "yes", "oh")
    # "hi tom it's jen morales": the caller greets the agent by name, then gives their own
    greeted = i > 0 and (
        words[i - 1] in hello or (i > 1 and words[i - 2] in hello and _could_be_name(words[i - 1]))
    )
    if cue in ("it's", "its") and not greeted and after not in ("calling", "here", "again"):
        return None
    if (
        cue == "this is"
        and not greeted
        and after not in ("calling", "from", "with", "here", "i", "and", "")
    ):
        return None
    ahead = " ".join(words[j : j + 6])
    if any(g in ahead for g in vocab.AGENT_GREETINGS[2:]):
        return None  # "hi this is sarah how can i help you": the agent's own name
    return _title(name)


def caller_email(turns: Sequence[Turn]) -> str | None:
    """The first address a caller spells out, read one sentence at a time: in "ava sorensen.
    a sorensen at gmail dot com" the name said before the full stop is not the address's. One
    the business said first is its own, the caller repeating it."""
    theirs: set[str] = set()  # the business's own, that a caller repeats ("jobs at ...")
    for turn in turns:
        for sentence in _SENTENCE_END.split(turn.text):
            email = _email(sentence)
            if email is None:
                continue
            if turn.role != CALLER:
                theirs.add(email)
            elif email not in theirs:
                return email
    return None


def _email(text: str) -> str | None:
    lowered = text.lower()
    if "@" not in lowered and " at " not in lowered:
        return None  # most sentences: nothing to read
    literal = _LITERAL_EMAIL.search(lowered)
    if literal:
        return literal.group()
    spoken = re.sub(r"(?<=[a-z0-9])\.(?=[a-z0-9])", " dot ", lowered).replace("@", " at ")
    spoken = vocab.normal(spoken)
    for sound, written in vocab.EMAIL_SOUNDS.items():
        spoken = spoken.replace(f" {sound} ", f" {written} ")
    spoken = _THE_NUMBER.sub(" ", spoken)  # "melissa grant the number one at gmail"
    spoken = _AS_IN.sub(" ", spoken)  # "d as in david, m a r q u e z": the letter is d
    spoken = _TLD_NOT.sub(r" at \1 dot \2 ", _LOCAL_NOT.sub(_dot_for_not, spoken))
    match = _DOMAIN.search(spoken)
    if match is None:
        return None
    local = _local_part(spoken[: match.start()].split())
    if not local:
        return None
    domain = "".join(vocab.EMAIL_SEPARATORS.get(w, w) for w in match.group(1).split())
    if domain in vocab.MAIL_PROVIDERS:
        domain += ".com"
    return f"{local}@{domain}"


def _local_part(before: list[str]) -> str | None:
    """The address's words, read back from "at" to where they start; None when unsure."""
    run: list[str] = []
    anchored = True  # the sentence starts with the address
    for k in range(len(before) - 1, -1, -1):
        word = before[k]
        joined = bool(run) and run[0] in vocab.EMAIL_SEPARATORS
        if word in vocab.EMAIL_SEPARATORS and run and not joined:
            run.insert(0, word)
            continue
        if word in ("um", "uh"):
            continue  # "r o b dot m e y e r s um at yahoo"
        if word in _DIGIT_WORDS and (not run or run[0].isdigit()):
            run.insert(0, _DIGIT_WORDS[word])  # "m a r k t eight two at": markt82
            continue
        if _LETTER_COUNT.match(word) and k and before[k - 1] in ("two", "double"):
            break  # "greg with two gs, g r e g g": what is said about the letters, not one
        if len(word) == 1 and k > 1 and before[k - 2 : k] in (["with", "a"], ["with", "an"]):
            break  # "sofia with an f, s o f i a": the letter describes the name
        if (
            not word.isalnum()
            or word in ("email", "mail", "address")  # "or email brenda s 1965 at yahoo"
            or (word in vocab.NAME_STOPWORDS and len(word) > 1 and not joined)
        ):
            anchored = word in vocab.EMAIL_ANCHORS
            break
        if word in vocab.NUMBER_WORDS:
            return None
        run.insert(0, word)
    if not run or run[0] in vocab.EMAIL_SEPARATORS:
        return None
    words = sum(1 for w in run if len(w) > 1 and w not in vocab.EMAIL_SEPARATORS)
    if words > MAX_LOCAL_WORDS or (words > 1 and not anchored and "dot" not in run):
        return None
    local = "".join(vocab.EMAIL_SEPARATORS.get(w, w) for w in _spelled_once(run))
    return _said_twice(local) if any(len(w) == 1 for w in run) else local


def _said_twice(local: str) -> str:
    """ "kelly dot roach k e l l y dot r o a c h": an address said, then spelled whole, reads
    twice over; once is the address. Only where letters were spelled."""
    for size in range(len(local) // 2, 2, -1):
        if local[:size] == local[size : 2 * size]:
            return local[size:]
    return local


def _spelled_once(run: list[str]) -> list[str]:
    """A word and its spelling are said once in the address: "okafor o k a f o r",
    "t o m a s z dot k" after "tomasz"."""
    kept: list[str] = []
    i = 0
    while i < len(run):
        word, size = run[i], len(run[i])
        letters = "".join(itertools.takewhile(lambda w: len(w) == 1, run[i + 1 :]))
        if size > 1 and "".join(run[i + 1 : i + 1 + size]) == word:
            i += size  # the spelling after the word
        elif size > 1 and len(kept) >= size and "".join(kept[-size:]) == word:
            del kept[-size:]  # the spelling before it
        elif size > 1 and len(letters) > size and letters.endswith(word):
            # "bob and june b o b a n d j u n e", "b cole b c o l e": the letters spell it
            # all, the word and what was said just before it
            head, j, said = letters[:-size], len(kept), ""
            while j > 0 and len(said) < len(head):
                j -= 1
                said = kept[j] + said
            if said == head:
                del kept[j:]
            i += 1
            continue
        kept.append(word)
        i += 1
    return kept


def _dot_for_not(match: re.Match[str]) -> str:
    """In "david not kim at", "not" is "dot" misheard, unless a word beside it is prose."""
    left, right = match.groups()
    if left in vocab.NAME_STOPWORDS or right in vocab.NAME_STOPWORDS:
        return match.group()
    return f" {left} dot "
