"""E.164 phone normalisation.

CallRail reports numbers as typed by the caller's carrier or the web form, so the same number
arrives as "+1 (214) 865-4559", "214.865.4559" or "12148654559". CRMs match contacts by exact
string, so every number is normalised once, here. Numbers without a country code are taken as
North American (CallRail's market); anything that cannot be an E.164 number gives None rather
than a guess.
"""

from __future__ import annotations

import re

_EXTENSION = re.compile(r"\s*(?:ext\.?|extension|x|#)\s*\d+\s*$", re.IGNORECASE)
_ALLOWED = re.compile(r"^[0-9\s().+\-/]+$")  # ASCII digits only: \d takes any script's
_NOT_DIGITS = re.compile(r"\D")


def normalize_e164(raw: str | None) -> str | None:
    if raw is None:
        return None
    text = raw.strip()
    # Digits alone, perhaps after a "+" (most numbers CallRail sends): nothing to take out.
    international = text.startswith("+")
    digits = text[1:] if international else text
    if not (digits.isascii() and digits.isdigit()):
        return _from_digits(*_digits_of(text)) if text else None
    return _from_digits(international, digits)


def _digits_of(text: str) -> tuple[bool, str]:
    """Whether `text` (a number as typed) is international, and its digits; no digits when it
    is no number (letters, another script's digits)."""
    text = _EXTENSION.sub("", text)
    if not text or not _ALLOWED.match(text):
        return False, ""
    return text.startswith("+"), _NOT_DIGITS.sub("", text)


def _from_digits(international: bool, digits: str) -> str | None:
    if not digits:
        return None
    if not international and digits.startswith("00"):
        international, digits = True, digits[2:]
    if international:
        return f"+{digits}" if _plausible_international(digits) else None
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) == 10 and _plausible_nanp(digits):
        return f"+1{digits}"
    return None


def _plausible_international(digits: str) -> bool:
    if not 8 <= len(digits) <= 15 or digits.startswith("0"):
        return False
    if digits.startswith("1"):
        return len(digits) == 11 and _plausible_nanp(digits[1:])
    return True


def _plausible_nanp(ten: str) -> bool:
    # North American area codes and exchanges never start with 0 or 1.
    return ten[0] not in "01" and ten[3] not in "01"
