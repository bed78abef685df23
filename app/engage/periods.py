"""Calendar periods in the shop's time zone, for caps ("5 per month") and windows.

A period starts at local midnight of its first day (a week on Monday) and ends where the next
one starts; both ends are turned into UTC, so that a cap resets at the shop's midnight, not
the server's."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

Unit = Literal["day", "week", "month", "year"]


def _first_day(day: date, unit: Unit) -> date:
    if unit == "day":
        return day
    if unit == "week":
        return day - timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    return day.replace(month=1, day=1)


def _next_first_day(first: date, unit: Unit) -> date:
    if unit == "day":
        return first + timedelta(days=1)
    if unit == "week":
        return first + timedelta(days=7)
    if unit == "month":
        return date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return date(first.year + 1, 1, 1)


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def bounds(when: datetime, unit: Unit, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The [start, end) in UTC of the calendar ``unit`` containing ``when`` in ``zone``."""
    first = _first_day(when.astimezone(zone).date(), unit)
    return local_midnight(first, zone), local_midnight(_next_first_day(first, unit), zone)


def in_frame(when: datetime, starts_at: datetime | None, ends_at: datetime | None) -> bool:
    """A rule's time frame: from ``starts_at`` (included) to ``ends_at`` (excluded)."""
    return (starts_at is None or when >= starts_at) and (ends_at is None or when < ends_at)
