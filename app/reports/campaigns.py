"""Campaign effect: members' paid orders of each day, under every campaign rule their ledger
lines name (``campaign:<key>``, app/program/engine.py) or under "" when none does, with the
points they carry (earned net of reversals, every rule's) and their revenue. Guests' orders
are left out: no rule can touch them, so they would compare unlike with like."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.ledger.models import LedgerTransaction, TxKind
from app.orm import table_of
from app.reports.models import ReportCampaignDay
from app.reports.orders import local_start, paid_orders, runs

CAMPAIGN = "campaign:"
_CHUNK = 500


async def rebuild(
    session: AsyncSession, shop_id: int, days: Iterable[date], zone: ZoneInfo
) -> None:
    wanted = sorted(set(days))
    if not wanted:
        return
    orders = [
        o
        for first, last in runs(wanted)
        for o in await paid_orders(
            session, shop_id, local_start(first, zone), local_start(last + timedelta(days=1), zone)
        )
        if o.customer_id is not None
    ]
    points: dict[str, int] = defaultdict(int)
    rules: dict[str, set[str]] = defaultdict(set)
    ids = [o.order_id for o in orders]
    tx = LedgerTransaction
    for at in range(0, len(ids), _CHUNK):
        for order_id, rule, n in await session.execute(
            select(tx.order_id, tx.rule, func.sum(tx.points))
            .where(tx.shop_id == shop_id, tx.order_id.in_(ids[at : at + _CHUNK]),
                   tx.kind.in_([TxKind.EARN, TxKind.REVERSE]))
            .group_by(tx.order_id, tx.rule)
        ):  # fmt: skip
            if order_id is None:
                continue
            points[order_id] += int(n)
            if rule and rule.startswith(CAMPAIGN):
                rules[order_id].add(rule)
    rows: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for order in orders:
        day = order.paid_at.astimezone(zone).date()
        for rule in rules.get(order.order_id) or {""}:
            row = rows[(day, rule)]
            row[0] += 1
            row[1] += points[order.order_id]
            row[2] += order.net_minor
    await session.execute(
        delete(ReportCampaignDay).where(
            ReportCampaignDay.shop_id == shop_id, ReportCampaignDay.day.in_(wanted)
        )
    )
    if rows:
        await session.execute(
            insert(table_of(ReportCampaignDay)),
            [{"shop_id": shop_id, "day": day, "rule": rule, "orders": n, "points": p,
              "revenue_minor": minor} for (day, rule), (n, p, minor) in rows.items()],
        )  # fmt: skip
