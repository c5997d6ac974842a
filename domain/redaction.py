"""PII redaction for call transcripts: payment cards, their expiry and security code, and US
social security numbers, in real speech-recognition output.

ASR output is lower case, unpunctuated and misheard, so numbers arrive as "4111 1111 1111
1111", "four one one one ...", "double one" or a mixture, with "um" or "dash" in between. The
text is read as tokens; a *run* is a stretch of number tokens with at most two filler words
between them. Then:

- card: a run, or a stretch of one, of 13-19 digits that passes Luhn; or a run of 12+ digits
  right after (or just before) a card word, Luhn or not, since ASR drops digits. Runs shaped like
  phone numbers (3-3-4 groups) are never cards.
- expiry and CVV: only within 30 words of a card word or a card, after their cue ("expires",
  "exp", "cvv", "security code", "the three digits on the back") or, for expiry, as "04/27".
- SSN: 3-2-4 digit groups, or 9 digits (4 for "the last four") soon after "social security",
  "social" or "ssn".

Distances are counted in plain words (numbers, fillers and markers excluded), so a second pass
over redacted text sees the same context and finds nothing new: redaction is idempotent.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Sequence

import attrs

from domain.results import Segment, Transcript

CARD = "[REDACTED CARD]"
EXPIRY = "[REDACTED EXPIRY]"
CVV = "[REDACTED CVV]"
SSN = "[REDACTED SSN]"


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _digits(words: str, first: int) -> dict[str, str]:
    return {word: str(first + n) for n, word in enumerate(words.split())}


_TOKEN = re.compile(r"\[REDACTED (?:CARD|EXPIRY|CVV|SSN)\]|[0-9]+|[A-Za-z]+(?:'[A-Za-z]+)*")
_UNITS = _digits("zero one two three four five six seven eight nine", 0) | {"oh": "0", "o": "0"}
_TEENS = _digits(
    "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen", 10
)
_TENS = _digits("twenty thirty forty fifty sixty seventy eighty ninety", 2)
_REPEAT = {"double": 2, "triple": 3}
_FILLERS = _words("um umm uh uhh er erm ah hmm mm dash hyphen space then")
_CARD_WORDS = _words("card cards visa mastercard amex credit debit cvv cvc")
_MONTHS = _words(
    "january february march april may june july august september october november december"
    " jan feb mar apr jun jul aug sep sept oct nov dec"
)
_EXPIRY_CUES = _words("expires expire expired expiry expiration expiring exp")
_DATE_LEAD = _words("date is on the its it's it of in at that that's thats will be so was")
_CVV_CUES = tuple(
    tuple(cue.split())
    for cue in (
        "cvv", "cvc", "csc", "c v v", "security code", "verification code", "digit code",
        "digits on the back", "numbers on the back", "code on the back",
    )
)  # fmt: skip
_CVV_LEAD = _words(
    "is are it's its it the number code that's thats would be on of my card back and so"
)
_PHONE_SHAPE = re.compile(r"(?:1,)?3,3,4(?:,(?:1,)?3,3,4)*")
_KEYWORD_BEFORE, _KEYWORD_AFTER, _CONTEXT = 7, 3, 30

Span = tuple[int, int, str]


@attrs.frozen
class _Token:
    start: int
    end: int
    word: str  # lower case; a number token's words joined, e.g. "double one"
    digits: str  # the digits a number token stands for, "" for anything else
    plain: int  # how many plain words come before this token
    gap: str  # the characters between the previous token and this one


_TAKEN = _Token(0, 0, "[taken]", "", 0, "")


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
    segments (the speaker paused mid-number) is found and each fragment is replaced."""
    text, _ = redact_text(t.text)
    return attrs.evolve(t, text=text, segments=_redact_segments(t.segments), redacted=True)


def _redact_segments(segments: Sequence[Segment]) -> tuple[Segment, ...]:
    joined = " ".join(s.text for s in segments)
    spans = _find(joined)
    result, offset, first = [], 0, 0
    for segment in segments:
        end = offset + len(segment.text)
        local: list[Span] = []
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
        result.append(attrs.evolve(segment, text=_apply(segment.text, local)))
        offset = end + 1
    return tuple(result)


def _apply(text: str, spans: Sequence[Span]) -> str:
    parts, cursor = [], 0
    for start, stop, label in spans:
        parts += [text[cursor:start], label]
        cursor = stop
    return "".join([*parts, text[cursor:]])


def _find(text: str) -> list[Span]:
    tokens = _tokenize(text)
    keywords = [
        t.plain
        for i, t in enumerate(tokens)
        if t.word in _CARD_WORDS or (t.word == "express" and i and tokens[i - 1].word == "american")
    ]
    context = keywords + [t.plain for t in tokens if t.word == CARD.lower()]
    found: list[tuple[int, int, str]] = []
    runs = _runs(tokens)
    for run in runs:
        start = tokens[run[0]].plain - _KEYWORD_BEFORE
        cards = _card_spans(tokens, run, _near(keywords, start, _KEYWORD_BEFORE + _KEYWORD_AFTER))
        found += [(first, last, CARD) for first, last in cards]
        context += [tokens[first].plain for first, _ in cards]
    context.sort()
    # Each later step reads what the earlier ones left, as a second pass reads their markers.
    scan = list(tokens)
    for first, last, _ in found:
        scan[first : last + 1] = [_TAKEN] * (last + 1 - first)
    for i, token in enumerate(tokens):
        if _near(context, token.plain - _CONTEXT, 2 * _CONTEXT):
            for first, last, label in _expiry_at(scan, i) + _cvv_at(scan, i):
                found.append((first, last, label))
                scan[first : last + 1] = [_TAKEN] * (last + 1 - first)
    taken = {i for first, last, _ in found for i in range(first, last + 1)}
    found += _ssn_spans(tokens, [piece for run in runs for piece in _pieces(run, taken)])
    return [(tokens[first].start, tokens[last].end, label) for first, last, label in sorted(found)]


