"""What counts towards a tier, read per member and by time: points earned (the ledger's earn
and reverse transactions, never the balance) or money spent (the merchandise of paid orders,
net of refunds and of membership lines). Both count at the order's payment, so a refund takes
back from the period the order was paid in."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.connectors.base import FinancialState, RefundLine
from app.ledger.models import LedgerTransaction, TxKind
from app.program import lines
from app.program.models import Order, OrderRefund
from app.program.versions import ProgramHistory
from app.tiers.membership import membership_minor
from app.tiers.windows import Fact

_CHUNK = 500


async def facts_of(
    session: AsyncSession,
    shop_id: int,
    history: ProgramHistory,
    basis: str,
    customer_ids: Sequence[str],
    since: datetime | None,
) -> dict[str, list[Fact]]:
    """Each member's qualifying facts from ``since`` on, oldest first."""
    found: dict[str, list[Fact]] = {c: [] for c in customer_ids}
    ids = sorted(found)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        if basis == "points_earned":
            rows = await _points(session, shop_id, chunk, since)
        else:
            rows = await _spent(session, shop_id, history, chunk, since)
        for customer_id, fact in rows:
            found[customer_id].append(fact)
    for facts in found.values():
        facts.sort(key=lambda f: f.at)
    return found


async def _points(
    session: AsyncSession, shop_id: int, customer_ids: list[str], since: datetime | None
) -> list[tuple[str, Fact]]:
    tx = LedgerTransaction
    # An order's points, and what its refunds take back, count when the order was paid.
    at = func.coalesce(Order.paid_at, Order.source_updated_at, tx.created_at)
    query = (
        select(tx.owner, at, tx.points)
        .outerjoin(Order, and_(Order.shop_id == tx.shop_id, Order.order_id == tx.order_id))
        .where(
            tx.shop_id == shop_id,
            tx.owner.in_(customer_ids),
            tx.kind.in_((TxKind.EARN, TxKind.REVERSE)),
        )
    )
    if since is not None:
        query = query.where(at >= since)
    rows = await session.execute(query)
    return [(owner, Fact(when, int(points))) for owner, when, points in rows if points]


async def _spent(
    session: AsyncSession,
    shop_id: int,
    history: ProgramHistory,
    customer_ids: list[str],
    since: datetime | None,
) -> list[tuple[str, Fact]]:
    at = func.coalesce(Order.paid_at, Order.source_updated_at)
    query = select(
        Order.order_id, Order.customer_id, at, Order.merchandise_minor, Order.lines
    ).where(
        Order.shop_id == shop_id,
        Order.customer_id.in_(customer_ids),
        Order.known.is_(True),
        Order.financial_state == FinancialState.PAID.value,
        Order.cancelled.is_(False),
        Order.deleted.is_(False),
        Order.backfilled.is_(False),
        at.is_not(None),
    )
    if since is not None:
        query = query.where(at >= since)
    orders = (await session.execute(query)).all()
    refunded: dict[str, int] = defaultdict(int)
    refunded_lines: dict[str, list[RefundLine]] = defaultdict(list)
    order_ids = [row[0] for row in orders]
    for start in range(0, len(order_ids), _CHUNK):
        rows = await session.execute(
            select(OrderRefund.order_id, OrderRefund.merchandise_minor, OrderRefund.lines).where(
                OrderRefund.shop_id == shop_id,
                OrderRefund.order_id.in_(order_ids[start : start + _CHUNK]),
            )
        )
        for order_id, amount, stored in rows:
            refunded[order_id] += max(int(amount), 0)
            refunded_lines[order_id].extend(lines.refund_lines(stored))
    facts = []
    for order_id, customer_id, when, merchandise, stored_lines in orders:
        document = history.at(when).document
        order_lines = lines.order_lines(stored_lines) or ()
        # The membership lines neither earn points nor qualify: what is kept of them is left
        # out (their refunds are in ``refunded`` already).
        membership = membership_minor(document, order_lines) - membership_minor(
            document, order_lines, refunded_lines[order_id]
        )
        kept = max(merchandise - refunded[order_id] - max(membership, 0), 0)
        if kept:
            facts.append((customer_id, Fact(when, kept)))
    return facts
