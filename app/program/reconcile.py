"""Reconcile state, don't count events.

An order's points are derived from the newest known state of the order (paid? cancelled?
which refunds, for how much?) compared with what the ledger already holds for it. This module
keeps that state (the ``orders`` and ``order_refunds`` rows, locked for the transaction) and
reads the ledger's holding; ``earning.should_carry`` says what the order should carry by each
rule, and ``ledger_diff.plan`` the entries that post the difference (the keys are listed
there). A duplicate delivery therefore posts nothing, a refund that arrives before its order is
applied when the order arrives, and a stale snapshot leaves the order's state, and so its
points, as they were.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import bindparam, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.connectors.base import FinancialState, OrderDeleted, OrderSnapshot, RefundSnapshot
from app.db import insert_ignore, one_of
from app.errors import RewardInactive, RewardNotFound
from app.holdout.membership import held_out_orders
from app.ledger import service as ledger
from app.ledger.models import SYSTEM_OWNER, Account, AccountKind, LedgerTransaction, Posting
from app.orm import table_of
from app.program import catalog, judging, lines, versions
from app.program.document import ProgramDocument
from app.program.earning import Refund, should_carry
from app.program.engine import Award, Programs
from app.program.ledger_diff import OrderHolding, plan
from app.program.models import Order, OrderRefund
from app.program.rules import is_earning
from app.program.settings import ProgramSettings
from app.program.versions import ProgramHistory
from app.tiers.membership import membership_minor

log = structlog.get_logger(__name__)

_ORDER_FIELDS = (
    "known", "name", "customer_id", "currency", "exponent", "merchandise_minor",
    "shipping_minor", "tax_minor", "financial_state", "cancelled", "deleted", "paid_at",
    "release_at", "source_updated_at", "lines", "discount_codes", "backfilled",
    "program_version", "member_seq", "tier", "program_rules",
    "referral_code", "contact_keys", "segments", "product_groups",
)  # fmt: skip


@dataclass(slots=True)
class OrderState:
    """An order row, locked for this transaction, changed in memory and saved in bulk by
    :func:`reconcile_many` (plain objects: ORM bookkeeping cost more than the rest of a batch).
    ``id`` None: an order not stored yet, inserted with its state when saved."""

    id: int | None
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
    lines: list[dict[str, Any]] | None
    discount_codes: list[str] | None
    backfilled: bool = False  # recorded by a backfill without points: it earns none, ever
    # How the order was judged when first paid (app/program/judging.py); None before.
    program_version: int | None = None
    member_seq: int | None = None
    tier: str | None = None
    program_rules: list[str] | None = None
    referral_code: str | None = None
    contact_keys: list[str] | None = None
    segments: list[str] | None = None  # the member's segments when paid (judging)
    # Its products' groups as judged, by product id (app/program/catalog.py); None: none kept.
    product_groups: dict[str, list[str]] | None = None
    read: tuple[object, ...] = ()  # the values as locked, to save only what changed

    def values(self) -> tuple[object, ...]:
        return tuple(getattr(self, f) for f in _ORDER_FIELDS)


class OrderRace(Exception):
    """Another transaction stored an order this one saw as new: apply the batch again (the
    order is then locked as stored)."""


async def lock_orders(
    session: AsyncSession, shop_id: int, order_ids: set[str]
) -> dict[str, OrderState]:
    """Lock the stored orders among ``order_ids``, in order of id so two workers never wait on
    each other in a circle, and start the others (a refund can come first) in memory: they are
    stored with their state by :func:`save_orders`. (A blank row inserted first to be locked,
    then updated, wrote every new order and its four indexes twice.)"""
    ids = sorted(order_ids)
    if not ids:
        return {}
    dialect = session.get_bind().dialect.name
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
    for order_id in ids:
        if order_id not in locked:
            locked[order_id] = _unseen(order_id)
    return locked


def _unseen(order_id: str) -> OrderState:
    return OrderState(
        id=None, order_id=order_id, known=False, name=None, customer_id=None, currency=None,
        exponent=2, merchandise_minor=0, shipping_minor=0, tax_minor=0,
        financial_state=FinancialState.PENDING.value, cancelled=False, deleted=False,
        paid_at=None, release_at=None, source_updated_at=None, lines=None, discount_codes=None,
    )  # fmt: skip


async def lock_order(session: AsyncSession, shop_id: int, order_id: str) -> OrderState:
    return (await lock_orders(session, shop_id, {order_id}))[order_id]


async def save_orders(session: AsyncSession, shop_id: int, orders: list[OrderState]) -> None:
    """Insert the new orders with their state and update the stored ones that changed. Raises
    :class:`OrderRace` when another transaction stored one of the new ones meanwhile (the
    insert waits for it, then skips the row)."""
    table = table_of(Order)
    new = [o for o in orders if o.id is None]
    if new:
        dialect = session.get_bind().dialect.name
        stored = await session.execute(
            insert_ignore(table, dialect).returning(table.c.order_id, table.c.id),
            [{"shop_id": shop_id, "order_id": o.order_id,
              **{f: getattr(o, f) for f in _ORDER_FIELDS}} for o in new],
        )  # fmt: skip
        ids: dict[str, int] = {row[0]: row[1] for row in stored}
        if len(ids) < len(new):
            raise OrderRace(f"{len(new) - len(ids)} new order(s) stored by another transaction")
        for order in new:
            order.id = ids[order.order_id]
            order.read = order.values()
    changed = [o for o in orders if o.id is not None and o.values() != o.read]
    if not changed:
        return
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
    order.lines = lines.to_json(snap.lines)
    order.discount_codes = list(snap.discount_codes)
    # Kept when a snapshot says nothing of them (a sweep's GraphQL read does not ask).
    order.referral_code = snap.referral_code or order.referral_code
    order.contact_keys = list(snap.contact_keys) or order.contact_keys
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
                "lines": lines.to_json(r.lines),
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


async def holdings(
    session: AsyncSession, shop_id: int, order_ids: list[str]
) -> dict[str, OrderHolding]:
    """What the ledger holds for each order, by rule and member account, in one query per 500."""
    tx = LedgerTransaction
    result = {oid: OrderHolding() for oid in order_ids}
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
                tx.rule,
                tx.idempotency_key,
                tx.owner,
                tx.uncollected,
                func.coalesce(member_postings.c.pending, 0),
                func.coalesce(member_postings.c.available, 0),
            )
            .outerjoin(member_postings, member_postings.c.transaction_id == tx.id)
            .where(tx.shop_id == shop_id, tx.order_id.in_(chunk))
        )
        for order_id, rule, key, owner, uncollected, pending, available in rows:
            order = result[order_id]
            order.owner = owner
            held = order.of(rule)
            held.keys.add(key)
            # PostgreSQL's SUM(bigint) is NUMERIC (a Decimal here); points are integers.
            held.uncollected += int(uncollected)
            held.pending += int(pending)
            held.available += int(available)
    return result


async def refunds_of(
    session: AsyncSession, shop_id: int, order_ids: list[str]
) -> dict[str, list[Refund]]:
    """What reconciling needs of each order's refunds."""
    found: dict[str, list[Refund]] = {oid: [] for oid in order_ids}
    r = OrderRefund
    for start in range(0, len(order_ids), 500):
        rows = await session.execute(
            select(r.order_id, r.refund_id, r.merchandise_minor, r.refunded_at, r.lines).where(
                r.shop_id == shop_id, r.order_id.in_(order_ids[start : start + 500])
            )
        )
        for order_id, refund_id, merchandise, refunded_at, stored in rows:
            refund_lines = lines.refund_lines(stored)
            found[order_id].append(Refund(refund_id, merchandise, refunded_at, refund_lines))
    return found


