"""The rollups beyond the daily one, made again for the days the daily rollup made again (the
periodic task and ``vafa reports rebuild`` call this beside ``rollup.rebuild``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from app.reports import campaigns, clv, monthly
from app.reports.orders import month_of


async def rebuild(
    session: AsyncSession, shop_id: int, days: Iterable[date], zone: ZoneInfo, now: datetime,
    *, aggregate: bool = True,
) -> None:  # fmt: skip
    """``aggregate`` False: only the rows by day and by customer (a rebuild aggregates once,
    at its end, with :func:`aggregate`)."""
    wanted = sorted(set(days))
    if not wanted:
        return
    await campaigns.rebuild(session, shop_id, wanted, zone)
    await monthly.rebuild_customers(session, shop_id, wanted, zone)
    if aggregate:
        await aggregate_since(session, shop_id, month_of(wanted[0]), now, whole=False)


async def aggregate_since(
    session: AsyncSession, shop_id: int, since: date, now: datetime, *, whole: bool
) -> None:
    """The aggregates of ``since``'s month and every later one, and the tiers' (a tier can
    change without an order: by the clock, not by the days; always when ``whole``)."""
    await monthly.rebuild_aggregates(session, shop_id, month_of(since))
    await clv.rebuild(session, shop_id, now, force=whole)
