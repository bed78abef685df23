"""The privacy work of each scheduler tick, for active and paused shops alike (none of it calls
the store): carry out the requests webhooks recorded, then clear webhook bodies past the shop's
retention. Registered in :data:`app.jobs.scheduled.SCHEDULED`."""

from __future__ import annotations

from datetime import datetime

import structlog
from sqlalchemy import select

from app.db import Database
from app.jobs.periodic import Periodic
from app.logs import describe, log_failure
from app.privacy import service
from app.privacy.models import PrivacyRequest, RequestStatus
from app.shops.service import ShopContext

log = structlog.get_logger(__name__)


async def carry_out_pending(db: Database, shop: ShopContext, now: datetime) -> int:
    """Carry out the shop's pending requests, oldest first, each in its own transaction; how
    many were done. A failed one is tried again at the next tick, and parked as failed after
    :data:`service.MAX_ATTEMPTS`."""
    async with db.read() as session:
        ids = list(
            (
                await session.scalars(
                    select(PrivacyRequest.id)
                    .where(
                        PrivacyRequest.shop_id == shop.shop_id,
                        PrivacyRequest.status == RequestStatus.PENDING,
                    )
                    .order_by(PrivacyRequest.id)
                )
            ).all()
        )
    done = 0
    for request_id in ids:
        try:
            async with db.write() as session:
                request = await session.get(PrivacyRequest, request_id, with_for_update=True)
                if request is None or request.status != RequestStatus.PENDING:
                    continue  # carried out meanwhile, or its shop deleted
                await service.carry_out(session, request, now)
            done += 1
        except Exception as exc:
            log_failure(log, "privacy request failed", exc, shop_id=shop.shop_id,
                        request_id=request_id)  # fmt: skip
            await _record_failure(db, request_id, describe(exc))
    return done


async def _record_failure(db: Database, request_id: int, error: str) -> None:
    async with db.write() as session:
        request = await session.get(PrivacyRequest, request_id, with_for_update=True)
        if request is None:
            return
        request.attempts += 1
        request.last_error = error
        if request.attempts >= service.MAX_ATTEMPTS:
            request.status = RequestStatus.FAILED


async def clear_old_bodies(db: Database, shop: ShopContext, now: datetime) -> int:
    async with db.write() as session:
        return await service.clear_old_bodies(session, shop.shop_id, now)


# Last in a tick: a shop redaction deletes the shop the other tasks would work on.
SCHEDULED: tuple[Periodic, ...] = (
    Periodic("bodies_cleared", clear_old_bodies),
    Periodic("privacy_requests", carry_out_pending),
)
