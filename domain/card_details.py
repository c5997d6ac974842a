"""A payment card's expiry and security code, as a conversation gives them.

Within 30 words of a payment card word or a card's number (domain.cards):

- after its cue: an expiry after "expires", "exp", "valid through" or the agent's "and the
  expiration date on the card?"; a security code after "cvv", "c v v", "security code" and the
  way ASR hears it ("secure ready code"), "the three digits", "on the back", or in so many words
  "the code". The value right after the cue and a few connecting words is taken as it comes
  ("expires 2027", "cvv 1 2 3"). One said further on, in the answer a turn later after "yeah,
  um, let me see", is taken only if it reads as one: a month and year ("oh nine twenty six",
  "march twenty eight", "1127") or the whole of a run of 3-4 digits. A code's cue takes a month
  and year as the expiry: asked "the expiry and security code?", callers give the date first.
  A date with a day ("12 31 2025") is no expiry, nor is what a gift card, a warranty or a
  membership expires on.
- bare, within 30 words after a card's number only: a month and year ("oh four twenty seven",
  "0 4 2 7", "for 27", "march twenty eight") is an expiry, and a run of 3-4 digits is a security
  code, unless it reads as a price, a time, a quantity, a year, an address ("1817 north laurel
  street", the answer to "billing address?") or another code ("the gate code is 1234").
"""

from __future__ import annotations

import itertools
from bisect import bisect_left
from collections.abc import Iterator, Sequence

from domain.cards import card_mention
from domain.other_numbers import OTHER_CODES, other_number
from domain.pii import CARD, CVV, EXPIRY, Span, skip
from domain.spoken_numbers import (
    MONTHS,
    Token,
    expiry_like,
    full_date,
    in_run,
    is_quantity,
    month_year,
    run_at,
    said,
    words,
)

CONTEXT = 30  # plain words between a card and its details
_ANSWER_WITHIN = 12  # plain words from a cue to its answer: "on the card? um, let me see, it's"
_EXPIRY_CUES = words("expires expire expired expiry expiration expiring exp expiration's expiry's")
_DATE_LEAD = words("date is on the its it's it of in at that that's thats will be so was")
_CODE_LEAD = words(
    "is are it's its it the number code that's thats would be on of my card back and so"
)
_CODE_NAMES = words("cvv cvc csc cvv2 cv2 cvb cbv")  # and as ASR hears "cvv"
_CODE = words("code code's")
_SPELLED_NAMES = (("c", "v", "v"), ("c", "v", "c"))
_COUNTED = words("digit digits number numbers")  # "the three digits", "3-digit code"
_SOMETHING_ELSE = words(
    "warranty license licence lease contract membership subscription policy insurance"
    " registration coupon offer quote estimate promotion promo permit passport certificate"
    " voucher trial"
)  # what expires when it is no payment card
_DATE_BEFORE = words(
    "on by until till through thru since before after from for is was at this next"
)


def slashed_at(tokens: Sequence[Token], i: int) -> list[Span]:
    """The month and year written "04/27" that token i starts, which needs no cue near a card;
    "12/31/2025" is a date."""
    if not (tokens[i].word.isdigit() and len(tokens[i].word) <= 2 and i + 1 < len(tokens)):
        return []
    after = tokens[i + 1]
    if not (after.word.isdigit() and after.gap.strip() == "/"):
        return []
    dated = i + 2 < len(tokens) and tokens[i + 2].digits and tokens[i + 2].gap.strip() == "/"
    return [] if dated or not expiry_like(tokens, [i, i + 1]) else [(i, i + 1, EXPIRY)]


def expiry_at(tokens: Sequence[Token], i: int) -> list[Span]:
    """The expiry token i cues: "expires", "the expiration date on the card?"."""
    if not _expiry_cue(tokens, i) or _about_something_else(tokens, i):
        return []
    for answer, immediate in _answers(tokens, i, _DATE_LEAD):
        span = _expiry(tokens, answer, immediate)
        return [span] if span else []
    return []


def code_at(tokens: Sequence[Token], i: int, near_card: bool = True) -> list[Span]:
    """The security code token i cues, and the expiry said before it. Away from any card
    word only a cue that names a card's code does: "cvv", "the three digits on the back"
    ("security code" may be an alarm's)."""
    cue = _code_cue(tokens, i)
    if cue is None or not (near_card or (cue == "named" and _names_a_card_code(tokens, i))):
        return []
    spans: list[Span] = []
    for n, (answer, immediate) in enumerate(_answers(tokens, i, _CODE_LEAD)):
        if n == 2 or (cue == "plain" and not immediate):
            break
        first = tokens[answer[0]]
        if first.word.startswith("["):  # found already: the expiry before a code, or no code
            if first.word == EXPIRY.lower():
                continue
            break
        named = first.word in MONTHS
        dated = expiry_like(tokens, answer) if named else month_year(tokens, answer)
        if cue == "named" and dated:
            spans.append((answer[0], answer[-1], EXPIRY))
            continue
        code = _code(tokens, answer, immediate, whole=cue == "plain" or not immediate)
        spans += [code] if code else []
        break
    return spans


