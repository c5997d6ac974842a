"""Numbers as speech recognition writes them: "4111", "four one one one", "oh", "double one",
"twenty seven" or a mixture, with "um" or "dash" in between, and "oh for 27" for 04/27.

Text is read as tokens that carry the digits they say. A *run* is a stretch of number tokens
with at most two filler words between them; two runs with only an acknowledgement ("okay",
"mm-hmm, go on") between them are *bridged*, pieces of one number read out with a pause.
ASR writes "four" as "for" and "two" as "to": such *aliases* are read as digits only in a date
run (`runs(..., dates=True)`) and only when a number follows them, so "oh for 27" is 0 4 27
while "looking for someone" is never a number.

Each token records how many *plain* words come before it. Numbers, fillers, redaction markers
and the words a date can swallow (aliases, month names, "slash", "of") are not plain, so a
distance counted in plain words is the same before and after a number is replaced by a marker.

The module reads numbers and the few things a number says about itself (a month and year; a price, a
time or an address by the words around it); what they are worth hiding is domain.redaction's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

import attrs

MARKER = re.compile(r"\[REDACTED [A-Z]+\]")
_TOKEN = re.compile(rf"{MARKER.pattern}|[0-9]+|[A-Za-z]+(?:'[A-Za-z]+)*")


def words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _digits(names: str, first: int) -> dict[str, str]:
    return {word: str(first + n) for n, word in enumerate(names.split())}


UNITS = _digits("zero one two three four five six seven eight nine", 0) | {"oh": "0", "o": "0"}
TEENS = _digits(
    "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen", 10
)
TENS = _digits("twenty thirty forty fifty sixty seventy eighty ninety", 2)
REPEAT = {"double": 2, "triple": 3}
_NUMBER_WORDS = UNITS.keys() | TEENS.keys() | TENS.keys() | REPEAT.keys()  # besides digits
FILLERS = words("um umm uh uhh er erm ah hmm mm dash hyphen space then")
# What the other side says while a long number is read in pieces ("okay", "mm-hmm, go on",
# "got it"), and "the", which Whisper writes for a mumbled one. Not "and": "2019, 2021 and 2023".
ACKNOWLEDGEMENTS = FILLERS | words(
    "okay ok yes yeah yep yup mhm hm huh right alright all sure got it go on ahead continue"
    " next keep going sorry the"
)
ALIASES = {"for": "4", "to": "2", "too": "2"}
MONTHS = words(
    "january february march april may june july august september october november december"
    " jan feb mar apr jun jul aug sep sept oct nov dec"
)
JOINERS = words("slash of")
ORDINALS = words("st nd rd th")  # "march 28th": a day, not a year
_UNCOUNTED = FILLERS | MONTHS | JOINERS | ALIASES.keys()
# Words next to a number that make it a price, a time, a quantity or an address.
_UNIT_AFTER = words(
    "dollars dollar bucks cents percent am pm minutes minute hours hour days day weeks week"
    " months month years year gallons gallon degrees feet foot square tons ton btu street st"
    " avenue ave road rd drive dr lane ln way court ct boulevard blvd amps amp volts watts inches"
)
_NOUN_BEFORE = words("unit apartment apt suite room extension ext model zip order invoice")
FIRST_YEAR, LAST_YEAR = 20, 49  # the two-digit years a card's expiry can have


@attrs.frozen
class Token:
    start: int
    end: int
    word: str  # lower case; a number token's words joined, e.g. "double one"
    digits: str  # the digits a number token stands for, "" for anything else
    plain: int  # how many plain words come before this token
    gap: str  # the characters between the previous token and this one

    @property
    def alias(self) -> str:
        """The digit the word may stand for inside a date ("for": "4"), else ""."""
        return ALIASES.get(self.word, "")


def tokenize(text: str) -> list[Token]:
    raw = [(m.start(), m.end(), m[0].lower()) for m in _TOKEN.finditer(text)]
    tokens: list[Token] = []
    plain, i, previous_end = 0, 0, 0
    while i < len(raw):
        start, end, word = raw[i]
        digits, width = "", 1
        if word in _NUMBER_WORDS or word.isdigit():  # most words are neither
            following = raw[i + 1][2] if i + 1 < len(raw) else ""
            digits, width = number_at(word, following)
            if width == 2:
                end, word = raw[i + 1][1], f"{word} {following}"
        if tokens and tokens[-1].word == "last" and not word.isdigit():
            digits = ""  # "the last four of my social", not a digit
        tokens.append(Token(start, end, word, digits, plain, text[previous_end:start]))
        previous_end = end
        if not digits and word not in _UNCOUNTED and not word.startswith("["):
            plain += 1
        i += width
    return tokens


def number_at(word: str, following: str) -> tuple[str, int]:
    """The digits a word (with the one after it, for "twenty seven" or "double one") says, and
    how many words that took."""
    if word.isdigit():
        return word, 1
    if word in UNITS:
        return UNITS[word], 1
    if word in TEENS:
        return TEENS[word], 1
    if word in TENS:
        unit = UNITS.get(following, "0")
        return (TENS[word] + unit, 2) if unit != "0" else (TENS[word] + "0", 1)
    if word in REPEAT:
        digit = UNITS.get(following, following if len(following) == 1 else "")
        if digit.isdigit():
            return digit * REPEAT[word], 2
    return "", 1


def said(tokens: Sequence[Token], index: int) -> str:
    """The digits token `index` says in a date run: its own, or its alias' before a number."""
    token = tokens[index]
    following = tokens[index + 1].digits if index + 1 < len(tokens) else ""
    return token.digits or (token.alias if following else "")


