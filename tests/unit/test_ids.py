"""The id generators the composition root picks by database."""

from __future__ import annotations

import time
import uuid

from adapters.system.clock import TimeOrderedIdGenerator, UuidIdGenerator


def test_time_ordered_ids_are_uuid7_hex_and_sort_by_time() -> None:
    ids = TimeOrderedIdGenerator()
    first = [ids.new_id() for _ in range(50)]
    time.sleep(0.003)  # the ordering is by millisecond
    later = [ids.new_id() for _ in range(50)]
    for value in first + later:
        assert len(value) == 32
        assert value == value.lower()
        parsed = uuid.UUID(hex=value)
        assert parsed.version == 7
        assert parsed.variant == uuid.RFC_4122
    assert max(first) < min(later)
    assert len(set(first + later)) == 100


def test_time_ordered_ids_carry_the_time_they_were_made() -> None:
    before_ms = time.time_ns() // 1_000_000
    value = TimeOrderedIdGenerator().new_id()
    after_ms = time.time_ns() // 1_000_000
    assert before_ms <= int(value[:12], 16) <= after_ms


def test_random_ids_stay_uuid4_for_spanner() -> None:
    value = UuidIdGenerator().new_id()
    assert uuid.UUID(hex=value).version == 4
