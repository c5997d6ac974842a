"""Opaque page cursors for newest-first call listings: (received_at, call_id) of the last row."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

from domain.errors import FieldError, ValidationFailed


def encode_cursor(received_at: datetime, call_id: str) -> str:
    raw = json.dumps([received_at.isoformat(), call_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        at, call_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        when = datetime.fromisoformat(at)
        if when.tzinfo is None or not isinstance(call_id, str):
            raise ValueError("not ours")
        return when.astimezone(UTC), call_id
    # Anything a client can make of a token: not base64, not JSON, nested past json.loads's
    # recursion, a time that overflows in UTC.
    except (ValueError, TypeError, RecursionError, OverflowError):
        raise ValidationFailed(
            [FieldError("page_token", "not a token this API issued")], "query"
        ) from None


def utc_time(text: str) -> datetime:
    """An ISO 8601 time with its offset ("Z" too), in UTC. ValueError for anything else,
    including a time that exists only in its own offset (9999-12-31T23:59:59-23:59 falls in
    year 10000 in UTC)."""
    try:
        at = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        if at.tzinfo is None:
            raise ValueError("no offset")
        return at.astimezone(UTC)
    except OverflowError:
        raise ValueError("out of range") from None
