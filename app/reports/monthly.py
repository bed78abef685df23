"""The monthly rollups: each customer's paid orders per month, and from them each month's
buying customers (members apart from non-members, how many bought again) and each join
month's members who bought in a later month (cohort retention).

A customer's row for a month is made again from their paid orders of that month whenever one
of their orders was paid on a day that changed (the daily rollup's days); the aggregates of
that month and every later one are made again after (whether a customer bought before depends
on the earlier months)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, delete, exists, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.members.models import Member
from app.orm import table_of
from app.program.models import Order
from app.reports.models import ReportCohort, ReportCustomerMonth, ReportMonth
from app.reports.orders import (
    PaidOrder,
    buyer,
    local_start,
    month_of,
    next_month,
    paid_orders,
    runs,
)

_CHUNK = 500
_FULL = 2000  # more members touched than this: the month's rows made again whole


async def rebuild_customers(
    session: AsyncSession, shop_id: int, days: Sequence[date], zone: ZoneInfo
) -> None:
    """The customer rows of the months of these days: whole for a month every day of which
    changed (a rebuild), else only the rows of the customers with an order paid on a changed
    day (a tick: today and yesterday need not read the whole month's orders)."""
    by_month: dict[date, list[date]] = defaultdict(list)
    for day in sorted(set(days)):
        by_month[month_of(day)].append(day)
    for month, changed in by_month.items():
        start, end = local_start(month, zone), local_start(next_month(month), zone)
        keys: set[str] | None = None
        if len(changed) < (next_month(month) - month).days:
            keys, members, guests = await _buyers_on(session, shop_id, changed, zone)
            if len(members) > _FULL:
                keys = None
        if keys is None:
            orders = await paid_orders(session, shop_id, start, end)
            await session.execute(
                delete(ReportCustomerMonth).where(
                    ReportCustomerMonth.shop_id == shop_id, ReportCustomerMonth.month == month
                )
            )
        elif keys:
            found = await paid_orders(session, shop_id, start, end, members=sorted(members),
                                      guests=guests)  # fmt: skip
            orders = [o for o in found if o.customer in keys]
            ordered = sorted(keys)
            for at in range(0, len(ordered), _CHUNK):
                await session.execute(
                    delete(ReportCustomerMonth).where(
                        ReportCustomerMonth.shop_id == shop_id,
                        ReportCustomerMonth.month == month,
                        ReportCustomerMonth.customer.in_(ordered[at : at + _CHUNK]),
                    )
                )
        else:
            continue
        await _insert(session, shop_id, month, orders, zone)


async def _buyers_on(
    session: AsyncSession, shop_id: int, days: list[date], zone: ZoneInfo
) -> tuple[set[str], set[str], bool]:
    """Who has an order paid on these days, in any state now (a cancelled one's row goes):
    their keys, the members among them, and whether any is a guest."""
    keys: set[str] = set()
    members: set[str] = set()
    for first, last in runs(days):
        for order_id, customer_id, contact in await session.execute(
            select(Order.order_id, Order.customer_id, Order.contact_keys).where(
                Order.shop_id == shop_id,
                Order.paid_at >= local_start(first, zone),
                Order.paid_at < local_start(last + timedelta(days=1), zone),
            )
        ):
            keys.add(buyer(order_id, customer_id, contact))
            if customer_id is not None:
                members.add(customer_id)
    return keys, members, len(keys) > len(members)


async def _insert(
    session: AsyncSession, shop_id: int, month: date, orders: list[PaidOrder], zone: ZoneInfo
) -> None:
    bought: dict[str, list[int]] = {}
    members: set[str] = set()
    for order in orders:
        row = bought.setdefault(order.customer, [0, 0])
        row[0] += 1
        row[1] += order.net_minor
        if order.customer_id is not None:
            members.add(order.customer_id)
    joined = await _join_months(session, shop_id, sorted(members), zone)
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
