"""Reconcile state, don't count events.

An order's points are derived from the newest known state of the order — paid? cancelled?
which refunds, for how much? — compared with what the ledger already holds for it. Only the
difference is posted, under keys built from the platform's ids:

    order:<id>:earn              the points the paid order earns
    refund:<order>:<refund>:reverse  each refund, in proportion to the merchandise it refunds
    order:<id>:cancel | :refunded | :deleted   the order stops earning
    order:<id>:settle:<n>        any other difference (a restore, an edit, refunds out of order)
    order:<id>:release           pending points become available after the hold

A duplicate delivery therefore posts nothing, a refund that arrives before its order is applied
when the order arrives, and a stale snapshot leaves the order's state — and so its points — as
they were.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.connectors.base import FinancialState, OrderDeleted, OrderSnapshot, RefundSnapshot
from app.db import insert_ignore, one_of
from app.ledger import service as ledger
from app.ledger.models import (
    SYSTEM_OWNER,
    Account,
    AccountKind,
    LedgerTransaction,
    Posting,
    TxKind,
)
from app.orm import table_of
from app.program.models import Order, OrderRefund
from app.program.rules import DEFAULT_RULE, format_money, points_for, remaining_points
from app.program.settings import ProgramSettings


@dataclass(slots=True)
class Holding:
    """What the ledger holds for one order."""

    owner: str | None
    pending: int
    available: int
    uncollected: int
    keys: set[str]

    @property
    def effective(self) -> int:
        # A clawback the shop's policy did not collect still counts as reversed.
        return self.pending + self.available - self.uncollected


_ORDER_FIELDS = (
    "known", "name", "customer_id", "currency", "exponent", "merchandise_minor",
    "shipping_minor", "tax_minor", "financial_state", "cancelled", "deleted", "paid_at",
    "release_at", "source_updated_at",
)  # fmt: skip


@dataclass(slots=True)
class OrderState:
    """An order row, locked for this transaction, changed in memory and saved in bulk by
    :func:`reconcile_many` (plain objects: ORM bookkeeping cost more than the rest of a batch)."""

    id: int
    order_id: str
    known: bool
    name: str | None
    customer_id: str | None
    currency: str | None
    exponent: int
    merchandise_minor: int
    shipping_minor: int
    tax_minor: int
    financial_state: str
    cancelled: bool
    deleted: bool
    paid_at: datetime | None
    release_at: datetime | None
    source_updated_at: datetime | None
    read: tuple[object, ...] = ()  # the values as locked, to save only what changed

    def values(self) -> tuple[object, ...]:
        return tuple(getattr(self, f) for f in _ORDER_FIELDS)


async def lock_orders(
    session: AsyncSession, shop_id: int, order_ids: set[str]
) -> dict[str, OrderState]:
    """Create the order rows not seen yet (a refund can come first) and lock them all, in order
    of id so two workers never wait on each other in a circle."""
    ids = sorted(order_ids)
    if not ids:
        return {}
    dialect = session.get_bind().dialect.name
    await session.execute(
        insert_ignore(table_of(Order), dialect),
        [{"shop_id": shop_id, "order_id": order_id, "known": False, "exponent": 2,
          "merchandise_minor": 0, "shipping_minor": 0, "tax_minor": 0,
          "financial_state": FinancialState.PENDING.value, "cancelled": False,
          "deleted": False} for order_id in ids],
    )  # fmt: skip
    columns = [Order.id, Order.order_id, *(getattr(Order, f) for f in _ORDER_FIELDS)]
    locked: dict[str, OrderState] = {}
    for start in range(0, len(ids), 500):
        rows = await session.execute(
            select(*columns)
            .where(
                Order.shop_id == shop_id, one_of(Order.order_id, ids[start : start + 500], dialect)
            )
            .order_by(Order.order_id)
            .with_for_update()
        )
        for row in rows:
            order = OrderState(*row)
            order.read = order.values()
            locked[order.order_id] = order
    return locked


async def lock_order(session: AsyncSession, shop_id: int, order_id: str) -> OrderState:
    return (await lock_orders(session, shop_id, {order_id}))[order_id]


async def save_orders(session: AsyncSession, orders: list[OrderState]) -> None:
    changed = [o for o in orders if o.values() != o.read]
    if not changed:
        return
    table = table_of(Order)
    await session.execute(
        update(table)
        .where(table.c.id == bindparam("pk"))
        .values({f: bindparam(f"new_{f}") for f in _ORDER_FIELDS}),
        [{"pk": o.id, **{f"new_{f}": getattr(o, f) for f in _ORDER_FIELDS}} for o in changed],
    )
    for order in changed:
        order.read = order.values()


def absorb(order: OrderState, snap: OrderSnapshot) -> None:
    """Take the snapshot's state unless it is older than what the order already holds."""
    if order.source_updated_at is not None and snap.updated_at < order.source_updated_at:
        return
    order.known = True
    order.name = snap.name
    order.customer_id = snap.customer_id
    order.currency = snap.currency
    order.exponent = snap.exponent
    order.merchandise_minor = snap.merchandise_minor
    order.shipping_minor = snap.shipping_minor
    order.tax_minor = snap.tax_minor
    order.financial_state = snap.financial_state.value
    order.cancelled = snap.cancelled
    order.paid_at = snap.paid_at
    order.source_updated_at = snap.updated_at
    if snap.restored:
        order.deleted = False


