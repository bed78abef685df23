"""The store's copy of a member's balance (Shopify metafields ``vafa.points`` / ``vafa.tier``,
WooCommerce ``meta_data`` ``vafa_points`` / ``vafa_tier``), written after every change.

Every transaction that moves a member's balance (earn, reverse, release, hold, capture, void,
adjust, expire: whatever posts through the ledger) enqueues, in that same transaction, the
member's one ``balance.write`` job (key ``member:<customer_id>``). Enqueueing coalesces: a burst
of changes is one job, due ``writeback_delay_seconds`` after the first of them, and a change
made while the job runs has it run once more as long after. The job reads the balance when it
runs, so a write never carries an older balance over a newer one, and the last write of a
burst carries its final balance.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import get_settings
from app.connectors.store import StoreNotFound
from app.errors import MemberNotFound
from app.jobs import service as jobs
from app.ledger import service as ledger
from app.members.balances import balance_in
from app.orm import utcnow

if TYPE_CHECKING:
    from app.jobs.kinds import JobContext

log = structlog.get_logger(__name__)

BALANCE_WRITE = "balance.write"


def job_key(customer_id: str) -> str:
    return f"member:{customer_id}"


def delay() -> timedelta:
    return timedelta(seconds=get_settings().writeback_delay_seconds)


async def enqueue_writes(session: AsyncSession, shop_id: int, customer_ids: list[str]) -> None:
    """The ledger's observer: the write-back of each member whose balance moved."""
    await jobs.enqueue_many(
        session,
        shop_id,
        BALANCE_WRITE,
        {job_key(c): {"customer_id": c} for c in customer_ids},
        run_after=utcnow() + delay(),
    )


async def write_balance(ctx: JobContext, payload: Mapping[str, Any]) -> None:
    """Write the member's balance and tier as they are now."""
    customer_id = str(payload["customer_id"])
    shop_id = ctx.shop.shop_id
    async with ctx.db.read() as session:
        try:
            balance = await balance_in(session, shop_id, customer_id)
        except MemberNotFound:
            return  # no such member (any more): nothing to show on the store
    store = await ctx.stores.for_shop(shop_id)
    try:
        await store.set_balance(customer_id, balance.available, balance.tier)
    except StoreNotFound as exc:
        # A customer the store does not know (deleted there, or an id that was never one of
        # its customers): nothing to write to, and asking again will not change that.
        log.info("balance write skipped", shop_id=shop_id, job_id=ctx.job_id, reason=exc.message)
    finally:
        await store.aclose()


def install() -> None:
    """Have every transaction that moves a balance enqueue its write-back (idempotent)."""
    ledger.observe_balances(enqueue_writes)
