"""What a speech recogniser may be told about a tenant's calls before it hears them: the
business's name and the trade words of its `business_context`, so "Peak Comfort Heating and Air"
is not heard as "me comfort eating and there".

Only the tenant's own words go in, and of them only names and trade words: no sentence of the
context (it may carry scoring instructions), no number, e-mail address or web address, and
never text from any call's transcript.
"""

from __future__ import annotations

import re

import attrs

from domain.tenant import Tenant

MAX_WORDS = 12  # Whisper's prompt is short: a long one crowds out the call's own words
_ASIDE = re.compile(r"\s*[(\[][^)\]]*[)\]]")  # "Acme Heating & Air (demo)"
_WORD = re.compile(r"[A-Za-z][A-Za-z'&-]*[A-Za-z]|[A-Za-z]")
_NOT_A_WORD = re.compile(r"\S*(?:@|://|www\.|\.com\b|\d)\S*")  # e-mails, URLs, numbers
# Function words, and the words a business context uses to describe its leads rather than
# its trade: none helps a recogniser hear a business's calls.
_COMMON = frozenset(
    str.split(
        """a an the and or but nor of in on at to for from by with without about into over under
        is are was were be been being am do does did has have had will would can could should
        may might must shall our we us you your they them their it its this that these those
        there here who what which when where why how all any each every some most more less
        many much few no not only also just very too than then so as if else other such same
        own new old good bad great best better lead leads call calls caller callers customer
        customers client clients need needs want wants like get gets please thank thanks hello
        hi yes ok okay one ones qualified qualify qualifies worth priority score hot warm cold
        spam job jobs area areas serve serves serving service services offer offers provide
        provides include includes including inc llc ltd co company business"""
    )
)


def _no_aside(name: str) -> str:
    return " ".join(_ASIDE.sub("", name).split())


@attrs.frozen
class TranscriptionHint:
    business_name: str = ""
    vocabulary: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.business_name and not self.vocabulary

    def prompt(self) -> str:
        """The hint as one short line of text, the way Whisper's prompt reads best:
        "Acme Heating & Air: furnace, AC, repair."."""
        words = ", ".join(self.vocabulary)
        if self.business_name and words:
            return f"{self.business_name}: {words}."
        return f"{self.business_name or words}." if not self.empty else ""

    def phrases(self) -> tuple[str, ...]:
        """The name and each word on its own, for recognisers that take phrase lists."""
        return ((self.business_name,) if self.business_name else ()) + self.vocabulary


def transcription_hint(tenant: Tenant) -> TranscriptionHint:
    """The tenant's name (without an aside such as "(demo)") and up to MAX_WORDS trade words
    from its business context, in the order the context gives them."""
    name = _no_aside(tenant.name)
    context = _NOT_A_WORD.sub(" ", tenant.config.ai.business_context)
    seen = {word.lower() for word in _WORD.findall(name)}
    vocabulary: list[str] = []
    for word in _WORD.findall(context):
        key = word.lower()
        if key in seen or key in _COMMON or len(word) < 2:
            continue
        seen.add(key)
        vocabulary.append(word)
        if len(vocabulary) == MAX_WORDS:
            break
    return TranscriptionHint(name, tuple(vocabulary))
