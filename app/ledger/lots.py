"""Expiry by lot: every credit of available points is a lot; debits take from the lots that
expire first. What remains of all a member's lots always equals max(available balance, 0)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.ledger.models import LotMovement, PointLot
from app.orm import table_of


async def credit(
    session: AsyncSession,
    shop_id: int,
    owner: str,
    transaction_id: int,
    points: int,
    balance_before: int,
    expires_at: datetime | None,
) -> None:
    # A member in debt first pays it off: only what exceeds the debt stays spendable in the lot.
    remaining = points if balance_before >= 0 else max(0, balance_before + points)
    lot_id = await session.scalar(
        insert(PointLot)
        .values(
            shop_id=shop_id,
            owner=owner,
            transaction_id=transaction_id,
            points=points,
            remaining=remaining,
            expires_at=expires_at,
        )
        .returning(PointLot.id)
    )
    if remaining < points:
        await session.execute(
            insert(LotMovement).values(
                shop_id=shop_id,
                lot_id=lot_id,
                transaction_id=transaction_id,
                amount=remaining - points,
            )
        )


async def debit(
    session: AsyncSession,
    shop_id: int,
    owner: str,
    transaction_id: int,
    points: int,
    balance_before: int,
    only_lot_id: int | None = None,
) -> None:
    """Take ``points`` from the member's lots, earliest expiry first (or from one lot only)."""
    # Points beyond what lots hold become debt, which no lot carries.
    need = min(points, max(balance_before, 0))
    if need <= 0:
        return
    query = select(PointLot.id, PointLot.remaining).where(
        PointLot.shop_id == shop_id, PointLot.owner == owner, PointLot.remaining > 0
    )
    if only_lot_id is not None:
        query = query.where(PointLot.id == only_lot_id)
    query = query.order_by(PointLot.expires_at.asc().nulls_last(), PointLot.id)
    movements: list[dict[str, int]] = []
    for lot_id, remaining in (await session.execute(query)).all():
        take = min(need, remaining)
        movements.append(
            {"shop_id": shop_id, "lot_id": lot_id, "transaction_id": transaction_id, "take": take}
        )
        need -= take
        if need == 0:
            break
    if need:
        raise RuntimeError(
            f"ledger invariant broken: lots of member {owner} in shop {shop_id} hold less than "
            "the available balance; run `vafa ledger verify`"
        )
    lots = table_of(PointLot)
    await session.execute(
        update(lots)
        .where(lots.c.id == bindparam("lot_id"))
        .values(remaining=lots.c.remaining - bindparam("take")),
        movements,
    )
    await session.execute(
        insert(table_of(LotMovement)),
        [
            {
                "shop_id": m["shop_id"],
                "lot_id": m["lot_id"],
                "transaction_id": m["transaction_id"],
                "amount": -m["take"],
            }
            for m in movements
        ],
    )
