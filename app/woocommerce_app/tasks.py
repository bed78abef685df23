"""The periodic purge of pending shops nobody finished connecting (registered in
:data:`app.jobs.scheduled.SCHEDULED`)."""

from __future__ import annotations

from datetime import datetime

from app.db import Database
from app.shops.service import ShopContext
from app.woocommerce_app import service

# Periodic tasks run once per shop and tick, with the tick's one ``now``; the purge is not any
# shop's, so it runs for the first shop of each tick only.
_last_tick: list[datetime] = []


async def purge_pending(db: Database, shop: ShopContext, now: datetime) -> int:
    """Pending shops removed (see :func:`service.purge_stale_pending`). Connecting purges
    too, so that strangers' attempts are bounded even while no shop is active."""
    if _last_tick and _last_tick[0] == now:
        return 0
    _last_tick[:] = [now]
    async with db.write() as session:
        return await service.purge_stale_pending(session, now)
