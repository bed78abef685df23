"""Orders that used a Vafa code, inside the event batch's transaction (after reconcile).

A code in an order's ``discount_codes`` marks its redemption ``used`` by that order, also one
still pending (the order can arrive before the job recorded the store's answer). A refund
of that order gives back the points the code cost in proportion to the refunded merchandise
(all of them for a cancelled or fully refunded order), where the shop's policy says so: the
points given back are derived from the order's refunds, posted under a key per level reached,
so a duplicate or reordered delivery posts nothing twice."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.connectors.base import FinancialState
from app.ledger import locks
from app.ledger.models import AccountKind
from app.program import reconcile
from app.program.settings import ProgramSettings
from app.rewards import service
from app.rewards.codes import is_ours
from app.rewards.models import Redemption, RedemptionStatus


async def after_orders(
    session: AsyncSession,
    shop_id: int,
    settings: ProgramSettings,
    orders: Sequence[reconcile.OrderState],
) -> None:
    """Costs nothing for a batch whose orders used no Vafa code."""
    by_code = {
        code.upper(): order
        for order in orders
        for code in order.discount_codes or ()
        if is_ours(code)
    }
    if not by_code:
        return
    found = (
        await session.scalars(
            select(Redemption)
            .where(Redemption.shop_id == shop_id, Redemption.code.in_(sorted(by_code)))
            .order_by(Redemption.id)
        )
    ).all()
    if not found:
        return
    await locks.lock_accounts(
        session, shop_id, {(r.customer_id, k) for r in found for k in AccountKind.MEMBER}
    )
    refunded = await reconcile.refunds_of(
        session, shop_id, sorted({o.order_id for o in by_code.values()})
    )
    for stale in found:
        r = await service.locked(session, shop_id, stale.id)
        assert r is not None
        assert r.code is not None
        order = by_code[r.code.upper()]
        await service.use(session, shop_id, r, order.order_id)
        if r.status != RedemptionStatus.USED or r.order_id != order.order_id:
            continue
        if settings.refund_redeemed_points_on_refund:
            refunds = sum(f.merchandise_minor for f in refunded[order.order_id])
            target = _to_return(r.points, order, refunds)
            if target > r.points_returned:
                await service.return_points(
                    session,
                    shop_id,
                    settings,
                    r,
                    target - r.points_returned,
                    key=f"redemption:{r.id}:refunded:{target}",
                    reason=f"order {order.name or order.order_id} that used the code was refunded",
                    order_id=order.order_id,
                )
    await session.flush()


def _to_return(points: int, order: reconcile.OrderState, refunded_minor: int) -> int:
    """How many of the code's points the order's refunds give back in all."""
    if order.cancelled or order.financial_state == FinancialState.REFUNDED.value:
        return points
    if refunded_minor <= 0:
        return 0
    if order.merchandise_minor <= 0 or refunded_minor >= order.merchandise_minor:
        return points
    return points * refunded_minor // order.merchandise_minor
