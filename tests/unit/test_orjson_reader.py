"""The webhook's JSON reader gives json.loads's answer, or raises its error, for every text:
orjson where the two agree, the standard library where they may not."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.system.orjson_reader import orjson_loads


def same(a: Any, b: Any) -> bool:
    """Equal, of the same types all the way down, dicts' keys in the same order (1 == 1.0 and
    {"a": 1, "b": 2} == {"b": 2, "a": 1} in Python, but not in a stored payload)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


def outcome(text: bytes) -> tuple[str, Any]:
    try:
        return "value", json.loads(text)
    except (ValueError, RecursionError) as exc:
        return "error", type(exc)


def assert_reads_as_json_does(text: bytes) -> None:
    kind, expected = outcome(text)
    if kind == "error":
        with pytest.raises(expected):
            orjson_loads(text)
    else:
        assert same(orjson_loads(text), expected)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**62, max_value=2**70)
    | st.integers(min_value=-(2**70), max_value=-(2**62))
    | st.floats()  # NaN and the infinities too: json.dumps writes them, json.loads reads them
    | st.text(st.characters(codec=None)),  # lone surrogates too (json.dumps escapes them)
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=20,
)


@given(value=json_values, ascii_only=st.booleans())
def test_any_text_json_dumps_writes_reads_back_as_json_loads_reads_it(
    value: Any, ascii_only: bool
) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    assert_reads_as_json_does(text)


@given(garbage=st.binary(max_size=64))
def test_any_bytes_read_or_fail_as_json_loads_does(garbage: bytes) -> None:
    assert_reads_as_json_does(garbage)


@pytest.mark.parametrize(
    "text",
    [
        b'{"id": 18446744073709551617}',  # 2**64 + 1: orjson alone would make it a float
        b'{"id": -9223372036854775809}',  # -2**63 - 1
        b'{"id": 9223372036854775807, "n": -9223372036854775808}',  # the 64-bit edges
        b'{"duration": NaN, "x": -Infinity}',
        b'{"name": "\\ud800"}',  # a lone surrogate escape
        b'\xef\xbb\xbf{"id": 1}',  # a byte order mark
        b'{"a": ' + b"[" * 1_030 + b"]" * 1_030 + b"}",  # past orjson's depth limit
        b'{"a": 1, "b": 2, "a": 3}',  # a repeated key: the last value, the first place
        b'{"x": 1.00000000000000000000001, "y": 0.1, "z": 1e400}',
        b"",
        b"{",
        b'{"id": "\xc3\x28"}',  # invalid UTF-8 inside a string
    ],
)
def test_where_orjson_and_json_loads_differ_json_loads_answers(text: bytes) -> None:
    assert_reads_as_json_does(text)


def test_an_integer_beyond_64_bits_stays_exact() -> None:
    assert orjson_loads(b'{"id": 18446744073709551617}') == {"id": 2**64 + 1}