def in_run(tokens: Sequence[Token], k: int, dates: bool = False) -> bool:
    """Whether token k counts in a run: a number, or in a date run an alias before one."""
    token = tokens[k]
    return bool(token.digits) or (dates and token.word in ALIASES and bool(said(tokens, k)))


def run_at(tokens: Sequence[Token], j: int, dates: bool = False) -> list[int]:
    """Indices of the number tokens in the run starting at token j; empty if it starts none."""
    run: list[int] = []
    fillers = 0
    for k in range(j, len(tokens)):
        word = tokens[k].word
        if in_run(tokens, k, dates):
            run.append(k)
            fillers = 0
        elif run and fillers < 2 and (word in FILLERS or (dates and word == "slash")):
            fillers += 1
        else:
            break
    return run


def bridged(tokens: Sequence[Token], last: int, first: int) -> bool:
    """Whether only an acknowledgement (at most five words of one) lies between token `last`
    and token `first`: the two are pieces of one number read out with a pause between."""
    between = range(last + 1, first)
    return len(between) <= 5 and all(tokens[k].word in ACKNOWLEDGEMENTS for k in between)


def reads(
    tokens: Sequence[Token],
    pieces: Iterable[list[int]],
    joins: Callable[[int, int, int, int], bool],
) -> list[list[list[int]]]:
    """Pieces of numbers grouped as they are read out, each read a list of pieces: a piece
    joins the read before it when `joins(digits so far, its digits, the read's last token, its
    first token)` says so, as a rule built on bridged() does."""
    found: list[list[list[int]]] = []
    length = 0
    for piece in pieces:
        digits = sum(len(tokens[i].digits) for i in piece)
        if found and joins(length, digits, found[-1][-1][-1], piece[0]):
            found[-1].append(piece)
            length += digits
        else:
            found.append([piece])
            length = digits
    return found


def runs(tokens: Sequence[Token], dates: bool = False) -> list[list[int]]:
    """Every run, in order; with dates, aliases before a number and "slash" belong to runs."""
    found, k = [], 0
    while k < len(tokens):
        # Only a token in_run() starts a run: run_at's answer for any other is empty, and
        # asking it for every word was a quarter of redaction's time.
        if not in_run(tokens, k, dates):
            k += 1
            continue
        run = run_at(tokens, k, dates)
        found.append(run)
        k = run[-1] + 1
    return found


