"""The rollup kept up to date by the scheduler: each tick, the days that changed for each shop."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from app.db import Database
from app.program import versions
from app.reports import derived, rollup
from app.shops.service import ShopContext


async def roll_up(db: Database, shop: ShopContext, now: datetime) -> int:
    """The periodic task: make again the days that changed since the last tick."""
    async with db.write() as session:
        zone = ZoneInfo((await versions.load(session, shop.shop_id)).at(now).document.timezone)
        days, tx_id, member_id = await rollup.changed_days(session, shop.shop_id, zone, now)
        count = await rollup.rebuild(session, shop.shop_id, days, zone)
        await derived.rebuild(session, shop.shop_id, days, zone, now)
        await rollup.save_cursor(session, shop.shop_id, tx_id, member_id)
    return count


async def rebuild_all(db: Database, shop_id: int, now: datetime) -> int:
    """Every day of the shop made again (``vafa reports rebuild``), a month per transaction."""
    async with db.read() as session:
        zone = ZoneInfo((await versions.load(session, shop_id)).at(now).document.timezone)
        days = await rollup.all_days(session, shop_id, zone, now)
    for at in range(0, len(days), 31):
        async with db.write() as session:
            await rollup.rebuild(session, shop_id, days[at : at + 31], zone)
            await derived.rebuild(session, shop_id, days[at : at + 31], zone, now, aggregate=False)
    async with db.write() as session:
        if days:
            await derived.aggregate_since(session, shop_id, days[0], now, whole=True)
        _, tx_id, member_id = await rollup.changed_days(session, shop_id, zone, now)
        await rollup.save_cursor(session, shop_id, tx_id, member_id)
    return len(days)
