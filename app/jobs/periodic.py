"""Periodic work: a task run for every active or paused shop at each scheduler tick (a paused
shop's points are still released and expired; what calls its store is a job, which waits).

Adding one is one line in :data:`app.jobs.scheduled.SCHEDULED`. A task returns how many things
it did; a task that fails for one shop is logged and stays that shop's (the other shops and
tasks still run, and the next tick tries again)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy import select

from app.db import Database
from app.logs import log_failure
from app.shops.models import Shop, ShopStatus
from app.shops.service import ShopContext, ShopDirectory

log = structlog.get_logger(__name__)

ShopTask = Callable[[Database, ShopContext, datetime], Awaitable[int]]


@dataclass(frozen=True, slots=True)
class Periodic:
    name: str  # also the key of its count in the tick's result
    run: ShopTask


async def run_periodic(
    db: Database, shops: ShopDirectory, tasks: Sequence[Periodic], now: datetime
) -> dict[str, int]:
    """One tick: every task for every active or paused shop; how many things each task did."""
    async with db.read() as session:
        query = select(Shop.id).where(Shop.status.in_(ShopStatus.RECEIVING)).order_by(Shop.id)
        shop_ids = list((await session.scalars(query)).all())
    counts = {task.name: 0 for task in tasks}
    for shop_id in shop_ids:
        for task in tasks:
            try:  # one shop's trouble (credentials that no longer decrypt, say) stays its own
                shop = await shops.by_id(shop_id)
                if shop is None:
                    continue
                counts[task.name] += await task.run(db, shop, now)
            except Exception as exc:
                log_failure(log, "periodic task failed", exc, task=task.name, shop_id=shop_id)
    return counts
