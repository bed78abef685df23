"""Tier windows: which level a member's qualifying history entitles them to at a time, until
when, and what is still needed for the next level. Pure functions of the program's ``tiers``,
the shop's time zone and the member's history (no database, no clock).

A member's history is a list of :class:`Fact`: an amount (points earned or minor units spent,
net of what was refunded) at the time it counts (the order's payment). Periods are the shop's:
a calendar or Jalali year starts at 00:00 local time on its first day.

- ``lifetime``: the level of everything ever; only a refund takes it down.
- ``calendar_year`` / ``jalali_year``: a level reached in a year is kept through the next
  year; at the end of each year (plus ``grace_days``) the member is reviewed on the year just
  ended. So a level lasts until the end of the year after the one it was last qualified in.
- ``rolling_12_months``: the level of the last 12 months; when qualifying orders leave the
  window the member moves down ``grace_days`` later.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from app.program import periods
from app.program.document import Tiers

# The windows that are calendar periods, and which.
_YEARS = {"calendar_year": "year", "jalali_year": "jalali_year"}


@dataclass(frozen=True, slots=True)
class Fact:
    at: datetime  # aware UTC
    amount: int


@dataclass(frozen=True, slots=True)
class Period:
    start: datetime  # aware UTC, included
    end: datetime  # aware UTC, excluded


def period_of(window: str, zone: ZoneInfo, at: datetime) -> Period:
    """The calendar or Jalali year containing ``at``, in the shop's time zone."""
    if window not in _YEARS:
        raise ValueError(f"{window!r} has no periods")
    return Period(*periods.bounds(at, _YEARS[window], zone))


def _previous(window: str, zone: ZoneInfo, period: Period) -> Period:
    return period_of(window, zone, period.start - timedelta(seconds=1))


def _next(window: str, zone: ZoneInfo, period: Period) -> Period:
    return period_of(window, zone, period.end)


def leaves_window(zone: ZoneInfo, at: datetime) -> datetime:
    """When a fact at ``at`` leaves a rolling 12-month window: the same local time a year on
    (29 February: 28 February)."""
    local = at.astimezone(zone)
    try:
        later = local.replace(year=local.year + 1)
    except ValueError:
        later = local.replace(year=local.year + 1, day=28)
    return later.astimezone(UTC)


def total(facts: Sequence[Fact], start: datetime | None, end: datetime) -> int:
    """Facts in [start, end) (start None: from the beginning)."""
    return sum(f.amount for f in facts if (start is None or f.at >= start) and f.at < end)


def rolling(facts: Sequence[Fact], zone: ZoneInfo, at: datetime) -> int:
    """The last 12 months' total at ``at`` (a fact counts from its time until it leaves)."""
    return sum(f.amount for f in facts if f.at <= at < leaves_window(zone, f.at))


def level_for(tiers: Tiers, amount: int) -> int:
    """The index of the highest level whose threshold ``amount`` reaches (the first is 0)."""
    return max(i for i, level in enumerate(tiers.levels) if level.threshold <= amount)


def _until_now(facts: Sequence[Fact], now: datetime) -> list[Fact]:
    return [f for f in facts if f.at <= now]


def entitled(tiers: Tiers, zone: ZoneInfo, facts: Sequence[Fact], now: datetime) -> int:
    """The level index the history entitles the member to at ``now``."""
    facts = _until_now(facts, now)
    grace = timedelta(days=tiers.grace_days)
    if tiers.window == "lifetime":
        return level_for(tiers, sum(f.amount for f in facts))
    if tiers.window == "rolling_12_months":
        moments = [now, now - grace, *(f.at for f in facts if now - grace < f.at <= now)]
        return max(level_for(tiers, rolling(facts, zone, m)) for m in moments)
    current = period_of(tiers.window, zone, now)
    before = _previous(tiers.window, zone, current)
    best = max(
        level_for(tiers, total(facts, current.start, now + timedelta(microseconds=1))),
        level_for(tiers, total(facts, before.start, before.end)),
    )
    if now < current.start + grace:  # the review of the year before has not happened yet
        earlier = _previous(tiers.window, zone, before)
        best = max(best, level_for(tiers, total(facts, earlier.start, earlier.end)))
    return best


