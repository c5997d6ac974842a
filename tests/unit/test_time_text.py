"""Times are written as text many times a webhook, by a faster writer than isoformat(): its
text must be isoformat()'s for every time (the call JSON and the rows depend on it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import example, given
from hypothesis import strategies as st

from domain.codec import iso, iso_microseconds

OFFSETS = st.sampled_from(
    [
        UTC,
        timezone(timedelta(0), "Z"),  # UTC's offset, not UTC itself
        timezone(timedelta(hours=-5)),
        timezone(timedelta(hours=5, minutes=30)),
    ]
)
# hypothesis takes naive bounds and adds the zone itself
LOWEST, HIGHEST = datetime(1, 1, 2), datetime(9999, 12, 30)  # noqa: DTZ001
TIMES = st.datetimes(min_value=LOWEST, max_value=HIGHEST, timezones=OFFSETS)


@given(TIMES)
@example(datetime(2026, 11, 23, 4, 0, 0, 0, tzinfo=UTC))  # no fraction: isoformat leaves it out
@example(datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC))  # a year of three digits
def test_iso_is_isoformat(at: datetime) -> None:
    assert iso(at) == at.isoformat()


@given(TIMES)
@example(datetime(2026, 11, 23, 4, 0, 0, 0, tzinfo=UTC))
def test_row_times_are_utc_to_the_microsecond(at: datetime) -> None:
    assert iso_microseconds(at) == at.astimezone(UTC).isoformat(timespec="microseconds")


@given(st.lists(TIMES, min_size=2, max_size=20))
def test_row_times_sort_as_the_times_do(times: list[datetime]) -> None:
    assert sorted(times) == sorted(times, key=iso_microseconds)


def test_times_within_one_second_each_have_their_own_text() -> None:
    base = datetime(2026, 11, 23, 4, 5, 6, tzinfo=UTC)
    texts = [iso(base + timedelta(microseconds=us)) for us in (0, 1, 999_999)]
    assert texts == [
        "2026-11-23T04:05:06+00:00",
        "2026-11-23T04:05:06.000001+00:00",
        "2026-11-23T04:05:06.999999+00:00",
    ]
    assert iso(base + timedelta(seconds=1)) == "2026-11-23T04:05:07+00:00"
    assert iso(None) is None
