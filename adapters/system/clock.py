from __future__ import annotations

import os
import secrets
import time
import uuid
from datetime import UTC, datetime

from ports.system import Clock, IdGenerator


class SystemClock(Clock):
    def now(self) -> datetime:
        return datetime.now(UTC)


class UuidIdGenerator(IdGenerator):
    def new_id(self) -> str:
        return uuid.uuid4().hex

    def new_token(self) -> str:
        return secrets.token_urlsafe(32)


class TimeOrderedIdGenerator(UuidIdGenerator):
    """Ids that sort by the time they were made: UUID version 7's layout (RFC 9562: 48 bits of
    Unix milliseconds, then 74 random bits), as 32 hex digits like uuid4's. A B-tree index on
    them (SQLite's job ids) takes each new one at its right edge, where the last ones went,
    instead of on a page of its own anywhere in the tree: fewer pages written per webhook.
    Not for Spanner, where keys that follow time all land on one split."""

    def new_id(self) -> str:
        random = int.from_bytes(os.urandom(10), "big")  # 80 bits; 74 are kept
        rand_a, rand_b = random >> 68, random & ((1 << 62) - 1)
        value = (time.time_ns() // 1_000_000) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
        return f"{value:032x}"
