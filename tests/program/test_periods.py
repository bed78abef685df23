"""Calendar periods in the shop's time zone: where each starts and ends, in UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.program.periods import Unit, bounds, in_frame, period_of

TEHRAN = ZoneInfo("Asia/Tehran")
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("when", "unit", "zone", "start", "end"),
    [
        # 2026-12-31 22:00 UTC is already 1 January 01:30 in Tehran: the new year.
        (datetime(2026, 12, 31, 22, 0, tzinfo=UTC), "year", TEHRAN,
         datetime(2026, 12, 31, 20, 30, tzinfo=UTC), datetime(2027, 12, 31, 20, 30, tzinfo=UTC)),
        (datetime(2026, 12, 15, tzinfo=UTC), "month", TEHRAN,
         datetime(2026, 11, 30, 20, 30, tzinfo=UTC), datetime(2026, 12, 31, 20, 30, tzinfo=UTC)),
        # Thursday 3 December 2026: its week starts at local midnight on Monday 30 November.
        (datetime(2026, 12, 3, 12, 0, tzinfo=UTC), "week", TEHRAN,
         datetime(2026, 11, 29, 20, 30, tzinfo=UTC), datetime(2026, 12, 6, 20, 30, tzinfo=UTC)),
        # The third quarter, from 1 July at midnight in Tehran.
        (datetime(2026, 9, 30, 12, 0, tzinfo=UTC), "quarter", TEHRAN,
         datetime(2026, 6, 30, 20, 30, tzinfo=UTC), datetime(2026, 9, 30, 20, 30, tzinfo=UTC)),
        # Jalali 1405 runs from Nowruz (21 March 2026) to Nowruz 1406 (21 March 2027).
        (datetime(2026, 12, 1, tzinfo=UTC), "jalali_year", TEHRAN,
         datetime(2026, 3, 20, 20, 30, tzinfo=UTC), datetime(2027, 3, 20, 20, 30, tzinfo=UTC)),
        # The day summer time starts in Berlin has 23 hours.
        (datetime(2026, 3, 29, 12, 0, tzinfo=UTC), "day", BERLIN,
         datetime(2026, 3, 28, 23, 0, tzinfo=UTC), datetime(2026, 3, 29, 22, 0, tzinfo=UTC)),
    ],
)  # fmt: skip
def test_a_period_runs_from_local_midnight_to_the_next_ones(
    when: datetime, unit: Unit, zone: ZoneInfo, start: datetime, end: datetime
) -> None:
    assert bounds(when, unit, zone) == (start, end)
    assert bounds(start, unit, zone) == (start, end)
    assert bounds(end - timedelta(microseconds=1), unit, zone) == (start, end)
    assert bounds(end, unit, zone)[0] == end


def test_the_period_key_is_the_first_local_day() -> None:
    # 20 March 2027 20:30 UTC is already Farvardin 1, 1406 in Tehran, still 20 March in UTC.
    at = datetime(2027, 3, 20, 20, 30, tzinfo=UTC)
    assert period_of("jalali_year", at, "Asia/Tehran") == date(2027, 3, 21)
    assert period_of("jalali_year", at, "UTC") == date(2026, 3, 21)
    assert period_of("quarter", at, "UTC") == date(2027, 1, 1)
    assert period_of("week", at, "UTC") == date(2027, 3, 15)  # a Monday
    with pytest.raises(ValueError, match="unknown period"):
        period_of("fortnight", at, "UTC")


def test_a_frame_includes_its_start_and_excludes_its_end() -> None:
    start, end = datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 8, tzinfo=UTC)
    tick = timedelta(microseconds=1)
    assert [in_frame(t, start, end) for t in (start - tick, start, end - tick, end)] == [
        False, True, True, False,
    ]  # fmt: skip
    assert in_frame(start, None, None)
