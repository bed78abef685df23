"""Calendar periods in the shop's time zone, for caps and spend goals: which period a moment
falls in (day, ISO week, month, quarter, Gregorian or Jalali year, or the whole lifetime)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

# The years the Jalali calendar's 33-year cycles break at (the jalaali algorithm of
# Borkowski, as jalaali-js implements it): enough to place Farvardin 1 of any year we meet.
_BREAKS = (-61, 9, 38, 199, 426, 686, 756, 818, 1111, 1181, 1210, 1635, 2060, 2097, 2192,
           2262, 2324, 2394, 2456, 3178)  # fmt: skip


def nowruz(jalali_year: int) -> date:
    """Farvardin 1 (the Jalali new year) of ``jalali_year``, as a Gregorian date."""
    gy = jalali_year + 621
    leap_j, jp, jump = -14, _BREAKS[0], 0
    for jm in _BREAKS[1:]:
        jump = jm - jp
        if jalali_year < jm:
            break
        leap_j += jump // 33 * 8 + jump % 33 // 4
        jp = jm
    n = jalali_year - jp
    leap_j += n // 33 * 8 + (n % 33 + 3) // 4
    if jump % 33 == 4 and jump - n == 4:
        leap_j += 1
    leap_g = gy // 4 - (gy // 100 + 1) * 3 // 4 - 150
    return date(gy, 3, 20 + leap_j - leap_g)


def jalali_year(day: date) -> int:
    year = day.year - 621
    return year if day >= nowruz(year) else year - 1


def period_of(unit: str, when: datetime, timezone: str) -> tuple[int, ...]:
    """A key naming the period of ``unit`` that ``when`` falls in, in ``timezone``."""
    local = when.astimezone(ZoneInfo(timezone)).date()
    if unit == "lifetime":
        return ()
    if unit == "day":
        return (local.toordinal(),)
    if unit == "week":
        iso = local.isocalendar()
        return (iso.year, iso.week)
    if unit == "month":
        return (local.year, local.month)
    if unit == "quarter":
        return (local.year, (local.month - 1) // 3)
    if unit == "year":
        return (local.year,)
    if unit == "jalali_year":
        return (jalali_year(local),)
    raise ValueError(f"unknown period {unit!r}")