def after_card(tokens: Sequence[Token], scan: Sequence[Token], cards: list[int]) -> list[Span]:
    """Bare expiry dates and security codes, read out within 30 words after a card."""
    found: list[Span] = []
    k = 0
    while k < len(scan):
        answer = _answer_at(scan, k)
        if not answer:
            k += 1
            continue
        k = answer[-1] + 1
        card = bisect_left(cards, answer[0]) - 1
        if card < 0 or tokens[answer[0]].plain - tokens[cards[card]].plain > CONTEXT:
            continue
        if scan[answer[0]].word in MONTHS:  # "march twenty eight", but not "on march 28"
            dated = answer[0] > 0 and scan[answer[0] - 1].word in _DATE_BEFORE
            if not dated and expiry_like(scan, answer):
                found.append((answer[0], answer[-1], EXPIRY))
            continue
        if other_number(scan, answer) or _a_price_elsewhere(scan, answer):
            continue
        if month_year(scan, answer):
            found.append((answer[0], answer[-1], EXPIRY))
            continue
        numbers = [i for i in answer if scan[i].digits]  # "for 123": the "for" stays a word
        digits = "".join(scan[i].digits for i in numbers)
        if numbers == answer[len(answer) - len(numbers) :] and 3 <= len(digits) <= 4:
            found.append((numbers[0], numbers[-1], CVV))
        elif both := _expiry_and_code(scan, numbers):
            found += both
        elif len(groups := _trailing_groups(scan, numbers)) >= 2:
            # Groups of four, read on after a card: its rest after a correction ("no wait,
            # ... so 0766 9205"), a read-back's tail, a repetition loop of its last group.
            found.append((groups[0], groups[-1], CARD))
    return found


def _expiry_and_code(tokens: Sequence[Token], numbers: list[int]) -> list[Span]:
    """An expiry and a security code read in one breath after a card: "04 27 150", "oh four
    twenty seven, one fifty"."""
    for k in range(1, len(numbers)):
        code = "".join(tokens[i].digits for i in numbers[k:])
        if 3 <= len(code) <= 4 and month_year(tokens, numbers[:k]):
            return [(numbers[0], numbers[k - 1], EXPIRY), (numbers[k], numbers[-1], CVV)]
    return []


def _trailing_groups(tokens: Sequence[Token], numbers: list[int]) -> list[int]:
    """The groups of four that end a run ("the old one, 0343 6475": not the "one")."""
    k = len(numbers)
    while k and _card_group(tokens[numbers[k - 1]].digits):
        k -= 1
    return numbers[k:]


def _answers(
    tokens: Sequence[Token], i: int, lead: frozenset[str]
) -> Iterator[tuple[list[int], bool]]:
    """What is said after the cue at token i, in the dozen plain words after it: each number
    run, month with its year, or marker, and whether it comes right after the cue. A number
    that only describes ("the three digits") is none."""
    j = skip(tokens, i + 1, lead)
    k = i + 1
    while k < len(tokens) and tokens[k].plain - tokens[i].plain <= _ANSWER_WITHIN:
        word = tokens[k].word
        if word.startswith("["):  # a marker, or what an earlier step took: one answer
            start = k
            while k < len(tokens) and tokens[k].word == word:
                k += 1
            yield [start], start == j
        elif answer := _answer_at(tokens, k):
            after = answer[-1] + 1
            if after >= len(tokens) or tokens[after].word not in _COUNTED:
                yield answer, k == j
            k = after
        else:
            k += 1


def _answer_at(tokens: Sequence[Token], k: int) -> list[int]:
    """The number run token k starts, or a month's name and the number after it: "march
    twenty eight", "april of 2027". Empty if it starts neither."""
    if tokens[k].word not in MONTHS:
        return run_at(tokens, k, dates=True) if in_run(tokens, k, dates=True) else []
    j = k + 1 + (k + 1 < len(tokens) and tokens[k + 1].word == "of")
    run = run_at(tokens, j, dates=True) if j < len(tokens) else []
    return [*range(k, j), *run] if run else []


def _expiry(tokens: Sequence[Token], answer: list[int], immediate: bool) -> Span | None:
    if (
        tokens[answer[0]].word == "oh"
        and not expiry_like(tokens, answer)
        and len(answer) > 1
        and expiry_like(tokens, answer[1:])
    ):
        answer = answer[1:]  # "Oh, um, zero three, twenty-seven": the caller's "oh"
    named = tokens[answer[0]].word in MONTHS
    if expiry_like(tokens, answer) and (immediate or named or not other_number(tokens, answer)):
        return (answer[0], answer[-1], EXPIRY)
    if not immediate or full_date(tokens, answer):
        return None
    # right after its cue a shorter or longer number is taken too: "expires 2027", "exp 4 27"
    month = tokens[answer[0]].word in MONTHS
    last, digits = -1, ""
    for k in answer:
        if len(digits + said(tokens, k)) > 6:
            break
        digits, last = digits + said(tokens, k), k
    if last >= 0 and (len(digits) >= 3 or (month and len(digits) >= 2)):
        return (answer[0], last, EXPIRY)
    return None


