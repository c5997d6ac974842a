"""Retry policy: bounded attempts, exponential backoff with jitter.

The jitter is derived from the call's identity and the attempt number rather than a random
source: the domain reads no randomness, calls retried together still spread out, and a test
can predict every delay."""

from __future__ import annotations

import hashlib

import attrs


@attrs.frozen
class RetryPolicy:
    max_attempts: int = 5
    base_delay_s: float = 5.0
    max_delay_s: float = 900.0

    def delay_s(self, attempt: int, key: str, server_hint_s: float | None = None) -> float:
        """The wait before attempt number `attempt + 1`, never less than the server asked."""
        exponential = min(self.max_delay_s, self.base_delay_s * 2 ** max(0, attempt - 1))
        digest = hashlib.sha256(f"{key}:{attempt}".encode()).digest()
        jitter = 0.5 + digest[0] / 510  # 0.5 .. 1.0
        delay = exponential * jitter
        if server_hint_s is not None:
            delay = max(delay, min(server_hint_s, self.max_delay_s))
        return float(round(delay, 3))

    def exhausted(self, attempt: int) -> bool:
        return attempt >= self.max_attempts
