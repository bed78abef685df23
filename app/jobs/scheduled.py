"""The periodic tasks Vafa runs for every active shop: void holds past their deadline, release
pending points that are due, expire lots that are due. Add a task with one line in
:data:`SCHEDULED`."""

from __future__ import annotations

from datetime import datetime

import structlog
from sqlalchemy import select

from app.db import Database
from app.engage import birthdays
from app.jobs.periodic import Periodic
from app.ledger import holds, locks
from app.ledger import service as ledger
from app.ledger.models import AccountKind, PointLot
from app.logs import log_failure
from app.privacy import tasks as privacy_tasks
from app.program import reconcile
from app.referrals import tasks as referrals_tasks
from app.reports import tasks as reports_tasks
from app.rewards import tasks as rewards_tasks
from app.segments import tasks as segments_tasks
from app.shops.service import ShopContext
from app.sync import tasks as sync_tasks
from app.tiers import tasks as tiers_tasks
from app.woocommerce_app import tasks as woocommerce_app_tasks

log = structlog.get_logger(__name__)


async def release_due(db: Database, shop: ShopContext, now: datetime) -> int:
    """Release the held points of orders whose hold has ended; how many postings were made."""
    async with db.read() as session:
        order_ids = await reconcile.due_for_release(session, shop.shop_id, now)
    count = 0
    for order_id in order_ids:
        try:
            async with db.write() as session:
                order = await reconcile.lock_order(session, shop.shop_id, order_id)
                posted = await reconcile.reconcile(session, shop.shop_id, shop.settings, order, now)
                count += sum(1 for p in posted if p.created)
        except Exception as exc:
            log_failure(log, "release failed", exc, shop_id=shop.shop_id, order_id=order_id)
    return count


async def expire_due(db: Database, shop: ShopContext, now: datetime) -> int:
    """Expire what remains of lots past their expiry; how many lots."""
    async with db.read() as session:
        due = (
            await session.execute(
                select(PointLot.id, PointLot.owner)
                .where(
                    PointLot.shop_id == shop.shop_id,
                    PointLot.expires_at <= now,
                    PointLot.remaining > 0,
                )
                .order_by(PointLot.owner, PointLot.id)
            )
        ).all()
    count = 0
    for lot_id, owner in due:
        try:
            count += await _expire_lot(db, shop, lot_id, owner)
        except Exception as exc:
            log_failure(log, "expiry failed", exc, shop_id=shop.shop_id, lot_id=lot_id)
    return count


async def _expire_lot(db: Database, shop: ShopContext, lot_id: int, owner: str) -> int:
    async with db.write() as session:
        await locks.lock_accounts(session, shop.shop_id, [(owner, AccountKind.AVAILABLE)])
        # Read again under the member's lock: a redemption may have used the lot since.
        lot = await session.get(PointLot, lot_id, populate_existing=True)
        if lot is None or lot.remaining <= 0 or lot.expires_at is None:
            return 0
        await ledger.expire_lot(session, shop.shop_id, owner, lot.id, lot.remaining, lot.expires_at)
    return 1


async def void_overdue_holds(db: Database, shop: ShopContext, now: datetime) -> int:
    """Give back the points of holds nobody captured or voided by their deadline."""
    return await holds.void_expired_holds(db, shop.shop_id, now)


# Holds are voided before lots expire: points a void gives back whose lot's expiry has passed
# expire in the same run.
SCHEDULED: tuple[Periodic, ...] = (
    Periodic("voided", void_overdue_holds),
    Periodic("released", release_due),
    Periodic("expired", expire_due),
    Periodic("codes_expired", rewards_tasks.expire_codes),
    Periodic("referrals_settled", referrals_tasks.settle_due),
    Periodic("sweeps", sync_tasks.schedule_sweep),
    Periodic("tiers_reviewed", tiers_tasks.review_due),
    Periodic("days_rolled_up", reports_tasks.roll_up),
    *privacy_tasks.SCHEDULED,
    Periodic("birthdays", birthdays.grant_due),
    Periodic("pending_shops_purged", woocommerce_app_tasks.purge_pending),
    Periodic("segments_refreshes", segments_tasks.schedule_refresh),
)
