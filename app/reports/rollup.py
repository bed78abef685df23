"""The daily rollup: each of a shop's days made again, whole, from its sources whenever
something in it changed, so a rollup is always exactly what the ledger and the orders say.

- Points: the postings to the shop's system accounts, by the day their transaction was made
  (issued = what the *issued* account gave, net of reversals; redeemed, expired, adjusted
  likewise).
- Orders: paid orders (not cancelled nor deleted) by the day they were paid, members' apart from
  guests', their merchandise net of refunds; those that used a Vafa code apart too.
- Members: by the day they joined.

The days are made by one ``INSERT … SELECT … GROUP BY day`` on both engines: the days to make
are a table of their bounds in UTC (a shop's day in its time zone, DST included, computed here
once), joined by range to the indexed times of the sources, so the database sums whatever the
number of days and nothing travels to Python but the bounds.

Which days changed: those of the ledger transactions and members newer than the shop's cursor,
and always the last two days (an order can change without a ledger line: a guest's). An order
refunded long after it was paid changes its paid day's revenue with a reversal transaction,
and the order's paid day is recomputed with it. ``vafa reports rebuild`` makes every day again.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    CTE,
    Date,
    and_,
    case,
    column,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    union_all,
    values,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from app.ledger.models import SYSTEM_OWNER, Account, AccountKind, LedgerTransaction, Posting
from app.members.models import Member
from app.orm import UTCDateTime, table_of
from app.program.models import Order, OrderRefund
from app.reports.models import ReportCursor, ReportDay
from app.rewards.codes import PREFIX

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


# Beside MIN/MAX over a range: with only MIN/MAX, PostgreSQL walks another column's index
# from its end until a row falls in the range (10 s over 10,000,000 transactions for the
# first time after the cursor); with a count it reads the range by its own index.
_NOT_BY_INDEX_ENDS = func.count()


def local_day(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


def _bounds(first: date, last: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(first, time(), zone).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(), zone).astimezone(UTC)
    return start, end


def _days_table(days: list[date], zone: ZoneInfo) -> CTE:
    """The days as rows (day, start, end): where each begins and ends in UTC."""
    rows = [(day, *_bounds(day, day, zone)) for day in days]
    table = values(
        column("day", Date), column("start", UTCDateTime()), column("end", UTCDateTime()),
        name="wanted",
    ).data(rows)  # fmt: skip
    return table.cte("days")


def _in_day(days: CTE, span: tuple[datetime, datetime] | None, moment: Any) -> ColumnElement[bool]:
    """In one of the days; also within the whole ``span``, as constants, for PostgreSQL: its
    planner cannot see the days' bounds (they are rows) and would guess a large share of the
    table (SQLite would take the constants as each day's index range: every row, every day)."""
    day = and_(moment >= days.c.start, moment < days.c.end)
    return day if span is None else and_(moment >= span[0], moment < span[1], day)


def _runs(days: list[date]) -> list[list[date]]:
    """The sorted days as runs of consecutive days."""
    runs: list[list[date]] = []
    for day in days:
        if runs and runs[-1][-1] + timedelta(days=1) == day:
            runs[-1].append(day)
        else:
            runs.append([day])
    return runs


def _uses_our_code(dialect: str) -> ColumnElement[bool]:
    """Whether the order's discount codes include a Vafa code (``is_ours``), in SQL: the JSON
    array's elements are a table function on both engines, with different names."""
    codes = Order.discount_codes
    if dialect == "sqlite":
        each = func.json_each(codes).table_valued("value")
    else:  # json_array_elements_text refuses a JSON null: give it SQL NULL (no rows) instead
        listed = case((func.json_typeof(codes) == "array", codes))
        each = func.json_array_elements_text(listed).table_valued("value")
    return exists(select(literal(1)).select_from(each).where(
        func.upper(each.c.value).like(f"{PREFIX}%")))  # fmt: skip


async def rebuild(session: AsyncSession, shop_id: int, days: Iterable[date], zone: ZoneInfo) -> int:
    """Make these days of the shop's rollup again from the sources, a statement per run of
    consecutive days (a tick's today and yesterday, and the paid day of an old order refunded,
    are two small ranges, not the months between); how many days."""
    wanted = sorted(set(days))
    system = dict(
        (
            await session.execute(
                select(Account.kind, Account.id).where(
                    Account.shop_id == shop_id,
                    Account.owner == SYSTEM_OWNER,
                    Account.kind.in_(list(_COLUMNS)),
                )
            )
        ).all()
    )
    await session.execute(
        delete(ReportDay).where(ReportDay.shop_id == shop_id, ReportDay.day.in_(wanted))
    )
    for run in _runs(wanted):
        await _make(session, shop_id, run, zone, system)
    return len(wanted)


async def _make(
    session: AsyncSession, shop_id: int, run: list[date], zone: ZoneInfo, system: dict[str, int]
) -> None:
    d = _days_table(run, zone)
    dialect = session.get_bind().dialect.name
    span = None if dialect == "sqlite" else _bounds(run[0], run[-1], zone)
    tx = LedgerTransaction
    points = (
        select(
            d.c.day,
            *(
                func.sum(
                    case(
                        (Posting.account_id == system.get(kind, 0), sign * Posting.amount), else_=0
                    )
                ).label(_COLUMNS[kind])
                for kind, sign in _SIGN.items()
            ),
        )
        .select_from(d)
        .join(tx, and_(tx.shop_id == shop_id, _in_day(d, span, tx.created_at)))
        .join(
            Posting,
            and_(
                Posting.shop_id == shop_id,
                Posting.transaction_id == tx.id,
            ),
        )
        .group_by(d.c.day)
    )
    joined = (
        select(d.c.day, func.count().label("members_joined"))
        .select_from(d)
        .join(Member, and_(Member.shop_id == shop_id, _in_day(d, span, Member.created_at)))
        .group_by(d.c.day)
    )
    orders = _orders(dialect, shop_id, d, span)
    # Every wanted day (zeros), then each source's sums for its columns: summed by day.
    parts = [select(d.c.day, *(literal(0).label(name) for name in COUNTS)).select_from(d)]
    for source in (points, joined, orders):
        found = source.subquery()
        parts.append(
            select(found.c.day, *(
                (found.c[name] if name in found.c else literal(0)).label(name) for name in COUNTS
            ))
        )  # fmt: skip
    every = union_all(*parts).subquery()
    made = select(
        literal(shop_id), every.c.day, *(func.sum(every.c[name]) for name in COUNTS)
    ).group_by(every.c.day)
    await session.execute(
        insert(table_of(ReportDay)).from_select(["shop_id", "day", *COUNTS], made)
    )


def _orders(dialect: str, shop_id: int, d: CTE, span: tuple[datetime, datetime] | None) -> Any:
    """Paid orders by day: each order's merchandise net of its refunds first, then the day's
    sums (a join, not a subquery per order, so a whole history can be one hash join)."""
    # The day's orders found first, by their index on the time: joined to the refunds and
    # grouped in the same step, SQLite scans every order of the shop for each day instead.
    paid = (
        select(
            d.c.day, Order.id, Order.order_id, Order.merchandise_minor,
            (func.coalesce(Order.customer_id, "") != "").label("member"),
            _uses_our_code(dialect).label("ours"),
            # A condition, not a filter: SQLite would index these flags instead of the time.
            and_(Order.known.is_(True), Order.cancelled.is_(False), Order.deleted.is_(False))
            .label("counted"),
        )
        .select_from(d)
        .join(Order, and_(Order.shop_id == shop_id, _in_day(d, span, Order.paid_at)))
        .cte("paid")
        .prefix_with("MATERIALIZED")
    )  # fmt: skip
    refunded = func.coalesce(func.sum(OrderRefund.merchandise_minor), 0)
    per_order = (
        select(paid.c.day, paid.c.member, paid.c.ours, paid.c.counted,
               (paid.c.merchandise_minor - refunded).label("net"))
        .outerjoin(OrderRefund, and_(OrderRefund.shop_id == shop_id,
                                     OrderRefund.order_id == paid.c.order_id))
        .group_by(paid.c.day, paid.c.id, paid.c.member, paid.c.ours, paid.c.counted,
                  paid.c.merchandise_minor)
        .subquery()
    )  # fmt: skip
    o = per_order.c
    net = case((o.net > 0, o.net), else_=0)

    def where(condition: ColumnElement[bool], value: Any) -> Any:
        return func.sum(case((and_(o.counted, condition), value), else_=0))

    return select(
        o.day,
        where(o.member, 1).label("orders_members"),
        where(~o.member, 1).label("orders_guests"),
        where(o.member, net).label("revenue_members_minor"),
        where(~o.member, net).label("revenue_guests_minor"),
        where(o.ours, 1).label("orders_redeeming"),
        where(o.ours, net).label("revenue_redeeming_minor"),
    ).group_by(o.day)


def _days_between(first: datetime, last: datetime, zone: ZoneInfo) -> set[date]:
    start, end = local_day(first, zone), local_day(last, zone)
    return {start + timedelta(days=n) for n in range((end - start).days + 1)}


async def changed_days(
    session: AsyncSession, shop_id: int, zone: ZoneInfo, now: datetime
) -> tuple[set[date], int, int]:
    """The days to make again, and the newest transaction and member id seen. New
    transactions and members are summed up in SQL (their first and last time: every day
    between is made again, which is never wrong), the paid days of the orders they touch are
    read only where they fall outside those days."""
    cursor = await session.get(ReportCursor, shop_id)
    after_tx, after_member = (cursor.transaction_id, cursor.member_id) if cursor else (0, 0)
    today = local_day(now, zone)
    days = {today, today - timedelta(days=1)}
    tx = LedgerTransaction
    newest_tx, first, last, _ = (
        await session.execute(
            select(
                func.max(tx.id), func.min(tx.created_at), func.max(tx.created_at),
                _NOT_BY_INDEX_ENDS,
            ).where(tx.shop_id == shop_id, tx.id > after_tx)
        )
    ).one()  # fmt: skip
    if newest_tx is not None:
        span = _days_between(first, last, zone)
        days |= span
        # Only the transactions' own span is made again whole: today and yesterday need not
        # join it (a tick long after the lines, as a replay or a stopped worker gives).
        start, end = _bounds(min(span), max(span), zone)
        touched = select(tx.order_id).where(
            tx.shop_id == shop_id, tx.id > after_tx, tx.order_id.is_not(None)
        )
        # The orders' paid days: their net revenue moved.
        for (paid,) in await session.execute(
            select(Order.paid_at).distinct().where(
                Order.shop_id == shop_id, Order.order_id.in_(touched),
                or_(Order.paid_at < start, Order.paid_at >= end),
            )
        ):  # fmt: skip
            if paid is not None:
                days.add(local_day(paid, zone))
    newest_member, first, last, _ = (
        await session.execute(
            select(func.max(Member.id), func.min(Member.created_at), func.max(Member.created_at),
                   _NOT_BY_INDEX_ENDS)
            .where(Member.shop_id == shop_id, Member.id > after_member)
        )
    ).one()  # fmt: skip
    if newest_member is not None:
        days |= _days_between(first, last, zone)
    return days, newest_tx or after_tx, newest_member or after_member


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
