"""JSON text read with orjson wherever orjson reads it as the standard library does, and with
the standard library everywhere else, so the result is always json.loads's.

Where they differ: orjson reads an integer beyond 64 bits as a float (json.loads keeps it
exact), and refuses what json.loads accepts (NaN and Infinity, a lone surrogate escape, a byte
order mark, nesting past 1,024). A text with a run of 19 digits or more (any integer that may
not fit in 64 bits has one) goes to the standard library at once; what orjson refuses, after
it. A webhook's body is read about twice as fast this way (the CallRail test vector: 17-18 us
-> ~8 us, the digit check included; a whole webhook 1,537k -> 1,445k interpreter instructions
under callgrind).
"""

from __future__ import annotations

import json
from typing import Any

import orjson

# Every ASCII digit to "0", every other byte to a space: a long number becomes a run of zeros.
_DIGITS = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
_LONG_NUMBER = b"0" * 19  # the shortest run an integer beyond 64 bits can have (-2**63 - 1)


def orjson_loads(text: bytes) -> Any:
    """json.loads(text), faster where orjson gives the same answer."""
    if _LONG_NUMBER not in text.translate(_DIGITS):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass  # perhaps something only the standard library reads: it decides
    return json.loads(text)
