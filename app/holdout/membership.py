"""Who is in the holdout.

A customer's **bucket** is a stable hash of the shop's salt and their customer id, 0 to 9999;
while the share is ``s`` basis points, a customer seen for the first time is held out when
their bucket is below ``s`` — so about ``s`` / 10,000 of new customers, and the same customer
always the same way for as long as share and salt stay as they are.

The first decision is recorded (``holdout_assignments``) and kept, which is what a store owner
expects when they change the share:

- the share **grows**: customers not seen yet are held out at the new share; a customer already
  in the club stays in it (their points and their earning are never taken away), and so does a
  customer who had points before the holdout first saw them (``Cohort.ENROLLED``);
- the share **shrinks** (or goes to 0): holdout customers whose bucket is now above it are
  released and join the club from then on; what they bought while held out earns nothing, ever
  (``released_at``: an order paid before it stays without points when it is processed again).

Effects (the hooks, one line each): their orders are recorded but earn no points and no reward
(``app/program/reconcile.py``), no rule awards them (signup, events, birthdays, badges:
``app/engage/awards.py``), no referral pays them (``app/referrals/service.py``), the storefront
answers ``{"holdout": true}`` so that the widget hides itself, the admin API says
``"holdout": true``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import insert_ignore, one_of
from app.holdout.models import Cohort, HoldoutAssignment, HoldoutSettings
from app.ledger.models import LedgerTransaction
from app.orm import table_of
from app.program.rules import OrderFacts

BUCKETS = 10_000  # a share is in basis points: one bucket each


def bucket(salt: str, customer_id: str) -> int:
    """The customer's bucket, 0..9999: the first 8 bytes of SHA-256 of ``salt:customer_id``."""
    digest = hashlib.sha256(f"{salt}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


@dataclass(frozen=True, slots=True)
class Placement:
    cohort: str
    released_at: datetime | None

    def held_out_at(self, when: datetime) -> bool:
        """Was the customer kept out of the club at ``when`` (an order's payment, an award)?"""
        return self.cohort == Cohort.HOLDOUT and (
            self.released_at is None or when < self.released_at
        )

    @property
    def held_out(self) -> bool:
        return self.cohort == Cohort.HOLDOUT and self.released_at is None


async def settings_of(session: AsyncSession, shop_id: int) -> HoldoutSettings | None:
    return await session.scalar(select(HoldoutSettings).where(HoldoutSettings.shop_id == shop_id))


async def _placed(
    session: AsyncSession, shop_id: int, customer_ids: list[str]
) -> dict[str, Placement]:
    dialect = session.get_bind().dialect.name
    a = HoldoutAssignment
    found: dict[str, Placement] = {}
    for start in range(0, len(customer_ids), 500):
        rows = await session.execute(
            select(a.customer_id, a.cohort, a.released_at).where(
                a.shop_id == shop_id,
                one_of(a.customer_id, customer_ids[start : start + 500], dialect),
            )
        )
        found.update({cid: Placement(cohort, released) for cid, cohort, released in rows})
    return found


async def _with_points(session: AsyncSession, shop_id: int, customer_ids: list[str]) -> set[str]:
    """Those of the customers the ledger has ever posted for."""
    dialect = session.get_bind().dialect.name
    tx = LedgerTransaction
    found: set[str] = set()
    for start in range(0, len(customer_ids), 500):
        found.update(
            await session.scalars(
                select(tx.owner)
                .where(
                    tx.shop_id == shop_id,
                    one_of(tx.owner, customer_ids[start : start + 500], dialect),
                )
                .distinct()
            )
        )
    return found


def _cohort(settings: HoldoutSettings, customer_id: str, had_points: bool) -> tuple[int, str]:
    b = bucket(settings.salt, customer_id)
    if had_points:
        return b, Cohort.ENROLLED
    return b, Cohort.HOLDOUT if b < settings.share_bp else Cohort.MEMBER


async def place(
    session: AsyncSession, shop_id: int, customer_ids: Iterable[str], now: datetime
) -> dict[str, Placement]:
    """Each customer's placement, deciding (and recording) it for those seen for the first time
    while the holdout is on; a customer never placed (the holdout off) is in the club and
    absent from the answer. Inside the caller's write transaction, before anything is posted
    for these customers."""
    ids = sorted(set(customer_ids))
    if not ids:
        return {}
    settings = await settings_of(session, shop_id)
    if settings is None:  # never turned on: nobody was ever held out
        return {}
    placed = await _placed(session, shop_id, ids)
    new = [c for c in ids if c not in placed]
    if new and settings.share_bp > 0:
        had_points = await _with_points(session, shop_id, new)
        rows = []
        for customer_id in new:
            b, cohort = _cohort(settings, customer_id, customer_id in had_points)
            rows.append({"shop_id": shop_id, "customer_id": customer_id, "bucket": b,
                         "cohort": cohort, "assigned_at": now, "released_at": None})  # fmt: skip
        dialect = session.get_bind().dialect.name
        await session.execute(insert_ignore(table_of(HoldoutAssignment), dialect), rows)
        placed.update(await _placed(session, shop_id, new))  # another writer's row wins
    return placed


async def excluded(
    session: AsyncSession, shop_id: int, customer_id: str, when: datetime, now: datetime
) -> bool:
    """Is the customer kept out of the club for what happened at ``when``? Places them first."""
    placement = (await place(session, shop_id, [customer_id], now)).get(customer_id)
    return placement is not None and placement.held_out_at(when)


async def shown_as_holdout(session: AsyncSession, shop_id: int, customer_id: str) -> bool:
    """Is the customer in the holdout now, as a read sees it (no write): their recorded
    cohort, or, never seen yet, what their first order would place them in."""
    settings = await settings_of(session, shop_id)
    if settings is None:
        return False
    placement = (await _placed(session, shop_id, [customer_id])).get(customer_id)
    if placement is not None:
        return placement.held_out
    if settings.share_bp == 0:
        return False
    had_points = bool(await _with_points(session, shop_id, [customer_id]))
    return _cohort(settings, customer_id, had_points)[1] == Cohort.HOLDOUT


async def held_out_orders(
    session: AsyncSession, shop_id: int, orders: Sequence[OrderFacts], now: datetime
) -> set[str]:
    """The orders that earn nothing because their customer was held out when they were paid
    (``app.program.reconcile.reconcile_many``); places the customers seen for the first time."""
    placed = await place(session, shop_id, {o.customer_id for o in orders if o.customer_id}, now)
    if not placed:
        return set()
    return {
        o.order_id
        for o in orders
        if o.customer_id in placed
        and placed[o.customer_id].held_out_at(o.paid_at or o.source_updated_at or now)
    }
