"""What the program does after the ledger has been brought up to date for a batch of orders:
tiers, referrals, badges and the paid membership each look at the orders that changed.

A hook runs inside the batch's transaction, with the orders locked, so what it writes commits or
rolls back with the points it reacts to. Hooks are listed here by module path and imported on
first use (their packages import the ledger and the program, which import this module's
callers).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from functools import cache
from importlib import import_module

from sqlalchemy.ext.asyncio import AsyncSession

from app.program import versions
from app.program.reconcile import OrderState
from app.program.versions import ProgramHistory

AfterOrders = Callable[
    [AsyncSession, int, ProgramHistory, Sequence[OrderState], datetime], Awaitable[None]
]

# "package.module:function", run in this order.
AFTER_ORDERS: tuple[str, ...] = (
    "app.tiers.service:after_orders",
    "app.engage.badges:after_orders",
    "app.referrals.service:after_orders",
)


@cache
def _resolve(paths: tuple[str, ...]) -> tuple[AfterOrders, ...]:
    hooks = []
    for path in paths:
        module, _, name = path.partition(":")
        hooks.append(getattr(import_module(module), name))
    return tuple(hooks)


async def after_orders(
    session: AsyncSession,
    shop_id: int,
    orders: Sequence[OrderState],
    now: datetime,
    history: ProgramHistory | None = None,
) -> None:
    """``history``: the shop's program as the batch read it (read here if not given)."""
    hooks = _resolve(AFTER_ORDERS)
    if not hooks or not orders:
        return
    history = history or await versions.load(session, shop_id)
    for hook in hooks:
        await hook(session, shop_id, history, orders, now)