async def store_refunds(session: AsyncSession, shop_id: int, refunds: list[RefundSnapshot]) -> None:
    """Refunds are facts, never undone by an older snapshot: they are merged in any case."""
    if not refunds:
        return
    dialect = session.get_bind().dialect.name
    await session.execute(
        insert_ignore(table_of(OrderRefund), dialect),
        [
            {
                "shop_id": shop_id,
                "order_id": r.order_id,
                "refund_id": r.refund_id,
                "merchandise_minor": r.merchandise_minor,
                "shipping_minor": r.shipping_minor,
                "refunded_at": r.created_at,
            }
            for r in refunds
        ],
    )


async def apply_order(
    session: AsyncSession, shop_id: int, settings: ProgramSettings, snap: OrderSnapshot,
    now: datetime,
) -> list[ledger.Posted]:  # fmt: skip
    order = await lock_order(session, shop_id, snap.order_id)
    absorb(order, snap)
    await store_refunds(session, shop_id, list(snap.refunds))
    return await reconcile(session, shop_id, settings, order, now)


async def apply_refund(
    session: AsyncSession, shop_id: int, settings: ProgramSettings, snap: RefundSnapshot,
    now: datetime,
) -> list[ledger.Posted]:  # fmt: skip
    order = await lock_order(session, shop_id, snap.order_id)
    await store_refunds(session, shop_id, [snap])
    return await reconcile(session, shop_id, settings, order, now)


async def apply_order_deleted(
    session: AsyncSession, shop_id: int, settings: ProgramSettings, snap: OrderDeleted,
    now: datetime,
) -> list[ledger.Posted]:  # fmt: skip
    order = await lock_order(session, shop_id, snap.order_id)
    order.deleted = True
    return await reconcile(session, shop_id, settings, order, now)


async def holdings(session: AsyncSession, shop_id: int, order_ids: list[str]) -> dict[str, Holding]:
    """What the ledger holds for each order, split by member account, in one query per 500."""
    tx = LedgerTransaction
    result = {oid: Holding(owner=None, pending=0, available=0, uncollected=0, keys=set())
              for oid in order_ids}  # fmt: skip
    for start in range(0, len(order_ids), 500):
        chunk = order_ids[start : start + 500]
        member_postings = (
            select(
                Posting.transaction_id,
                func.sum(case((Account.kind == AccountKind.PENDING, Posting.amount), else_=0))
                .label("pending"),
                func.sum(case((Account.kind == AccountKind.AVAILABLE, Posting.amount), else_=0))
                .label("available"),
            )
            .join(Account, Account.id == Posting.account_id)
            .join(tx, tx.id == Posting.transaction_id)
            .where(
                Posting.shop_id == shop_id,
                tx.shop_id == shop_id,
                tx.order_id.in_(chunk),
                Account.owner != SYSTEM_OWNER,
            )
            .group_by(Posting.transaction_id)
            .subquery()
        )  # fmt: skip
        rows = await session.execute(
            select(
                tx.order_id,
                tx.idempotency_key,
                tx.owner,
                tx.uncollected,
                func.coalesce(member_postings.c.pending, 0),
                func.coalesce(member_postings.c.available, 0),
            )
            .outerjoin(member_postings, member_postings.c.transaction_id == tx.id)
            .where(tx.shop_id == shop_id, tx.order_id.in_(chunk))
        )
        for order_id, key, owner, uncollected, pending, available in rows:
            held = result[order_id]
            held.owner = owner
            held.keys.add(key)
            # PostgreSQL's SUM(bigint) is NUMERIC (a Decimal here); points are integers.
            held.uncollected += int(uncollected)
            held.pending += int(pending)
            held.available += int(available)
    return result


