"""The segments' job and periodic task: the refresh job (``segments.refresh``, one per shop)
recomputes every segment of the shop; the daily task asks for it once a day, and changing a
definition asks for it at once (``service.put``/``service.remove``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import structlog

from app.db import Database
from app.jobs.kinds import JobContext, JobKinds
from app.segments import service
from app.shops.service import ShopContext

log = structlog.get_logger(__name__)

# How often the daily task refreshes a shop's segments.
INTERVAL = timedelta(days=1)


def register(kinds: JobKinds) -> None:
    kinds.register(service.REFRESH, run_refresh)


async def run_refresh(ctx: JobContext, payload: Mapping[str, Any]) -> None:
    """Recompute the shop's segments as of the job's time (idempotent: run twice, the second
    finds nothing to move)."""
    async with ctx.db.write() as session:
        done = await service.refresh(session, ctx.shop.shop_id, ctx.now)
    log.info("segments refreshed", shop_id=ctx.shop.shop_id, members=done.members,
             entered=done.entered, left=done.left)  # fmt: skip


async def schedule_refresh(db: Database, shop: ShopContext, now: datetime) -> int:
    """The periodic task: the shop's refresh job once :data:`INTERVAL` has passed since its
    last refresh (or it never had one); 1 when it asked for one."""
    async with db.read() as session:
        last = await service.last_refresh(session, shop.shop_id)
    if last is not None and last + INTERVAL > now:
        return 0
    async with db.write() as session:
        await service.ask_refresh(session, shop.shop_id)
    return 1
