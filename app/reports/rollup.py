"""The daily rollup: each of a shop's days made again, whole, from its sources whenever
something in it changed, so a rollup is always exactly what the ledger and the orders say.

- Points: the postings to the shop's system accounts, by the day their transaction was made
  (issued = what the *issued* account gave, net of reversals; redeemed, expired, adjusted
  likewise).
- Orders: paid orders (not cancelled nor deleted) by the day they were paid, members' apart from
  guests', their merchandise net of refunds; those that used a Vafa code apart too.
- Members: by the day they joined.

Which days changed: those of the ledger transactions and members newer than the shop's cursor,
and always the last two days (an order can change without a ledger line: a guest's). An order
refunded long after it was paid changes its paid day's revenue with a reversal transaction,
and the order's paid day is recomputed with it. ``vafa reports rebuild`` makes every day again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.ledger.models import SYSTEM_OWNER, Account, AccountKind, LedgerTransaction, Posting
from app.members.models import Member
from app.orm import table_of
from app.program.models import Order, OrderRefund
from app.reports.models import ReportCursor, ReportDay
from app.rewards.codes import is_ours

COUNTS = (
    "members_joined", "points_issued", "points_adjusted", "points_redeemed", "points_expired",
    "orders_members", "orders_guests", "revenue_members_minor", "revenue_guests_minor",
    "orders_redeeming", "revenue_redeeming_minor",
)  # fmt: skip
_COLUMNS = {
    AccountKind.ISSUED: "points_issued",
    AccountKind.ADJUSTED: "points_adjusted",
    AccountKind.REDEEMED: "points_redeemed",
    AccountKind.EXPIRED: "points_expired",
}
# Points leave ISSUED and ADJUSTED for members (negative postings) and reach REDEEMED and
# EXPIRED from them (positive): each column counts what reached or left members.
_SIGN = {AccountKind.ISSUED: -1, AccountKind.ADJUSTED: -1, AccountKind.REDEEMED: 1,
         AccountKind.EXPIRED: 1}  # fmt: skip


def local_day(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


def _bounds(first: date, last: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(first, time(), zone).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(), zone).astimezone(UTC)
    return start, end


async def rebuild(session: AsyncSession, shop_id: int, days: Iterable[date], zone: ZoneInfo) -> int:
    """Make these days of the shop's rollup again from the sources; how many days."""
    wanted = sorted(set(days))
    if not wanted:
        return 0
    start, end = _bounds(wanted[0], wanted[-1], zone)
    rows: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    tx = LedgerTransaction
    postings = await session.execute(
        select(tx.created_at, Account.kind, Posting.amount)
        .join(Posting, Posting.transaction_id == tx.id)
        .join(Account, Account.id == Posting.account_id)
        .where(
            tx.shop_id == shop_id,
            tx.created_at >= start,
            tx.created_at < end,
            Account.owner == SYSTEM_OWNER,
            Account.kind.in_(list(_COLUMNS)),
        )  # fmt: skip
    )
    for made, kind, amount in postings:
        rows[local_day(made, zone)][_COLUMNS[kind]] += _SIGN[kind] * amount
    joined = await session.execute(
        select(Member.created_at).where(
            Member.shop_id == shop_id, Member.created_at >= start, Member.created_at < end
        )
    )
    for (made,) in joined:
        rows[local_day(made, zone)]["members_joined"] += 1
    await _orders(session, shop_id, start, end, zone, rows)
    await session.execute(
        delete(ReportDay).where(ReportDay.shop_id == shop_id, ReportDay.day.in_(wanted))
    )
    zero = dict.fromkeys(COUNTS, 0)
    await session.execute(
        insert(table_of(ReportDay)),
        [{"shop_id": shop_id, "day": day, **zero, **rows.get(day, {})} for day in wanted],
    )
    return len(wanted)


