"""The words behind the rules analyzer's findings: for each signal, the phrases it matched,
found again in the transcript (domain.evidence) with a few words around them and the time they
were said. What it decides is not changed here; this only says where it heard it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from domain.evidence import first_located, locate
from domain.results import Evidence, Transcript

CONTEXT_WORDS = 3


def cited(transcript: Transcript, matched: Mapping[str, Sequence[str]]) -> tuple[Evidence, ...]:
    """The earliest-said matched phrase of each signal that the transcript holds."""
    found = []
    for signal, phrases in matched.items():
        evidence = first_located(
            transcript, _real(phrases), signal=signal, context_words=CONTEXT_WORDS, open_end=True
        )
        if evidence is not None:
            found.append(evidence)
    return tuple(found)


def name_evidence(transcript: Transcript, name: str | None) -> Evidence | None:
    """Where the caller said their name: the whole of it, else its first word."""
    if not name:
        return None
    for said in (name, name.split()[0]):
        found = locate(transcript, said, signal="caller_name", context_words=CONTEXT_WORDS)
        if found is not None:
            return found
    return None


def email_evidence(transcript: Transcript, email: str | None) -> Evidence | None:
    """Where the caller gave their address: written, spelled out ("j smith at gmail dot com"),
    else the "at gmail" it turns on, with the words around it."""
    if not email or "@" not in email:
        return None
    local, domain = email.split("@", 1)
    spoken = f"{local.replace('.', ' dot ')} at {domain.replace('.', ' dot ')}"
    label = domain.split(".")[0]
    # "at g mail", "at i cloud": the provider's name as speech recognition splits it
    split = [f"at {label[:k]} {label[k:]}" for k in range(1, len(label))]
    # a company's domain said in words ("at bayside realty group dot com"): its ending
    ending = f"dot {domain.rsplit('.', 1)[-1]}"
    candidates = [
        (email, 0), (spoken, 0), (f"at {label}", 4), *((s, 4) for s in split),
        (f"{local.replace('.', ' dot ')} at", 6), (ending, 6),
    ]  # fmt: skip
    for said, context in candidates:
        found = locate(transcript, said, signal="caller_email", context_words=context)
        if found is not None:
            return found
    return None


def _real(phrases: Iterable[str]) -> list[str]:
    """Phrases as said: "comparing prices (a few quotes)" was said as "a few quotes"."""
    out = []
    for phrase in phrases:
        if phrase.endswith(")") and "(" in phrase:
            phrase = phrase[phrase.index("(") + 1 : -1]
        out.append(phrase)
    return out