def _earning_part(
    document: ProgramDocument, order: OrderState, refunds: list[Refund]
) -> tuple[int | None, list[Refund]]:
    """The merchandise the order's points were earned on, and each refund's share of it: a paid
    membership's lines earn nothing (``engine``), so they and their refunds are left out — a
    refunded membership takes no points back. ``None``: the order's whole merchandise."""
    order_lines = lines.order_lines(order.lines) if document.membership else None
    if not order_lines or membership_minor(document, order_lines) == 0:
        return None, refunds
    earning = order.merchandise_minor - membership_minor(document, order_lines)
    shares = []
    for r in refunds:
        left_out = min(membership_minor(document, order_lines, r.lines), r.merchandise_minor)
        shares.append(
            replace(r, merchandise_minor=r.merchandise_minor - left_out, not_earning_minor=left_out)
        )
    return max(earning, 0), shares


async def reconcile_many(
    session: AsyncSession,
    shop_id: int,
    settings: ProgramSettings,
    orders: list[OrderState],
    now: datetime,
    history: ProgramHistory | None = None,
) -> list[ledger.Posted]:
    """Bring the ledger in line with each order's state, under the program version each order
    was judged by (``history``: the shop's, read if not given); ``settings`` gives the
    policies (hold, expiry, negative balance). The caller holds the orders' and their
    members' locks."""
    programs = Programs(history or await versions.load(session, shop_id))
    await judging.judge(session, shop_id, programs, orders)
    held_out = await held_out_orders(session, shop_id, orders, now)  # recorded, never earning
    # Raises catalog.CatalogNeeded (before anything is posted) when a product's groups must
    # first be fetched from the store, which the caller does outside its transaction.
    earning = [o for o in orders if o.order_id not in held_out] if held_out else orders
    await catalog.fill(session, shop_id, programs, earning, now)
    order_ids = [order.order_id for order in orders]
    held = await holdings(session, shop_id, order_ids)
    refunds = await refunds_of(session, shop_id, order_ids)
    entries: list[ledger.Entry] = []
    grants: list[tuple[OrderState, Award]] = []
    for order in orders:
        if order.backfilled or order.order_id in held_out:  # earned nothing: nothing to take back
            continue
        program = programs.for_order(order)
        awards = program.awards(order)
        merchandise, earning_refunds = _earning_part(
            program.document, order, refunds[order.order_id]
        )
        targets = should_carry(order, earning_refunds, settings, awards, merchandise)
        entries.extend(plan(order, held[order.order_id], targets, settings, now))
        # A reward waits for the hold, as points do, and is never taken back.
        if is_earning(order) and (targets.hold_until is None or targets.hold_until <= now):
            grants.extend((order, a) for a in awards if a.reward_id is not None)
    posted = await ledger.post_many(session, shop_id, entries)
    await save_orders(session, shop_id, orders)
    for order, award in grants:
        await _grant(session, shop_id, order, award, now)
    return posted


async def _grant(
    session: AsyncSession, shop_id: int, order: OrderState, award: Award, now: datetime
) -> None:
    from app.rewards.grants import grant_reward  # the rewards import this module

    assert order.customer_id is not None
    assert award.reward_id is not None
    assert award.grant_key is not None
    try:
        await grant_reward(session, shop_id, order.customer_id, award.reward_id,
                           key=award.grant_key, reason=award.why, now=now)  # fmt: skip
    except (RewardNotFound, RewardInactive) as exc:  # the program names a reward gone since
        log.warning("a program reward was not granted", shop_id=shop_id, rule=award.rule,
                    order_id=order.order_id, error=exc.message)  # fmt: skip


async def reconcile(
    session: AsyncSession, shop_id: int, settings: ProgramSettings, order: OrderState, now: datetime
) -> list[ledger.Posted]:
    return await reconcile_many(session, shop_id, settings, [order], now)


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
