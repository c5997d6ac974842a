"""PII redaction for call transcripts: payment cards, their expiry and security code, and US
social security numbers, in real speech-recognition output.

ASR output is misheard and often unpunctuated; domain.spoken_numbers reads its numbers ("4111",
"four one one one", "double one", "oh for 27") into runs. Then, in this order:

- card: a long number is read as runs of digits that an acknowledgement may separate
  ("4111 1111", "okay", "1111 1111"), across speakers and sentences. Such a read is a card if
  it has 13+ digits in a call that mentions a payment card anywhere (or where one was found),
  however long a repetition loop ("1-1-1-1-...") made it; 12+ right beside a card word, since
  ASR drops digits; and in any call, 13-19 of its digits that pass Luhn. Phone numbers (3-3-4
  groups, 10 or 11 digits), prices, times, addresses and order or model numbers are never
  cards, and a gift card or a business card is no payment card.
- cued, within 30 words of a payment card word or a card: an expiry after its cue ("expires",
  "exp", "valid through") or written "04/27"; a security code after its cue ("cvv", "c v v",
  "security code" and the way ASR hears it, "secure code" or "secure ready code", "the three
  digits on the back"). A cue's value that reads as a month and year is an expiry whichever cue it
  follows: asked "the expiry and security code?", callers give the date first.
- SSN: 3-2-4 digit groups, or 9 digits (4 for "the last four") soon after "social security",
  "social" or "ssn".
- bare, within 30 words after a redacted card only: a month and year ("oh four twenty seven",
  "0 4 2 7", "for 27") is an expiry, and a run of 3-4 digits is a security code, unless it
  reads as a price, a time, an address or a quantity ("$189", "10:30", "123 main street").

Each step reads what the earlier ones left, as a second pass reads their markers, and distances
are counted in plain words, which markers do not change: redaction is idempotent.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Sequence

import attrs

from domain.results import Segment, Transcript
from domain.spoken_numbers import (
    FILLERS,
    MONTHS,
    Token,
    bridged,
    is_quantity,
    month_year,
    run_at,
    runs,
    said,
    tokenize,
    words,
)

CARD = "[REDACTED CARD]"
EXPIRY = "[REDACTED EXPIRY]"
CVV = "[REDACTED CVV]"
SSN = "[REDACTED SSN]"

_CARD_WORDS = words("card cards visa mastercard amex discover credit debit cvv cvc")
_NOT_PAYMENT = words(
    "gift business insurance library loyalty rewards membership member report greeting"
    " birthday id key sim post"
)  # "... card": no payment card
_LABELS = words("order tracking confirmation invoice reference model serial ticket claim policy")
_CARD_LENGTH, _LABEL_BEFORE = 13, 4
_EXPIRY_CUES = words("expires expire expired expiry expiration expiring exp")
_DATE_LEAD = words("date is on the its it's it of in at that that's thats will be so was")
_CVV_CUES = tuple(
    tuple(cue.split())
    for cue in (
        "cvv", "cvc", "csc", "c v v", "c v c", "verification code", "digit code",
        "digits on the back", "numbers on the back", "code on the back",
    )
)  # fmt: skip
_CVV_ENDS = frozenset(cue[-1] for cue in _CVV_CUES)  # the words a cue can end at
_CVV_LEAD = words(
    "is are it's its it the number code that's thats would be on of my card back and so"
)
_PHONE_SHAPE = re.compile(r"(?:(?:1,)?3,3,4|1[01])(?:,(?:(?:1,)?3,3,4|1[01]))*")
_KEYWORD_BEFORE, _KEYWORD_AFTER, _CONTEXT = 7, 3, 30

Span = tuple[int, int, str]  # first and last token, and the marker
_TAKEN = Token(0, 0, "[taken]", "", 0, "")


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        d = int(char) * (2 if position % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def redact_text(text: str) -> tuple[str, int]:
    """The text with PII replaced by visible markers, and how many were replaced."""
    spans = _find(text)
    return _apply(text, spans), len(spans)


def redact_transcript(t: Transcript) -> Transcript:
    """A redacted copy. Segments are read as one stream, so a number split across adjacent
    segments (the speaker paused mid-number) is found and each fragment is replaced. The text
    is usually those segments joined: then it is read once, for both."""
    joined = " ".join(s.text for s in t.segments)
    spans = _find(joined)
    text = _apply(joined, spans) if t.text == joined else redact_text(t.text)[0]
    segments = _redact_segments(t.segments, joined, spans)
    return attrs.evolve(t, text=text, segments=segments, redacted=True)


def _redact_segments(
    segments: Sequence[Segment], joined: str, spans: Sequence[tuple[int, int, str]]
) -> tuple[Segment, ...]:
    result, offset, first = [], 0, 0
    for segment in segments:
        end = offset + len(segment.text)
        local: list[tuple[int, int, str]] = []
        at = first
        while at < len(spans) and spans[at][0] < end:
            start, stop, label = spans[at]
            at += 1
            piece = joined[max(start, offset) : min(stop, end)]
            lo = max(start, offset) + len(piece) - len(piece.lstrip()) - offset
            if piece.strip():
                local.append((lo, lo + len(piece.strip()), label))
        while first < len(spans) and spans[first][1] <= end:
            first += 1
        # A segment with nothing to hide (most) is kept as it is: segments are values.
        result.append(attrs.evolve(segment, text=_apply(segment.text, local)) if local else segment)
        offset = end + 1
    return tuple(result)


def _apply(text: str, spans: Sequence[tuple[int, int, str]]) -> str:
    parts, cursor = [], 0
    for start, stop, label in spans:
        parts += [text[cursor:start], label]
        cursor = stop
    return "".join([*parts, text[cursor:]])


def _find(text: str) -> list[tuple[int, int, str]]:
    tokens = tokenize(text)
    scan = list(tokens)  # what is left: each step sees the earlier ones' spans as taken
    found: list[Span] = []

    def take(spans: list[Span]) -> None:
        for first, last, label in spans:
            found.append((first, last, label))
            scan[first : last + 1] = [_TAKEN] * (last + 1 - first)

    keywords = _payment_cards(tokens)
    card_call = bool(keywords) or any(t.word == CARD.lower() for t in tokens)
    take(_cards(scan, keywords, card_call))
    if found and not card_call:  # a number that passes the checksum: the call is about a card
        take(_cards(scan, keywords, True))
    cards = sorted(
        [i for i, t in enumerate(tokens) if t.word == CARD.lower()] + [f for f, *_ in found]
    )
    context = sorted(keywords + [tokens[i].plain for i in cards])
    for i, token in enumerate(tokens):
        if _near(context, token.plain - _CONTEXT, 2 * _CONTEXT):
            take(_expiry_at(scan, i))
            take(_cvv_at(scan, i))
    take(_ssn_spans(tokens, runs(scan)))
    take(_after_card(tokens, scan, cards))
    return [(tokens[first].start, tokens[last].end, label) for first, last, label in sorted(found)]


def _near(positions: Sequence[int], low: int, width: int) -> bool:
    """Whether any of the sorted positions lies in [low, low + width]."""
    at = bisect_left(positions, low)
    return at < len(positions) and positions[at] <= low + width


def _around_dates(tokens: Sequence[Token], run: list[int]) -> list[list[int]]:
    """The run in pieces around the dates in it: a card read straight into its expiry,
    "... 1111 04/27" or "... 1111 four slash twenty seven", ends before the month."""
    pieces: list[list[int]] = [[]]
    n = 0
    while n < len(run):
        after = run[n + 1] if n + 1 < len(run) else run[n] + 1
        slash = after < len(tokens) and (tokens[after].word == "slash" or "/" in tokens[after].gap)
        if slash and len(tokens[run[n]].digits) <= 2:
            pieces.append([])  # the month and the year after the slash are no card's
            n += 2
        else:
            pieces[-1].append(run[n])
            n += 1
    return [piece for piece in pieces if piece]


def _payment_cards(tokens: Sequence[Token]) -> list[int]:
    """Where a payment card is mentioned, in plain words: "visa", "credit", "american express",
    "card" (but not a gift card's or a business card's)."""
    found = []
    for i, t in enumerate(tokens):
        before = tokens[i - 1].word if i else ""
        gift = t.word in ("card", "cards") and before in _NOT_PAYMENT
        if (t.word in _CARD_WORDS and not gift) or (t.word, before) == ("express", "american"):
            found.append(t.plain)
    return found


def _reads(tokens: Sequence[Token]) -> list[list[list[int]]]:
    """The long numbers of a call as they are read out: each a list of pieces (runs, split
    around the dates in them) that only an acknowledgement separates, "4111 1111" "okay"
    "1111 1111". Once a read is long enough for a card, only a piece too long for an expiry or
    a security code joins it. Phone numbers and prices, times and addresses join nothing and
    are never cards."""
    found: list[list[list[int]]] = []
    length = 0
    for run in runs(tokens):
        for piece in _around_dates(tokens, run):
            shape = ",".join(str(len(tokens[i].digits)) for i in piece)
            if _PHONE_SHAPE.fullmatch(shape) or is_quantity(tokens, piece):
                continue  # being digits, it is no acknowledgement: no read bridges it
            digits = sum(len(tokens[i].digits) for i in piece)
            if (
                length
                and (length < _CARD_LENGTH or digits > 4)
                and bridged(tokens, found[-1][-1][-1], piece[0])
            ):
                found[-1].append(piece)
                length += digits
            else:
                found.append([piece])
                length = digits
    return found


def _cards(tokens: Sequence[Token], keywords: list[int], card_call: bool) -> list[Span]:
    """In a call about a payment card, any read of 13 or more digits (12 right beside a card
    word: ASR drops digits), however long a repetition loop made it; in any call, 13-19 digits
    of a read that pass the card checksum. A read introduced as an order, tracking, model or
    similar number is none, unless a card word is right beside it."""
    labels = [t.plain for t in tokens if t.word in _LABELS]
    spans: list[Span] = []
    for read in _reads(tokens):
        flat = [i for piece in read for i in piece]
        start = tokens[flat[0]].plain
        keyed = _near(keywords, start - _KEYWORD_BEFORE, _KEYWORD_BEFORE + _KEYWORD_AFTER)
        if _near(labels, start - _LABEL_BEFORE, _LABEL_BEFORE) and not keyed:
            continue
        length = sum(len(tokens[i].digits) for i in flat)
        if (card_call and length >= _CARD_LENGTH) or (keyed and length >= _CARD_LENGTH - 1):
            windows = [(0, len(flat) - 1)]
        else:
            windows = _luhn_windows([tokens[i].digits for i in flat])
        for low, high in windows:  # each piece's part of the window, so acknowledgements stay
            for piece in read:
                inside = [i for i in piece if flat[low] <= i <= flat[high]]
                if inside:
                    spans.append((inside[0], inside[-1], CARD))
    return spans


def _luhn_windows(numbers: list[str]) -> list[tuple[int, int]]:
    """The longest stretches of 13-19 digits, left to right, that pass the card checksum."""
    windows, i = [], 0
    while i < len(numbers):
        best, digits = -1, ""
        for j in range(i, len(numbers)):
            digits += numbers[j]
            if len(digits) > 19:
                break
            if len(digits) >= _CARD_LENGTH and luhn_valid(digits):
                best = j
        if best < 0:
            i += 1
        else:
            windows.append((i, best))
            i = best + 1
    return windows


def _ssn_spans(tokens: Sequence[Token], runs: list[list[int]]) -> list[Span]:
    cues = sorted(
        t.plain
        for i, t in enumerate(tokens)
        if t.word == "ssn"
        or (t.word == "social" and (i + 1 == len(tokens) or tokens[i + 1].word != "media"))
        or (t.word == "n" and [x.word for x in tokens[max(i - 2, 0) : i]] == ["s", "s"])
    )
    lasts = [t.plain for t in tokens if t.word == "last"]  # "the last four of my social"
    spans = []
    for run in runs:
        digits = "".join(tokens[i].digits for i in run)
        shape = [len(tokens[i].digits) for i in run]
        literal = all(tokens[i].word.isdigit() for i in run)
        last_four = len(digits) == 4 and _near(lasts, tokens[run[0]].plain - 8, 7)
        cued = _near(cues, tokens[run[0]].plain - 7, 6) and (len(digits) == 9 or last_four)
        if cued or (literal and shape == [3, 2, 4] and _plausible_ssn(digits)):
            spans.append((run[0], run[-1], SSN))
    return spans


def _plausible_ssn(digits: str) -> bool:
    area, group, serial = digits[:3], digits[3:5], digits[5:]
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def _expiry_at(tokens: Sequence[Token], i: int) -> list[Span]:
    word = tokens[i].word
    before = tokens[i - 1].word if i else ""
    if word.isdigit() and i + 1 < len(tokens) and 1 <= len(word) <= 2:
        after = tokens[i + 1]  # "04/27" needs no cue when a card is near
        if after.word.isdigit() and len(after.word) in (2, 4) and after.gap.strip() == "/":
            return [(i, i + 1, EXPIRY)]
    cued = word in _EXPIRY_CUES or (word in ("through", "thru") and before in ("valid", "good"))
    if not cued:
        return []
    j = _skip(tokens, i + 1, _DATE_LEAD)
    first, month = j, j < len(tokens) and tokens[j].word in MONTHS
    if month:  # "april of twenty twenty seven"
        j += 2 if j + 1 < len(tokens) and tokens[j + 1].word == "of" else 1
    last, digits = -1, ""
    for k in run_at(tokens, j, dates=True)[:4]:
        if len(digits + said(tokens, k)) > 6:
            break
        digits, last = digits + said(tokens, k), k
    if last >= 0 and (len(digits) >= 3 or (month and len(digits) >= 2)):
        return [(first, last, EXPIRY)]
    return []


def _cvv_at(tokens: Sequence[Token], i: int) -> list[Span]:
    word = tokens[i].word
    if word not in _CVV_ENDS:  # no cue ends here ("code" included): most words
        return []
    secure = word == "code" and any(
        t.word.startswith("secur") for t in tokens[max(i - 2, 0) : i]
    )  # "security code" as ASR hears it: "secure code", "secure ready code"
    if not secure and not any(_ends_with(tokens, i, cue) for cue in _CVV_CUES):
        return []
    run = run_at(tokens, _skip(tokens, i + 1, _CVV_LEAD), dates=True)
    if month_year(tokens, run):
        return [(run[0], run[-1], EXPIRY)]
    # "one to three" is 1 2 3, but in "8 to 10" the "to" is a word
    spelled = all(len(tokens[k].digits) <= 1 for k in run)
    last, digits = -1, ""
    for k in run:
        digit = said(tokens, k) if spelled else tokens[k].digits
        if not digit or len(digits + digit) > 4:
            break
        digits, last = digits + digit, k
    return [(run[0], last, CVV)] if len(digits) >= 3 else []


def _ends_with(tokens: Sequence[Token], i: int, cue: tuple[str, ...]) -> bool:
    return i + 1 >= len(cue) and tuple(t.word for t in tokens[i + 1 - len(cue) : i + 1]) == cue


def _after_card(tokens: Sequence[Token], scan: Sequence[Token], cards: list[int]) -> list[Span]:
    """Bare expiry dates and security codes, read out within 30 words after a card."""
    found: list[Span] = []
    for run in runs(scan, dates=True):
        card = bisect_left(cards, run[0]) - 1
        if card < 0 or tokens[run[0]].plain - tokens[cards[card]].plain > _CONTEXT:
            continue
        if is_quantity(scan, run):
            continue
        if month_year(scan, run):
            found.append((run[0], run[-1], EXPIRY))
            continue
        numbers = [i for i in run if scan[i].digits]  # "for 123": the "for" stays a word
        digits = "".join(scan[i].digits for i in numbers)
        if numbers == run[len(run) - len(numbers) :] and 3 <= len(digits) <= 4:
            found.append((numbers[0], numbers[-1], CVV))
    return found


def _skip(tokens: Sequence[Token], j: int, lead: frozenset[str]) -> int:
    """Past up to four connecting words ("is", "the", "um") between a cue and its value."""
    for _ in range(4):
        if j < len(tokens) and (tokens[j].word in lead or tokens[j].word in FILLERS):
            j += 1
    return j
