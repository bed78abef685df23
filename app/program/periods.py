"""Calendar periods in the shop's time zone — a day, a week (from Monday), a month, a quarter,
a Gregorian or Jalali year — for caps ("5 per month"), spend goals, leaderboards and tier
windows, and rules' time frames.

A period starts at local midnight of its first day and ends where the next one starts; both
ends are turned into UTC, so that a cap resets at the shop's midnight, not the server's. The
Jalali year starts at Nowruz (Farvardin 1), as jdatetime places it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import jdatetime

Unit = Literal["day", "week", "month", "quarter", "year", "jalali_year"]


def nowruz(jalali_year: int) -> date:
    """Farvardin 1 (the Jalali new year) of ``jalali_year``, as a Gregorian date."""
    first: date = jdatetime.date(jalali_year, 1, 1).togregorian()
    return first


def jalali_year(day: date) -> int:
    year: int = jdatetime.date.fromgregorian(date=day).year
    return year


def first_day(day: date, unit: str) -> date:
    """The first day of the period of ``unit`` that the local date ``day`` falls in."""
    if unit == "day":
        return day
    if unit == "week":
        return day - timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    if unit == "quarter":
        return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    if unit == "year":
        return date(day.year, 1, 1)
    if unit == "jalali_year":
        return nowruz(jalali_year(day))
    raise ValueError(f"unknown period {unit!r}")


def _next_first_day(first: date, unit: str) -> date:
    if unit == "day":
        return first + timedelta(days=1)
    if unit == "week":
        return first + timedelta(days=7)
    if unit in ("month", "quarter"):
        months = first.month + (1 if unit == "month" else 3)
        return date(first.year + (months - 1) // 12, (months - 1) % 12 + 1, 1)
    if unit == "year":
        return date(first.year + 1, 1, 1)
    return nowruz(jalali_year(first) + 1)


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def bounds(when: datetime, unit: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The [start, end) in UTC of the calendar ``unit`` containing ``when`` in ``zone``."""
    first = first_day(when.astimezone(zone).date(), unit)
    return local_midnight(first, zone), local_midnight(_next_first_day(first, unit), zone)


def period_of(unit: str, when: datetime, timezone: str) -> date | None:
    """A key naming the period of ``unit`` that ``when`` falls in, in ``timezone``: its first
    local day (None for ``lifetime``, the one period of everything). Cheaper than
    :func:`bounds` where only "the same period?" is asked."""
    if unit == "lifetime":
        return None
    return first_day(when.astimezone(ZoneInfo(timezone)).date(), unit)


def in_frame(when: datetime, starts_at: datetime | None, ends_at: datetime | None) -> bool:
    """A rule's time frame: from ``starts_at`` (included) to ``ends_at`` (excluded)."""
    return (starts_at is None or when >= starts_at) and (ends_at is None or when < ends_at)