def review_at(
    tiers: Tiers, zone: ZoneInfo, facts: Sequence[Fact], level: int, now: datetime
) -> datetime | None:
    """The first time after ``now`` at which, with no new facts, the member is no longer
    entitled to ``level`` (None: never). ``now`` if they are not entitled to it now."""
    if level <= 0 or tiers.window == "lifetime":
        return None
    facts = _until_now(facts, now)
    threshold = tiers.levels[level].threshold
    grace = timedelta(days=tiers.grace_days)
    if tiers.window == "rolling_12_months":
        return _rolling_review(facts, zone, threshold, grace, now)
    current = period_of(tiers.window, zone, now)
    before = _previous(tiers.window, zone, current)
    if total(facts, current.start, now + timedelta(microseconds=1)) >= threshold:
        return _next(tiers.window, zone, current).end + grace
    if total(facts, before.start, before.end) >= threshold:
        return current.end + grace
    earlier = _previous(tiers.window, zone, before)
    if now < current.start + grace and total(facts, earlier.start, earlier.end) >= threshold:
        return current.start + grace
    return now


def _rolling_review(
    facts: Sequence[Fact], zone: ZoneInfo, threshold: int, grace: timedelta, now: datetime
) -> datetime:
    # The 12 months' total only falls when a fact leaves the window: find the last fall below
    # the threshold (one to come if the member qualifies now, else the one that just passed).
    falls = []
    for leave in sorted({leaves_window(zone, f.at) for f in facts}):
        before = sum(f.amount for f in facts if f.at < leave <= leaves_window(zone, f.at))
        after = rolling(facts, zone, leave)
        if before >= threshold > after:
            falls.append(leave)
    if rolling(facts, zone, now) >= threshold:
        upcoming = [leave for leave in falls if leave > now]
        return upcoming[0] + grace if upcoming else now + grace
    past = [leave for leave in falls if leave <= now]
    return max(past[-1] + grace, now) if past else now


def refund_review(tiers: Tiers, zone: ZoneInfo, now: datetime) -> datetime | None:
    """Until when a member keeps a level a refund no longer supports, under
    ``keep_until_period_end``: the end of the current period plus grace (rolling windows:
    ``grace_days``; lifetime: kept, as it has no period end)."""
    grace = timedelta(days=tiers.grace_days)
    if tiers.window == "lifetime":
        return None
    if tiers.window == "rolling_12_months":
        return now + grace
    return period_of(tiers.window, zone, now).end + grace


@dataclass(frozen=True, slots=True)
class Progress:
    qualifying: int  # counted now towards the next level, in the basis' unit
    next_level: int | None
    needed: int | None  # still to earn or spend for it
    window_ends_at: datetime | None  # the current window closes then (None: it never does)


def progress(
    tiers: Tiers, zone: ZoneInfo, facts: Sequence[Fact], level: int, now: datetime
) -> Progress:
    """What counts now towards the level after ``level``, and what is still needed."""
    facts = _until_now(facts, now)
    ends_at: datetime | None = None
    if tiers.window == "lifetime":
        counted = sum(f.amount for f in facts)
    elif tiers.window == "rolling_12_months":
        counted = rolling(facts, zone, now)
    else:
        current = period_of(tiers.window, zone, now)
        counted = total(facts, current.start, now + timedelta(microseconds=1))
        ends_at = current.end
    nxt = level + 1 if level + 1 < len(tiers.levels) else None
    needed = None if nxt is None else max(tiers.levels[nxt].threshold - counted, 0)
    return Progress(counted, nxt, needed, ends_at)


def history_since(tiers: Tiers, zone: ZoneInfo, now: datetime) -> datetime | None:
    """The oldest fact any of the functions above reads at ``now`` (None: all of them)."""
    grace = timedelta(days=tiers.grace_days)
    if tiers.window == "lifetime":
        return None
    if tiers.window == "rolling_12_months":
        return now - grace - timedelta(days=367)
    current = period_of(tiers.window, zone, now)
    return _previous(tiers.window, zone, _previous(tiers.window, zone, current)).start
