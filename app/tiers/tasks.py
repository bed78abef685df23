"""The periodic review (registered in :data:`app.jobs.scheduled.SCHEDULED`): members whose
review time has come are evaluated again, so a tier falls at the end of its period (plus the
grace days) and a paid membership ends with its term, though no order of theirs arrives."""

from __future__ import annotations

from datetime import datetime

import structlog
from sqlalchemy import select

from app.db import Database
from app.ledger import locks
from app.ledger.models import AccountKind
from app.logs import log_failure
from app.program import versions
from app.shops.service import ShopContext
from app.tiers import service
from app.tiers.models import MemberTier

log = structlog.get_logger(__name__)

# Members reviewed in one transaction.
_BATCH = 200


async def review_due(db: Database, shop: ShopContext, now: datetime) -> int:
    """Evaluate the members due for review; how many tiers changed."""
    async with db.read() as session:
        due = list(
            (
                await session.scalars(
                    select(MemberTier.customer_id)
                    .where(MemberTier.shop_id == shop.shop_id, MemberTier.review_at <= now)
                    .order_by(MemberTier.customer_id)
                )
            ).all()
        )
    changed = 0
    for start in range(0, len(due), _BATCH):
        batch = due[start : start + _BATCH]
        try:
            changed += await _review(db, shop.shop_id, batch, now)
        except Exception as exc:
            log_failure(log, "tier review failed", exc, shop_id=shop.shop_id, members=len(batch))
    return changed


async def _review(db: Database, shop_id: int, customer_ids: list[str], now: datetime) -> int:
    async with db.write() as session:
        # The members' locks, as a batch of orders takes them: the two never interleave.
        keys = [(c, kind) for c in customer_ids for kind in AccountKind.MEMBER]
        await locks.lock_accounts(session, shop_id, keys)
        before = await service.tier_of(session, shop_id, customer_ids, at=now)
        history = await versions.load(session, shop_id)
        after = await service.evaluate(session, shop_id, history, customer_ids, now)
    return sum(1 for c, tier in after.items() if before.get(c) != tier)