def month_year(tokens: Sequence[Token], run: Sequence[int]) -> bool:
    """Whether a run says a month and a two-digit year and nothing else: "4 27", "04/27",
    "oh four twenty seven", "oh for 27", "0 4 2 7", "0427", "twelve twenty six". Three single
    digits ("1 2 3") are not a date, nor are four that do not start with a zero."""
    parts = [said(tokens, i) for i in run]
    if not parts:
        return False
    if len(parts) == 1 and len(parts[0]) == 4 and parts[0][0] == "0":
        parts = [parts[0][:2], parts[0][2:]]  # "0427"
    if len(parts) > 2 and parts[0] == "0" and len(parts[1]) == 1:  # "oh four ..."
        month, year = parts[0] + parts[1], parts[2:]
        if len(year) == 2 and all(len(p) == 1 for p in year):
            year = ["".join(year)]  # "... two seven"
    else:
        month, year = parts[0], parts[1:]
    return (
        len(month) <= 2
        and 1 <= int(month) <= 12
        and len(year) == 1
        and len(year[0]) == 2
        and FIRST_YEAR <= int(year[0]) <= LAST_YEAR
    )


def expiry_like(tokens: Sequence[Token], run: Sequence[int]) -> bool:
    """Whether a run, or a month's name and the run after it, says a card's month and year in
    any way a caller gives one when asked: month_year's forms, "1127", "11 2027", "march twenty
    eight", "march of 2028". A date with a day ("12 31 2025", "march 28th") is none."""
    parts = [said(tokens, k) for k in run if said(tokens, k)]  # a month's name says no digit
    after = run[-1] + 1
    if not parts or (after < len(tokens) and tokens[after].word in ORDINALS):
        return False
    if full_date(tokens, run):
        return False
    if tokens[run[0]].word in MONTHS:
        return _card_year(parts)
    if month_year(tokens, run):
        return True
    if len(parts) == 1 and len(parts[0]) == 4:
        parts = [parts[0][:2], parts[0][2:]]  # "1127"
    return (
        len(parts) > 1 and len(parts[0]) <= 2 and 1 <= int(parts[0]) <= 12 and _card_year(parts[1:])
    )


def full_date(tokens: Sequence[Token], run: Sequence[int]) -> bool:
    """Whether a run says a day besides a month and a year: "12 31 2025", "12/31/25", "december
    31 2025", "twelve thirty one twenty twenty five": a gift card's or an appointment's date."""
    parts = [said(tokens, k) for k in run if said(tokens, k)]
    if tokens[run[0]].word not in MONTHS:
        if not parts or len(parts[0]) > 2 or parts[0] == "0" or not 1 <= int(parts[0]) <= 12:
            return False  # "oh four twenty seven" starts with no month
        parts = parts[1:]
    if len(parts) < 2 or len(parts[0]) > 2 or not 1 <= int(parts[0]) <= 31:
        return False
    day, year = parts[0], parts[1:]
    if (len(year) == 1 and len(year[0]) == 4) or (len(year) == 2 and year[0] == "20"):
        return True
    # "12 31 25"; but "twelve twenty twenty seven" is 12/2027 and "1 2 27" is 12/27
    return len(year) == 1 and len(year[0]) == 2 and int(day) > 12 and day != "20"


def _card_year(parts: Sequence[str]) -> bool:
    """Whether the parts say a card's year: "27", "2027", "twenty twenty seven"."""
    if len(parts) == 2 and parts[0] != "20":
        return False
    year = "".join(parts)
    if len(year) == 4 and year.startswith("20"):
        year = year[2:]
    return len(year) == 2 and FIRST_YEAR <= int(year) <= LAST_YEAR


def is_quantity(tokens: Sequence[Token], run: list[int]) -> bool:
    """Whether a run reads as a price, a time, an address or a quantity ("$189", "10:30",
    "123 main street", "for 20 minutes")."""
    first, last = run[0], run[-1]
    following = tokens[last + 1 : last + 3]
    if following and following[0].word.startswith("["):
        following = []  # a marker or a taken span: look no further
    return (
        "$" in tokens[first].gap
        or any(":" in tokens[i].gap for i in run[1:])
        or (first > 0 and tokens[first - 1].word in _NOUN_BEFORE)
        or any(t.word in _UNIT_AFTER for t in following)
    )
