"""Revenue per member by current tier: every member counted under the tier they hold now,
with all the revenue of their paid orders (the monthly customer rows summed)."""

from __future__ import annotations

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.members.models import Member
from app.orm import table_of
from app.reports.models import ReportCustomerMonth, ReportTier


async def rebuild(session: AsyncSession, shop_id: int) -> None:
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
        {"shop_id": shop_id, "tier": key, "members": int(n), "revenue_minor": int(minor)}
        for key, n, minor in found
    ]
    await session.execute(delete(ReportTier).where(ReportTier.shop_id == shop_id))
    if rows:
        await session.execute(insert(table_of(ReportTier)), rows)
