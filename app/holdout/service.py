"""The shop's holdout setting (``GET``/``PUT /api/v1/holdout``, the admin's lift page)."""

from __future__ import annotations

import secrets
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.holdout.membership import settings_of
from app.holdout.models import Cohort, HoldoutAssignment, HoldoutSettings
from app.holdout.schemas import HoldoutIn, HoldoutOut


def percent(share_bp: int) -> Decimal:
    return (Decimal(share_bp) / 100).quantize(Decimal("0.01"))


async def describe(session: AsyncSession, shop_id: int) -> HoldoutOut:
    settings = await settings_of(session, shop_id)
    a = HoldoutAssignment
    rows = await session.execute(
        select(a.cohort, a.released_at.is_not(None), func.count())
        .where(a.shop_id == shop_id)
        .group_by(a.cohort, a.released_at.is_not(None))
    )
    counts = {Cohort.HOLDOUT: 0, Cohort.MEMBER: 0, Cohort.ENROLLED: 0, "released": 0}
    for cohort, released, n in rows:
        counts["released" if released else cohort] += int(n)
    share = settings.share_bp if settings else 0
    return HoldoutOut(
        share_percent=percent(share),
        enabled=share > 0,
        salt=settings.salt if settings else None,
        started_at=settings.started_at if settings else None,
        customers=counts,
    )


async def configure(
    session: AsyncSession, shop_id: int, asked: HoldoutIn, now: datetime
) -> HoldoutOut:
    """Set the share (and the salt); a share that shrinks releases, at once, the holdout
    customers whose bucket is now above it (they earn from ``now`` on)."""
    share_bp = int(asked.share_percent * 100)
    settings = await session.scalar(
        select(HoldoutSettings).where(HoldoutSettings.shop_id == shop_id).with_for_update()
    )
    if settings is None:
        settings = HoldoutSettings(shop_id=shop_id, share_bp=0,
                                   salt=asked.salt or secrets.token_urlsafe(24))  # fmt: skip
        session.add(settings)
    elif asked.salt is not None:
        settings.salt = asked.salt
    if share_bp < settings.share_bp:
        a = HoldoutAssignment
        await session.execute(
            update(a)
            .where(a.shop_id == shop_id, a.cohort == Cohort.HOLDOUT, a.released_at.is_(None),
                   a.bucket >= share_bp)
            .values(released_at=now)
        )  # fmt: skip
    settings.share_bp = share_bp
    if share_bp > 0 and settings.started_at is None:
        settings.started_at = now
    settings.updated_at = now
    await session.flush()
    return await describe(session, shop_id)
