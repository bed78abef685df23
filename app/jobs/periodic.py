"""Periodic work: a task run for every active or paused shop at each scheduler tick (a paused
shop's points are still released and expired; what calls its store is a job, which waits).

Adding one is one line in :data:`app.jobs.scheduled.SCHEDULED`. A task returns how many things
it did; a task that fails for one shop is logged and stays that shop's (the other shops and
tasks still run, and the next tick tries again).

The runners' loops tick on their own clocks; with ``interval``, a tick first claims each shop
for the interval it falls in (``scheduler_ticks``), so that of several `vafa worker` processes
one does a shop's periodic work per interval."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from sqlalchemy import select

from app.db import Database, dialect_insert
from app.jobs.models import SchedulerTick
from app.logs import log_failure
from app.orm import table_of
from app.shops.models import Shop, ShopStatus
from app.shops.service import ShopContext, ShopDirectory

log = structlog.get_logger(__name__)

ShopTask = Callable[[Database, ShopContext, datetime], Awaitable[int]]


@dataclass(frozen=True, slots=True)
class Periodic:
    name: str  # also the key of its count in the tick's result
    run: ShopTask


async def run_periodic(
    db: Database,
    shops: ShopDirectory,
    tasks: Sequence[Periodic],
    now: datetime,
    interval: float | None = None,
) -> dict[str, int]:
    """One tick: every task for every active or paused shop (with ``interval``, every shop
    this tick claims); how many things each task did."""
    async with db.read() as session:
        query = select(Shop.id).where(Shop.status.in_(ShopStatus.RECEIVING)).order_by(Shop.id)
        shop_ids = list((await session.scalars(query)).all())
    counts = {task.name: 0 for task in tasks}
    for shop_id in shop_ids:
        try:
            if interval is not None and not await claim_tick(db, shop_id, now, interval):
                continue  # another runner has this interval's tick for the shop
        except Exception as exc:  # the next tick claims again; the other shops go on
            log_failure(log, "claiming a scheduler tick failed", exc, shop_id=shop_id)
            continue
        for task in tasks:
            try:  # one shop's trouble (credentials that no longer decrypt, say) stays its own
                shop = await shops.by_id(shop_id)
                if shop is None:
                    continue
                counts[task.name] += await task.run(db, shop, now)
            except Exception as exc:
                log_failure(log, "periodic task failed", exc, task=task.name, shop_id=shop_id)
    return counts


async def claim_tick(db: Database, shop_id: int, now: datetime, interval: float) -> bool:
    """Claim the shop's tick for the interval ``now`` falls in; False if a runner has it."""
    start = datetime.fromtimestamp(now.timestamp() // interval * interval, UTC)
    table = table_of(SchedulerTick)
    async with db.write() as session:
        insert = dialect_insert(table, session.get_bind().dialect.name).values(
            shop_id=shop_id, tick_start=start, claimed_at=now
        )
        claimed = await session.scalar(
            insert.on_conflict_do_update(
                index_elements=[table.c.shop_id],
                set_={"tick_start": insert.excluded.tick_start, "claimed_at": now},
                where=table.c.tick_start < insert.excluded.tick_start,
            ).returning(table.c.id)
        )
    return claimed is not None
