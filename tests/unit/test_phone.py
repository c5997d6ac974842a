"""E.164 normalisation: the same caller must always come out as the same CRM key."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from domain.phone import normalize_e164

E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")

# A NANP number: area code and exchange never start with 0 or 1.
area_codes = st.integers(min_value=200, max_value=999)
exchanges = st.integers(min_value=200, max_value=999)
lines = st.integers(min_value=0, max_value=9999)

Format = Callable[[str, str, str], str]
FORMATS: list[Format] = [
    lambda a, e, n: f"{a}{e}{n}",
    lambda a, e, n: f"({a}) {e}-{n}",
    lambda a, e, n: f"{a}.{e}.{n}",
    lambda a, e, n: f"{a}-{e}-{n}",
    lambda a, e, n: f"+1 {a} {e} {n}",
    lambda a, e, n: f"+1 ({a}) {e}-{n}",
    lambda a, e, n: f"+1{a}{e}{n}",
    lambda a, e, n: f"1-{a}-{e}-{n}",
    lambda a, e, n: f"1 ({a}) {e}-{n}",
    lambda a, e, n: f"1{a}{e}{n}",
    lambda a, e, n: f"001 {a} {e} {n}",
    lambda a, e, n: f"  {a}/{e}-{n}  ",
]
EXTENSIONS = ["", " ext 12", " ext. 7", " extension 345", " x99", "x12", " #4"]


@given(
    area=area_codes,
    exchange=exchanges,
    line=lines,
    render=st.sampled_from(FORMATS),
    extension=st.sampled_from(EXTENSIONS),
)
def test_every_rendering_of_a_nanp_number_gives_the_same_e164(
    area: int, exchange: int, line: int, render: Format, extension: str
) -> None:
    a, e, n = str(area), str(exchange), f"{line:04d}"
    assert normalize_e164(render(a, e, n) + extension) == f"+1{a}{e}{n}"


@pytest.mark.parametrize(
    "raw",
    [
        "(214) 865-4559",
        "214.865.4559",
        "+1 214 865 4559",
        "1-214-865-4559",
        "001 214 865 4559",
        "214-865-4559 ext 12",
        "+1 (214) 865-4559",
        "12148654559",
    ],
)
def test_the_formats_callrail_sends_normalise_to_one_number(raw: str) -> None:
    assert normalize_e164(raw) == "+12148654559"


# Digits of other scripts: Python's \d matches them, E.164 does not allow them.
ARABIC_INDIC = "".join(chr(0x0660 + int(d)) for d in "2148654559")
FULL_WIDTH = "".join(chr(0xFF10 + int(d)) for d in "2148654559")
phoneish = st.text(alphabet="0123456789 +-().#/extension", max_size=30)


@given(raw=st.one_of(st.text(), phoneish))
@example(raw=ARABIC_INDIC)  # not E.164, whatever number they spell
@example(raw=FULL_WIDTH)
@example(raw="+" + FULL_WIDTH)
def test_output_is_none_or_strict_e164(raw: str) -> None:
    result = normalize_e164(raw)
    assert result is None or E164.match(result), result


@given(raw=st.one_of(st.text(), phoneish))
def test_normalisation_is_idempotent(raw: str) -> None:
    once = normalize_e164(raw)
    if once is not None:
        assert normalize_e164(once) == once


@given(raw=st.one_of(st.none(), st.text(), st.binary().map(lambda b: b.decode("latin-1"))))
def test_arbitrary_text_never_raises(raw: str | None) -> None:
    result = normalize_e164(raw)
    assert result is None or isinstance(result, str)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+44 20 7946 0958", "+442079460958"),
        ("0044 20 7946 0958", "+442079460958"),
        ("+49 (30) 123456", "+4930123456"),
        ("+61 2 9876 5432", "+61298765432"),
        ("+1 404 555 8514", "+14045558514"),
    ],
)
def test_international_numbers_keep_their_country_code(raw: str, expected: str) -> None:
    assert normalize_e164(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "   ",
        "anonymous",
        "Restricted",
        "12",
        "555-1234",  # seven digits: no area code
        "(014) 865-4559",  # area code cannot start with 0
        "(214) 165-4559",  # exchange cannot start with 1
        "+1 014 865 4559",
        "+12345",  # too short for any country
        "+1234567890123456",  # longer than E.164 allows
        "+0 20 7946 0958",  # no country code starts with 0
        "214 865 4559 call me",
    ],
)
def test_what_cannot_be_a_phone_number_gives_none(raw: str | None) -> None:
    assert normalize_e164(raw) is None


def _as_first_written(raw: str | None) -> str | None:
    """The rules in one piece, as they were before digits-only numbers took a short cut."""
    if raw is None:
        return None
    text = re.sub(r"\s*(?:ext\.?|extension|x|#)\s*\d+\s*$", "", raw.strip(), flags=re.IGNORECASE)
    if not text or not re.match(r"^[0-9\s().+\-/]+$", text):
        return None
    international = text.startswith("+")
    digits = re.sub(r"\D", "", text)
    if not international and digits.startswith("00"):
        international, digits = True, digits[2:]
    if international:
        ok = 8 <= len(digits) <= 15 and not digits.startswith("0")
        if ok and digits.startswith("1"):
            ok = len(digits) == 11 and digits[1] not in "01" and digits[4] not in "01"
        return f"+{digits}" if ok else None
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) == 10 and digits[0] not in "01" and digits[3] not in "01":
        return f"+1{digits}"
    return None


@given(
    st.one_of(
        st.text(alphabet="0123456789", max_size=18),
        st.text(alphabet="+0123456789 ", max_size=18),
        st.text(alphabet="+0123456789()-./ x#ext٣", max_size=22),
        st.text(max_size=12),
    )
)
@example("+")
@example("")
@example(" +12148654559 ")
@example("+٣12148654559")  # another script's digit
def test_the_short_cut_for_digits_gives_what_the_rules_give(raw: str) -> None:
    assert normalize_e164(raw) == _as_first_written(raw)
