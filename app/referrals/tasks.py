"""The periodic payout: referrals whose order's hold period has ended, paid in a transaction
each (app/jobs/scheduled.py runs it for every shop at each tick)."""

from __future__ import annotations

from datetime import datetime

import structlog
from sqlalchemy import select

from app.db import Database
from app.logs import log_failure
from app.referrals import service
from app.referrals.models import Referral, ReferralStatus
from app.shops.service import ShopContext

log = structlog.get_logger(__name__)


async def settle_due(db: Database, shop: ShopContext, now: datetime) -> int:
    """Pay the pending referrals past their hold period; how many were settled."""
    async with db.read() as session:
        due = list(
            await session.scalars(
                select(Referral.id)
                .where(
                    Referral.shop_id == shop.shop_id,
                    Referral.status == ReferralStatus.PENDING,
                    Referral.release_at <= now,
                )
                .order_by(Referral.id)
            )
        )
    count = 0
    for referral_id in due:
        try:
            async with db.write() as session:
                referral = await service.settle_one(session, shop.shop_id, referral_id, now)
                count += referral.status != ReferralStatus.PENDING
        except Exception as exc:  # one referral's trouble stays its own; the next tick retries
            log_failure(log, "referral payout failed", exc, shop_id=shop.shop_id,
                        referral_id=referral_id)  # fmt: skip
    return count
