"""Revenue per member by current tier: every member counted under the tier they hold now,
with all the revenue of their paid orders (the monthly customer rows summed).

It reads every member of the shop (about 7 s for 1,000,000 members on PostgreSQL, 2 cores),
so a tick makes it again at most once every ``EVERY``; a rebuild always does. Lifetime value
moves slowly: an hour's delay is within what the report means."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.members.models import Member
from app.orm import table_of
from app.reports.models import ReportCustomerMonth, ReportTier

EVERY = timedelta(hours=1)


async def rebuild(session: AsyncSession, shop_id: int, now: datetime, *, force: bool) -> bool:
    """Whether it was made again (not: made less than ``EVERY`` before ``now``)."""
    if not force:
        made = await session.scalar(
            select(func.max(ReportTier.made_at)).where(ReportTier.shop_id == shop_id)
        )
        if made is not None and now - made < EVERY:
            return False
    cm = ReportCustomerMonth
    spent = (
        select(cm.customer, func.sum(cm.revenue_minor).label("minor"))
        .where(cm.shop_id == shop_id, cm.member.is_(True))
        .group_by(cm.customer)
        .subquery()
    )
    tier = func.coalesce(Member.tier, "")
    found = await session.execute(
        select(tier, func.count(), func.coalesce(func.sum(spent.c.minor), 0))
        .outerjoin(spent, spent.c.customer == Member.customer_id)
        .where(Member.shop_id == shop_id)
        .group_by(tier)
    )
    rows = [
        {"shop_id": shop_id, "tier": key, "members": int(n), "revenue_minor": int(minor),
         "made_at": now}
        for key, n, minor in found
    ]  # fmt: skip
    await session.execute(delete(ReportTier).where(ReportTier.shop_id == shop_id))
    if rows:
        await session.execute(insert(table_of(ReportTier)), rows)
    return True