def _code(tokens: Sequence[Token], answer: list[int], immediate: bool, whole: bool) -> Span | None:
    """3-4 digits the answer starts with; all of it, unless it comes right after a named cue.
    Right after its cue, a price is a code: Whisper writes "nine oh three" as "$903"."""
    if tokens[answer[0]].word in MONTHS or tokens[answer[0]].word.startswith("["):
        return None
    if not immediate and other_number(tokens, answer):
        return None
    # "one to three" is 1 2 3, but in "8 to 10" the "to" is a word
    spelled = all(len(tokens[k].digits) <= 1 for k in answer)
    last, digits = -1, ""
    for k in answer:
        digit = said(tokens, k) if spelled else tokens[k].digits
        if not digit or len(digits + digit) > 4:
            break
        digits, last = digits + digit, k
    part = last != answer[-1]  # of a run read on: "cvv 729 and 04 27", never of "$903 12 31"
    if len(digits) < 3 or (part and (whole or is_quantity(tokens, answer))):
        return None
    return (answer[0], last, CVV)


_PRICE_NEAR = 8  # plain words between a number and the same number said as a price


def _a_price_elsewhere(tokens: Sequence[Token], answer: list[int]) -> bool:
    """Whether the number is said as a price beside it: "and it's 340, right?" - "yes, $340
    for the cleanup". A card's code is never said back as money; a price said further away
    is a coincidence ("150 on the back ... the deluxe at $150")."""
    digits = "".join(tokens[i].digits for i in answer)
    at = tokens[answer[0]].plain
    for k, t in enumerate(tokens):
        following = tokens[k + 1].word if k + 1 < len(tokens) else ""
        priced = t.gap.endswith("$") or following in ("dollars", "bucks")
        if priced and t.digits == digits and k not in answer and abs(t.plain - at) <= _PRICE_NEAR:
            return True
    return False


def _card_group(digits: str) -> bool:
    """Four digits, as a card is read, that are no year ("back in 2019 2020")."""
    return len(digits) == 4 and not 1950 <= int(digits) <= 2049


_ASKED_TOGETHER = 6  # plain words between an expiry's cue and a security code's


def card_questions(tokens: Sequence[Token]) -> list[int]:
    """Where an expiry and a security code are asked for, or given, together ("expiration and
    security code please"): only a payment card has both, so the two cues mention one however
    far its number was said (plain word positions)."""
    expiries = [t.plain for i, t in enumerate(tokens) if _expiry_cue(tokens, i)]
    if not expiries:  # most calls: no code's cue is looked for
        return []
    codes = [t.plain for i, t in enumerate(tokens) if _code_cue(tokens, i) == "named"]
    return [e for e in expiries if any(abs(e - c) <= _ASKED_TOGETHER for c in codes)]


def _expiry_cue(tokens: Sequence[Token], i: int) -> bool:
    word, before = tokens[i].word, tokens[i - 1].word if i else ""
    valid = word in ("through", "thru", "until", "till") and before in ("valid", "good")
    return word in _EXPIRY_CUES or valid


def _about_something_else(tokens: Sequence[Token], i: int) -> bool:
    """Whether what expires is no payment card: the thing named just after the cue ("the
    expiration on the gift card") or else last named before it ("my gift card, it expires")."""
    after = []
    for k in range(i + 1, min(i + 6, len(tokens))):
        if tokens[k].digits:
            break
        after.append(k)
    for k in [*after, *range(i - 1, max(i - 10, -1), -1)]:
        if tokens[k].word in _SOMETHING_ELSE:
            return True
        mention = card_mention(tokens, k)
        if mention is not None:
            return not mention
    return False


def _names_a_card_code(tokens: Sequence[Token], i: int) -> bool:
    word = tokens[i].word
    if word == "back":  # "the three digits on the back", not "the serial number on the back"
        before = [t.digits or t.word for t in tokens[max(i - 5, 0) : i]]
        return any(a in ("3", "4") and b in _COUNTED for a, b in itertools.pairwise(before))
    return word in _CODE_NAMES or len(word) == 1  # "c v v"


def _code_cue(tokens: Sequence[Token], i: int) -> str | None:
    """ "named" if token i ends a security code's cue, "plain" for a bare "code", else None."""
    word = tokens[i].word
    before = [t.word for t in tokens[max(i - 2, 0) : i]]
    if word in _CODE_NAMES or (*before, word) in _SPELLED_NAMES:
        return "named"
    if word in _CODE and any(w.startswith("secur") or w == "verification" for w in before):
        return "named"  # "security code" and as ASR hears it, "secure code", "secure ready code"
    if word in _COUNTED and i and tokens[i - 1].digits in ("3", "4") and before[:1] != ["last"]:
        return "named"  # "the three digits", "the 3-digit number", "the four digit code"
    if word == "back" and (before[-1:] == ["on"] or before == ["on", "the"]):
        return "named"  # "the code on the back", "the three numbers on the back"
    if word in _CODE and not any(w in OTHER_CODES for w in before):
        return "plain"
    return None