def _pieces(run: list[int], covered: set[int]) -> list[list[int]]:
    pieces: list[list[int]] = [[]]
    for index in run:
        if index in covered:
            pieces.append([])
        else:
            pieces[-1].append(index)
    return [piece for piece in pieces if piece]


def _tokenize(text: str) -> list[_Token]:
    raw = [(m.start(), m.end(), m.group().lower()) for m in _TOKEN.finditer(text)]
    tokens: list[_Token] = []
    plain, i, previous_end = 0, 0, 0
    while i < len(raw):
        start, end, word = raw[i]
        following = raw[i + 1][2] if i + 1 < len(raw) else ""
        digits, width = _number_at(word, following)
        if width == 2:
            end, word = raw[i + 1][1], f"{word} {following}"
        if tokens and tokens[-1].word == "last" and not word.isdigit():
            digits = ""  # "the last four of my social", not a digit
        tokens.append(_Token(start, end, word, digits, plain, text[previous_end:start]))
        previous_end = end
        if not digits and word not in _FILLERS and not word.startswith("["):
            plain += 1
        i += width
    return tokens


def _number_at(word: str, following: str) -> tuple[str, int]:
    """The digits a word (with the one after it, for "twenty seven" or "double one") says."""
    if word.isdigit():
        return word, 1
    if word in _UNITS:
        return _UNITS[word], 1
    if word in _TEENS:
        return _TEENS[word], 1
    if word in _TENS:
        unit = _UNITS.get(following, "0")
        return (_TENS[word] + unit, 2) if unit != "0" else (_TENS[word] + "0", 1)
    if word in _REPEAT:
        digit = _UNITS.get(following, following if len(following) == 1 else "")
        if digit.isdigit():
            return digit * _REPEAT[word], 2
    return "", 1


def _near(positions: Sequence[int], low: int, width: int) -> bool:
    """Whether any of the sorted positions lies in [low, low + width]."""
    at = bisect_left(positions, low)
    return at < len(positions) and positions[at] <= low + width


def _runs(tokens: Sequence[_Token]) -> list[list[int]]:
    """Indices of number tokens, grouped into runs allowing two fillers between them."""
    runs: list[list[int]] = []
    current: list[int] = []
    fillers = 0
    for index, token in enumerate(tokens):
        if token.digits:
            current.append(index)
            fillers = 0
        elif current and token.word in _FILLERS and fillers < 2:
            fillers += 1
        else:
            if current:
                runs.append(current)
            current, fillers = [], 0
    if current:
        runs.append(current)
    return runs


def _card_spans(tokens: Sequence[_Token], run: list[int], keyed: bool) -> list[tuple[int, int]]:
    lengths = [len(tokens[i].digits) for i in run]
    if _PHONE_SHAPE.fullmatch(",".join(map(str, lengths))):
        return []
    if keyed and sum(lengths) >= 12:
        return [(run[0], run[-1])]
    spans, i = [], 0
    while i < len(run):
        best, digits = -1, ""
        for j in range(i, len(run)):
            digits += tokens[run[j]].digits
            if len(digits) > 19:
                break
            if len(digits) >= 13 and luhn_valid(digits):
                best = j
        if best < 0:
            i += 1
        else:
            spans.append((run[i], run[best]))
            i = best + 1
    return spans


def _ssn_spans(tokens: Sequence[_Token], runs: list[list[int]]) -> list[tuple[int, int, str]]:
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


def _expiry_at(tokens: Sequence[_Token], i: int) -> list[tuple[int, int, str]]:
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
    first, month = j, j < len(tokens) and tokens[j].word in _MONTHS
    j += month
    last, digits, numbers = -1, "", 0
    while j < len(tokens) and numbers < 4:
        if tokens[j].word in ("slash", "of") and (last >= 0 or month):
            j += 1
            continue
        if not tokens[j].digits or len(digits + tokens[j].digits) > 6:
            break
        digits, last, numbers, j = digits + tokens[j].digits, j, numbers + 1, j + 1
    if last >= 0 and (len(digits) >= 3 or (month and len(digits) >= 2)):
        return [(first, last, EXPIRY)]
    return []


def _cvv_at(tokens: Sequence[_Token], i: int) -> list[tuple[int, int, str]]:
    for cue in _CVV_CUES:
        if i + 1 < len(cue) or tuple(t.word for t in tokens[i + 1 - len(cue) : i + 1]) != cue:
            continue
        j = _skip(tokens, i + 1, _CVV_LEAD)
        first, last, digits = j, -1, ""
        while j < len(tokens) and tokens[j].digits and len(digits + tokens[j].digits) <= 4:
            digits, last, j = digits + tokens[j].digits, j, j + 1
        if len(digits) in (3, 4):
            return [(first, last, CVV)]
    return []


def _skip(tokens: Sequence[_Token], j: int, lead: frozenset[str]) -> int:
    """Past up to four connecting words ("is", "the", "um") between a cue and its value."""
    for _ in range(4):
        if j < len(tokens) and (tokens[j].word in lead or tokens[j].word in _FILLERS):
            j += 1
    return j
