"""The first backfill of an installed shop, as a job: its recent past orders imported through
the same reconciliation webhooks go through (:func:`app.sync.orders.import_orders`), recorded
without points (a backfill without ``--award``), so that a later refund of an order placed
before the install takes back nothing it never gave.

Nothing here is Shopify's own: a store installed any other way can ask for the same job.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from app.jobs import service as jobs
from app.jobs.kinds import JobContext, JobKinds
from app.orm import utcnow
from app.sync import orders

log = structlog.get_logger(__name__)

BACKFILL = "orders.backfill"
BACKFILL_KEY = "install"
# Shopify lets an app read the last 60 days of orders without read_all_orders.
BACKFILL_DAYS = 60


def register(kinds: JobKinds) -> None:
    kinds.register(BACKFILL, run_backfill)


async def enqueue_backfill(
    session: AsyncSession, shop_id: int, since: datetime, until: datetime
) -> int:
    """One backfill job per shop (a second install coalesces into it, or runs it again)."""
    payload = {"since": since.isoformat(), "until": until.isoformat()}
    return await jobs.enqueue(session, shop_id, BACKFILL, payload, key=BACKFILL_KEY)


async def run_backfill(ctx: JobContext, payload: Mapping[str, Any]) -> None:
    """The orders changed from ``since`` until the install (``until``). One changed after it
    is left to its webhook (or the sweep), which awards it: recorded here, it would never earn,
    though it was placed or paid with Vafa installed."""
    since = datetime.fromisoformat(str(payload["since"]))
    until = datetime.fromisoformat(str(payload["until"]))
    imported = 0
    store = await ctx.stores.for_shop(ctx.shop.shop_id)
    try:
        async for page in store.orders_modified_since(since):
            before = [order for order in page if order.updated_at <= until]
            await orders.import_orders(ctx.db, ctx.shop, before, utcnow(), award=False)
            imported += len(before)
    finally:
        await store.aclose()
    log.info("backfill done", shop_id=ctx.shop.shop_id, orders=imported)