async def refunds_of(
    session: AsyncSession, shop_id: int, order_ids: list[str]
) -> dict[str, list[OrderRefund]]:
    found: dict[str, list[OrderRefund]] = {oid: [] for oid in order_ids}
    for start in range(0, len(order_ids), 500):
        rows = await session.scalars(
            select(OrderRefund).where(
                OrderRefund.shop_id == shop_id,
                OrderRefund.order_id.in_(order_ids[start : start + 500]),
            )
        )
        for refund in rows:
            found[refund.order_id].append(refund)
    return found


async def reconcile_many(
    session: AsyncSession,
    shop_id: int,
    settings: ProgramSettings,
    orders: list[OrderState],
    now: datetime,
) -> list[ledger.Posted]:
    """Bring the ledger in line with each order's state. The caller holds the orders' locks."""
    order_ids = [order.order_id for order in orders]
    held = await holdings(session, shop_id, order_ids)
    refunds = await refunds_of(session, shop_id, order_ids)
    entries = [
        entry
        for order in orders
        for entry in plan(order, held[order.order_id], refunds[order.order_id], settings, now)
    ]
    posted = await ledger.post_many(session, shop_id, entries)
    await save_orders(session, orders)
    return posted


async def reconcile(
    session: AsyncSession, shop_id: int, settings: ProgramSettings, order: OrderState, now: datetime
) -> list[ledger.Posted]:
    return await reconcile_many(session, shop_id, settings, [order], now)


def _earning(order: OrderState, settings: ProgramSettings) -> int:
    return points_for(order.merchandise_minor, order.exponent, settings)


def _stop_key(order: OrderState, keys: set[str]) -> str:
    """The key of a transaction that takes an order's remaining points away."""
    base = f"order:{order.order_id}"
    if order.deleted:
        named = f"{base}:deleted"
    elif order.cancelled:
        named = f"{base}:cancel"
    elif order.financial_state == FinancialState.REFUNDED:
        named = f"{base}:refunded"
    else:
        named = ""
    if named and named not in keys:
        return named
    return _settle_key(order, keys)


def _settle_key(order: OrderState, keys: set[str], word: str = "settle") -> str:
    prefix = f"order:{order.order_id}:{word}:"
    return f"{prefix}{sum(1 for k in keys if k.startswith(prefix)) + 1}"


