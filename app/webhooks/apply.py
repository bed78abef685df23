"""Stored events → their effects, inside the caller's transaction.

A batch is applied as a whole: its orders are locked together, each snapshot is absorbed into
its order's state in delivery order, and then every touched order is reconciled once, so the
ledger is written with a handful of bulk statements however large the batch. Applying one event
is the same code with a batch of one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.connectors.base import (
    CustomerSnapshot,
    OrderDeleted,
    OrderSnapshot,
    RefundSnapshot,
    Snapshot,
)
from app.ledger import locks
from app.ledger.models import AccountKind
from app.members import service as members
from app.program import hooks, reconcile, versions
from app.program.settings import ProgramSettings
from app.rewards import usage as rewards_usage


@dataclass(frozen=True, slots=True)
class Parsed:
    event_id: int
    snapshots: list[Snapshot]


def _order_id(snapshot: Snapshot) -> str | None:
    if isinstance(snapshot, OrderSnapshot | RefundSnapshot | OrderDeleted):
        return snapshot.order_id
    return None


def _customer_id(snapshot: Snapshot) -> str | None:
    if isinstance(snapshot, OrderSnapshot | CustomerSnapshot):
        return snapshot.customer_id
    return None


async def apply_batch(
    session: AsyncSession,
    shop_id: int,
    settings: ProgramSettings,
    batch: list[Parsed],
    now: datetime,
) -> dict[int, bool]:
    """Apply one shop's parsed events; returns, per event id, whether anything acted on it
    (False: an ignored topic)."""
    snapshots = [snap for parsed in batch for snap in parsed.snapshots]
    # Locks in one order for every transaction: orders, member accounts, system accounts.
    orders = await reconcile.lock_orders(
        session, shop_id, {oid for snap in snapshots if (oid := _order_id(snap))}
    )
    customers = {cid for snap in snapshots if (cid := _customer_id(snap))}
    customers.update(o.customer_id for o in orders.values() if o.customer_id)
    await members.enrol(session, shop_id, customers)
    if customers:
        keys = {(c, kind) for c in customers for kind in AccountKind.MEMBER}
        await locks.lock_accounts(session, shop_id, keys)

    acted: dict[int, bool] = {}
    refunds: list[RefundSnapshot] = []
    for parsed in batch:
        acted[parsed.event_id] = False
        for snap in parsed.snapshots:
            if isinstance(snap, OrderSnapshot):
                reconcile.absorb(orders[snap.order_id], snap)
                refunds.extend(snap.refunds)
            elif isinstance(snap, RefundSnapshot):
                refunds.append(snap)
            elif isinstance(snap, OrderDeleted):
                orders[snap.order_id].deleted = True
            elif isinstance(snap, CustomerSnapshot):
                await members.apply_customer(session, shop_id, snap)
            else:
                continue
            acted[parsed.event_id] = True
    await reconcile.store_refunds(session, shop_id, refunds)
    touched = [orders[oid] for oid in sorted(orders)]
    # Each order is judged by the program version in force when it was paid.
    history = await versions.load(session, shop_id) if touched else None
    await reconcile.reconcile_many(session, shop_id, settings, touched, now, history)
    await rewards_usage.after_orders(session, shop_id, settings, touched)
    await hooks.after_orders(session, shop_id, touched, now, history)
    return acted
