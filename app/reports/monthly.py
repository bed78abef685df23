"""The monthly rollups: each customer's paid orders per month, and from them each month's
buying customers (members apart from non-members, how many bought again) and each join
month's members who bought in a later month (cohort retention).

A month's customer rows are made again, whole, from its paid orders whenever one of its days
changed; the aggregates of that month and every later one are made again after (whether a
customer bought before depends on the earlier months)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, delete, exists, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.members.models import Member
from app.orm import table_of
from app.reports.models import ReportCohort, ReportCustomerMonth, ReportMonth
from app.reports.orders import local_start, month_of, next_month, paid_orders

_CHUNK = 500


async def rebuild_customers(
    session: AsyncSession, shop_id: int, months: Sequence[date], zone: ZoneInfo
) -> None:
    for month in sorted(set(months)):
        start, end = local_start(month, zone), local_start(next_month(month), zone)
        bought: dict[str, list[int]] = {}
        members: set[str] = set()
        for order in await paid_orders(session, shop_id, start, end):
            row = bought.setdefault(order.customer, [0, 0])
            row[0] += 1
            row[1] += order.net_minor
            if order.customer_id is not None:
                members.add(order.customer_id)
        joined = await _join_months(session, shop_id, sorted(members), zone)
        await session.execute(
            delete(ReportCustomerMonth).where(
                ReportCustomerMonth.shop_id == shop_id, ReportCustomerMonth.month == month
            )
        )
        if bought:
            await session.execute(
                insert(table_of(ReportCustomerMonth)),
                [{"shop_id": shop_id, "month": month, "customer": who, "member": who in members,
                  "joined": joined.get(who), "orders": n, "revenue_minor": minor}
                 for who, (n, minor) in bought.items()],
            )  # fmt: skip


async def _join_months(
    session: AsyncSession, shop_id: int, customers: list[str], zone: ZoneInfo
) -> dict[str, date]:
    out: dict[str, date] = {}
    for at in range(0, len(customers), _CHUNK):
        for customer, made in await session.execute(
            select(Member.customer_id, Member.created_at).where(
                Member.shop_id == shop_id, Member.customer_id.in_(customers[at : at + _CHUNK])
            )
        ):
            out[customer] = month_of(made.astimezone(zone).date())
    return out


async def rebuild_aggregates(session: AsyncSession, shop_id: int, since: date) -> None:
    """The months from ``since`` on: buyers per month, and the cohorts' cells in them."""
    cm = ReportCustomerMonth
    earlier = aliased(ReportCustomerMonth)
    bought_before = exists().where(
        earlier.shop_id == cm.shop_id, earlier.customer == cm.customer, earlier.month < cm.month
    )
    again = func.sum(case((or_(cm.orders >= 2, bought_before), 1), else_=0))
    months = await session.execute(
        select(cm.month, cm.member, func.count(), again, func.sum(cm.orders),
               func.sum(cm.revenue_minor))
        .where(cm.shop_id == shop_id, cm.month >= since)
        .group_by(cm.month, cm.member)
    )  # fmt: skip
    await session.execute(
        delete(ReportMonth).where(ReportMonth.shop_id == shop_id, ReportMonth.month >= since)
    )
    rows = [
        {"shop_id": shop_id, "month": month, "member": bool(member), "customers": int(n),
         "repeat_customers": int(repeat), "orders": int(orders), "revenue_minor": int(minor)}
        for month, member, n, repeat, orders, minor in months
    ]  # fmt: skip
    if rows:
        await session.execute(insert(table_of(ReportMonth)), rows)
    cells = await session.execute(
        select(cm.joined, cm.month, func.count())
        .where(cm.shop_id == shop_id, cm.month >= since, cm.member.is_(True),
               and_(cm.joined.is_not(None), cm.month >= cm.joined))
        .group_by(cm.joined, cm.month)
    )  # fmt: skip
    await session.execute(
        delete(ReportCohort).where(ReportCohort.shop_id == shop_id, ReportCohort.month >= since)
    )
    rows = [
        {"shop_id": shop_id, "cohort": cohort, "month": month, "retained": int(n)}
        for cohort, month, n in cells
    ]
    if rows:
        await session.execute(insert(table_of(ReportCohort)), rows)