def plan(
    order: OrderState,
    held: Holding,
    refunds: list[OrderRefund],
    settings: ProgramSettings,
    now: datetime,
) -> list[ledger.Entry]:
    """The entries that take the ledger from what it holds for the order (``held``) to what the
    order's state says it should carry. Pure but for ``order.release_at``, which it keeps."""
    owner = held.owner or order.customer_id
    if owner is None:
        return []  # a guest order earns nothing
    entries: list[ledger.Entry] = []
    label = order.name or f"#{order.order_id}"
    money = format_money(order.merchandise_minor, order.exponent, order.currency)
    eligible = (
        order.known
        and order.customer_id is not None
        and order.financial_state == FinancialState.PAID
        and not order.cancelled
        and not order.deleted
    )
    earned = _earning(order, settings)
    earn_key = f"order:{order.order_id}:earn"

    # Points earned while the order is inside its hold period wait in the pending account.
    hold_until = order.release_at
    if hold_until is None and settings.hold_days > 0:
        hold_until = (order.paid_at or now) + timedelta(days=settings.hold_days)
    on_hold = hold_until is not None and hold_until > now

    def credit(key: str, kind: str, points: int, reason: str) -> None:
        account = AccountKind.PENDING if on_hold else AccountKind.AVAILABLE
        entries.append(
            ledger.Entry(
                key=key,
                kind=kind,
                owner=owner,
                legs=(
                    ledger.Leg(owner, account, points),
                    ledger.Leg(SYSTEM_OWNER, AccountKind.ISSUED, -points),
                ),
                reason=reason,
                source_type="order",
                source_id=order.order_id,
                order_id=order.order_id,
                rule=DEFAULT_RULE,
                expires_at=_expiry(settings, now),
            ),
        )
        if account == AccountKind.PENDING:
            order.release_at = hold_until
            held.pending += points
        else:
            held.available += points
        held.keys.add(key)

    def debit(key: str, points: int, reason: str, source: tuple[str, str]) -> None:
        from_pending = min(points, max(held.pending, 0))
        from_available = points - from_pending
        legs = [ledger.Leg(SYSTEM_OWNER, AccountKind.ISSUED, points)]
        if from_pending:
            legs.append(ledger.Leg(owner, AccountKind.PENDING, -from_pending))
        if from_available:
            legs.append(ledger.Leg(owner, AccountKind.AVAILABLE, -from_available))
        if points == 0:
            legs = []
        entries.append(
            ledger.Entry(
                key=key,
                kind=TxKind.REVERSE,
                owner=owner,
                legs=tuple(legs),
                reason=reason,
                source_type=source[0],
                source_id=source[1],
                order_id=order.order_id,
                rule=DEFAULT_RULE,
                # What a capped clawback cannot collect still counts as reversed, so the
                # holding below is right whichever way the cap falls.
                cap_at_available=not settings.allow_negative_balance,
            ),
        )
        held.pending -= from_pending
        held.available -= from_available
        held.keys.add(key)

    if eligible and earned > 0 and earn_key not in held.keys:
        credit(
            earn_key,
            TxKind.EARN,
            earned,
            f"Earned {earned} points for order {label}: {money} of merchandise",
        )
    if earn_key not in held.keys:
        return entries

    # Oldest first; ids compare as numbers where they are numbers ("999" before "1000").
    refunds = sorted(
        refunds,
        key=lambda r: (r.refunded_at is None, r.refunded_at, len(r.refund_id), r.refund_id),
    )
    reverse_key = f"refund:{order.order_id}:{{}}:reverse"
    refunded = sum(
        r.merchandise_minor for r in refunds if reverse_key.format(r.refund_id) in held.keys
    )
    for refund in refunds:
        key = reverse_key.format(refund.refund_id)
        if key in held.keys:
            continue
        refunded += refund.merchandise_minor
        keep = remaining_points(earned, order.merchandise_minor, refunded)
        points = max(0, held.effective - keep)
        amount = format_money(refund.merchandise_minor, order.exponent, order.currency)
        debit(
            key,
            points,
            f"Reversed {points} points for refund {refund.refund_id} of order {label}: "
            f"{amount} of merchandise refunded",
            ("refund", refund.refund_id),
        )

    target = remaining_points(earned, order.merchandise_minor, refunded) if eligible else 0
    difference = target - held.effective
    if difference < 0:
        key = _stop_key(order, held.keys) if not eligible else _settle_key(order, held.keys)
        debit(
            key,
            -difference,
            f"Reversed {-difference} points of order {label}: {_why_not(order, eligible)}",
            ("order", order.order_id),
        )
    elif difference > 0:
        # Points a capped clawback could not take back are still with the member: an order
        # that earns again counts them as its own first, and only the rest is credited.
        reinstated = min(difference, held.uncollected)
        if reinstated:
            key = _settle_key(order, held.keys)
            entries.append(
                ledger.Entry(
                    key=key,
                    kind=TxKind.EARN,
                    owner=owner,
                    legs=(),
                    reason=f"Order {label} earns again: {reinstated} points it could not take "
                    "back are counted as its own again",
                    source_type="order",
                    source_id=order.order_id,
                    order_id=order.order_id,
                    rule=DEFAULT_RULE,
                    uncollected=-reinstated,
                )
            )
            held.uncollected -= reinstated
            held.keys.add(key)
        if difference > reinstated:
            credit(
                _settle_key(order, held.keys),
                TxKind.EARN,
                difference - reinstated,
                f"Restored {difference - reinstated} points of order {label}: "
                f"the order earns {target} now",
            )

    if held.pending > 0 and not on_hold:
        release_key = f"order:{order.order_id}:release"
        if release_key in held.keys:
            release_key = _settle_key(order, held.keys, "release")
        points = held.pending
        entries.append(
            ledger.Entry(
                key=release_key,
                kind=TxKind.RELEASE,
                owner=owner,
                legs=(
                    ledger.Leg(owner, AccountKind.PENDING, -points),
                    ledger.Leg(owner, AccountKind.AVAILABLE, points),
                ),
                reason=f"{points} points of order {label} became available after "
                f"the {settings.hold_days}-day hold",
                source_type="order",
                source_id=order.order_id,
                order_id=order.order_id,
                expires_at=_expiry(settings, now),
            )
        )
        held.pending = 0
    if held.pending == 0:
        order.release_at = None
    return entries


def _why_not(order: OrderState, eligible: bool) -> str:
    if eligible:
        return "the order's merchandise changed"
    if order.deleted:
        return "the order was deleted"
    if order.cancelled:
        return "the order was cancelled"
    if order.financial_state == FinancialState.REFUNDED:
        return "the order was refunded in full"
    if order.financial_state == FinancialState.VOIDED:
        return "the order's payment was voided"
    return "the order is no longer paid"


def _expiry(settings: ProgramSettings, now: datetime) -> datetime | None:
    return now + timedelta(days=settings.expiry_days) if settings.expiry_days else None


async def due_for_release(session: AsyncSession, shop_id: int, now: datetime) -> list[str]:
    return list(
        (
            await session.scalars(
                select(Order.order_id).where(
                    Order.shop_id == shop_id, Order.release_at.is_not(None), Order.release_at <= now
                )
            )
        ).all()
    )
