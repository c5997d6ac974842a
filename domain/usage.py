"""Usage metering for chargeback: what processing a tenant's calls consumed, per tenant per UTC
day. Amounts only ever add up; a day's totals are the sum of every delta recorded that day."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import attrs


def _non_negative(_: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must not be negative")


def _seconds(value: float) -> float:
    # Stores keep whole milliseconds: sums are exact and the same in every store.
    return round(float(value), 3)


@attrs.frozen
class UsageDelta:
    """An amount of each metered resource: one stage's consumption, or a day's totals."""

    audio_seconds: float = attrs.field(default=0.0, converter=_seconds, validator=_non_negative)
    llm_tokens_in: int = attrs.field(default=0, validator=_non_negative)
    llm_tokens_out: int = attrs.field(default=0, validator=_non_negative)
    crm_api_calls: int = attrs.field(default=0, validator=_non_negative)
    stored_bytes: int = attrs.field(default=0, validator=_non_negative)

    def __add__(self, other: UsageDelta) -> UsageDelta:
        return UsageDelta(
            self.audio_seconds + other.audio_seconds,
            self.llm_tokens_in + other.llm_tokens_in,
            self.llm_tokens_out + other.llm_tokens_out,
            self.crm_api_calls + other.crm_api_calls,
            self.stored_bytes + other.stored_bytes,
        )

    def __bool__(self) -> bool:
        """True when anything was consumed."""
        return any(attrs.astuple(self))


NO_USAGE = UsageDelta()


@attrs.frozen
class DailyUsage:
    day: date
    totals: UsageDelta


def usage_day(at: datetime) -> date:
    """The metering day of a moment: its UTC date."""
    if at.tzinfo is None:
        raise ValueError("a usage time must be timezone-aware")
    return at.astimezone(UTC).date()


def total(days: list[DailyUsage]) -> UsageDelta:
    result = NO_USAGE
    for day in days:
        result += day.totals
    return result