async def _orders(
    session: AsyncSession, shop_id: int, start: datetime, end: datetime, zone: ZoneInfo,
    rows: dict[date, dict[str, int]],
) -> None:  # fmt: skip
    refunded = (
        select(OrderRefund.order_id, func.sum(OrderRefund.merchandise_minor).label("minor"))
        .where(OrderRefund.shop_id == shop_id)
        .group_by(OrderRefund.order_id)
        .subquery()
    )
    paid = await session.execute(
        select(Order.paid_at, Order.customer_id, Order.merchandise_minor, Order.discount_codes,
               func.coalesce(refunded.c.minor, 0))
        .outerjoin(refunded, refunded.c.order_id == Order.order_id)
        .where(Order.shop_id == shop_id, Order.known.is_(True), Order.paid_at >= start,
               Order.paid_at < end, Order.cancelled.is_(False), Order.deleted.is_(False))
    )  # fmt: skip
    for paid_at, customer, merchandise, codes, refunds in paid:
        day = rows[local_day(paid_at, zone)]
        net = max(int(merchandise) - int(refunds), 0)
        who = "members" if customer else "guests"
        day[f"orders_{who}"] += 1
        day[f"revenue_{who}_minor"] += net
        if any(is_ours(code) for code in codes or ()):
            day["orders_redeeming"] += 1
            day["revenue_redeeming_minor"] += net


async def changed_days(
    session: AsyncSession, shop_id: int, zone: ZoneInfo, now: datetime
) -> tuple[set[date], int, int]:
    """The days to make again, and the newest transaction and member id seen."""
    cursor = await session.get(ReportCursor, shop_id)
    after_tx, after_member = (cursor.transaction_id, cursor.member_id) if cursor else (0, 0)
    today = local_day(now, zone)
    days = {today, today - timedelta(days=1)}
    tx = LedgerTransaction
    newest_tx = after_tx
    orders: set[str] = set()
    for tx_id, made, order_id in await session.execute(
        select(tx.id, tx.created_at, tx.order_id).where(tx.shop_id == shop_id, tx.id > after_tx)
    ):
        newest_tx = max(newest_tx, tx_id)
        days.add(local_day(made, zone))
        if order_id is not None:
            orders.add(order_id)
    ids = sorted(orders)
    for at in range(0, len(ids), 500):  # the orders' paid days: their net revenue moved
        for (paid,) in await session.execute(
            select(Order.paid_at).where(
                Order.shop_id == shop_id, Order.order_id.in_(ids[at : at + 500])
            )  # fmt: skip
        ):
            if paid is not None:
                days.add(local_day(paid, zone))
    newest_member = after_member
    for member_id, made in await session.execute(
        select(Member.id, Member.created_at).where(
            Member.shop_id == shop_id, Member.id > after_member
        )
    ):
        newest_member = max(newest_member, member_id)
        days.add(local_day(made, zone))
    return days, newest_tx, newest_member


async def save_cursor(session: AsyncSession, shop_id: int, tx_id: int, member_id: int) -> None:
    cursor = await session.get(ReportCursor, shop_id)
    if cursor is None:
        session.add(ReportCursor(shop_id=shop_id, transaction_id=tx_id, member_id=member_id))
    else:
        cursor.transaction_id, cursor.member_id = tx_id, member_id
    await session.flush()


async def all_days(
    session: AsyncSession, shop_id: int, zone: ZoneInfo, now: datetime
) -> list[date]:
    """Every day from the shop's first ledger line, member or order to today."""
    firsts = [
        await session.scalar(select(func.min(LedgerTransaction.created_at)).where(
            LedgerTransaction.shop_id == shop_id)),
        await session.scalar(select(func.min(Member.created_at)).where(Member.shop_id == shop_id)),
        await session.scalar(select(func.min(Order.paid_at)).where(Order.shop_id == shop_id)),
    ]  # fmt: skip
    known = [f for f in firsts if f is not None]
    if not known:
        return []
    first, last = local_day(min(known), zone), local_day(now, zone)
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]
