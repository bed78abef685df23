"""The jobs and the periodic task of app.sync, registered with the job queue."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from app.config import get_settings
from app.db import Database
from app.jobs import service as jobs
from app.jobs.kinds import JobContext, JobKinds
from app.jobs.models import WAITING_LITERALS, Job
from app.shops.service import ShopContext
from app.sync import orders, webhooks, writeback

SWEEP = "orders.sweep"
SWEEP_KEY = "sweep"
BACKFILL = "orders.backfill"


def install() -> None:
    """What every process that moves balances needs: their write-back enqueued."""
    writeback.install()


def register(kinds: JobKinds) -> None:
    install()
    kinds.register(writeback.BALANCE_WRITE, writeback.write_balance, rerun_delay=writeback.delay())
    kinds.register(webhooks.WEBHOOKS_SYNC, webhooks.run_sync)
    kinds.register(SWEEP, run_sweep)
    kinds.register(BACKFILL, run_backfill)


async def run_sweep(ctx: JobContext, payload: Mapping[str, Any]) -> None:
    """The reconciliation sweep, and the webhooks made good (WooCommerce disables a webhook
    whose deliveries keep failing; Shopify deletes it): a lost delivery is made good here."""
    overlap = timedelta(seconds=get_settings().sweep_overlap_seconds)
    await orders.sweep(ctx.db, ctx.stores, ctx.shop, overlap)
    base_url = webhooks.public_url()
    if base_url is not None:
        await webhooks.sync_webhooks(ctx.stores, ctx.shop.shop_id, ctx.shop.platform, base_url)


async def schedule_sweep(db: Database, shop: ShopContext, now: datetime) -> int:
    """The periodic task: the shop's sweep job, once ``sweep_interval_seconds`` have passed
    since its last sweep (the first: since the shop was added, which is where it reads from)
    and none is waiting or running; 1 when it enqueued one."""
    interval = timedelta(seconds=get_settings().sweep_interval_seconds)
    last = await orders.last_swept(db, shop.shop_id)
    if last is not None and last + interval > now:
        return 0
    async with db.write() as session:
        waiting = await session.scalar(
            select(Job.id).where(
                Job.shop_id == shop.shop_id,
                Job.kind == SWEEP,
                Job.dedupe_key == SWEEP_KEY,
                Job.status.in_(WAITING_LITERALS),
            )
        )
        if waiting is not None:
            return 0
        await jobs.enqueue(session, shop.shop_id, SWEEP, {}, key=SWEEP_KEY, run_after=now)
    return 1


async def enqueue_webhook_sync(session: Any, shop_id: int) -> int:
    """Ask for the shop's webhooks to be made (when it is added)."""
    return await jobs.enqueue(session, shop_id, webhooks.WEBHOOKS_SYNC, {}, key="webhooks")


async def enqueue_backfill(session: Any, shop_id: int, since: datetime, until: datetime) -> int:
    """Ask for the store's orders changed from ``since`` until the store was connected
    (``until``) to be imported, without points: its club starts then, and later refunds of
    them take nothing back. One changed after ``until`` is left to its webhook (or the sweep),
    which awards it: recorded here, it would never earn, though it was paid with Vafa there.
    One job per shop: connecting again coalesces into it, or runs it again."""
    payload = {"since": since.isoformat(), "until": until.isoformat()}
    return await jobs.enqueue(session, shop_id, BACKFILL, payload, key="backfill")


async def run_backfill(ctx: JobContext, payload: Mapping[str, Any]) -> None:
    """The ``orders.backfill`` job. Its progress is kept page by page (``vafa shop show``); run
    again after a crash it imports the same orders again, which posts nothing new."""
    since = datetime.fromisoformat(str(payload["since"]))
    until = datetime.fromisoformat(str(payload["until"])) if "until" in payload else None
    shop_id = ctx.shop.shop_id
    await orders.note_backfill(ctx.db, shop_id, imported=0, finished_at=None)
    imported = 0
    pages = orders.import_since(ctx.db, ctx.stores, ctx.shop, since, award=False, until=until)
    async for page in pages:
        imported += len(page)
        await orders.note_backfill(ctx.db, shop_id, imported=imported, finished_at=None)
    await orders.note_backfill(ctx.db, shop_id, imported=imported, finished_at=ctx.now)
