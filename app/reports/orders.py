"""The paid orders the reports count: known, paid in the window, neither cancelled nor deleted,
their merchandise net of refunds (the daily rollup counts the same orders)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.program.models import Order, OrderRefund

_EMAIL_KEY = "email:"


@dataclass(frozen=True, slots=True)
class PaidOrder:
    order_id: str
    paid_at: datetime
    customer_id: str | None  # None: a guest's order (every customer with an account is a member)
    net_minor: int
    discount_codes: list[str]
    contact_keys: list[str]

    @property
    def customer(self) -> str:
        return buyer(self.order_id, self.customer_id, self.contact_keys)


def buyer(order_id: str, customer_id: str | None, contact_keys: Sequence[str] | None) -> str:
    """Who bought: a member by customer id; a guest by the hash of the e-mail on the order
    (app/referrals/contact.py: no address is kept), else the order stands alone."""
    if customer_id is not None:
        return customer_id
    email = next((k for k in contact_keys or () if k.startswith(_EMAIL_KEY)), None)
    return f"guest:{email}" if email else f"order:{order_id}"


async def paid_orders(
    session: AsyncSession, shop_id: int, start: datetime, end: datetime, *,
    members: Sequence[str] | None = None, guests: bool = True,
) -> list[PaidOrder]:  # fmt: skip
    """The window's paid orders; only these members' (and the guests', unless ``guests`` is
    False) when ``members`` is given."""
    refunded = (
        select(func.coalesce(func.sum(OrderRefund.merchandise_minor), 0))
        .where(OrderRefund.shop_id == shop_id, OrderRefund.order_id == Order.order_id)
        .scalar_subquery()
    )
    whose = []
    if members is not None:
        mine = Order.customer_id.in_(list(members)) if members else false()
        whose.append(or_(mine, Order.customer_id.is_(None)) if guests else mine)
    rows = await session.execute(
        select(Order.order_id, Order.paid_at, Order.customer_id, Order.merchandise_minor,
               Order.discount_codes, Order.contact_keys, refunded)
        .where(Order.shop_id == shop_id, Order.known.is_(True), Order.paid_at >= start,
               Order.paid_at < end, Order.cancelled.is_(False), Order.deleted.is_(False),
               *whose)
    )  # fmt: skip
    return [
        PaidOrder(order_id, paid_at, customer, max(int(merchandise) - int(refunds), 0),
                  list(codes or ()), list(keys or ()))
        for order_id, paid_at, customer, merchandise, codes, keys, refunds in rows
    ]  # fmt: skip


def month_of(day: date) -> date:
    return day.replace(day=1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def months_between(first: date, last: date) -> list[date]:
    """The first days of the months from ``first``'s to ``last``'s, both included."""
    out, at = [], month_of(first)
    while at <= last:
        out.append(at)
        at = next_month(at)
    return out


def local_start(day: date, zone: ZoneInfo) -> datetime:
    """Midnight of ``day`` in the shop's zone, as UTC."""
    return datetime.combine(day, time(), zone).astimezone(UTC)


def runs(days: list[date]) -> list[tuple[date, date]]:
    """Sorted days as runs of consecutive days (first, last): each read as one window, so that
    today and a day a year ago do not read the year between."""
    out: list[tuple[date, date]] = []
    for day in days:
        if out and (day - out[-1][1]).days == 1:
            out[-1] = (out[-1][0], day)
        elif not out or day != out[-1][1]:
            out.append((day, day))
    return out
