"""Setting a shop's program: ``PUT /api/v1/program``, ``vafa program set`` and ``vafa shop
settings`` all publish through here, inside the caller's transaction.

The shop's settings (``shops.settings``, what the ledger's policies, the rewards and the
platform parsers read through ``ShopContext.settings``) follow the newest version's policies:
they are written when a version is published, so a version that takes effect later brings its
policies forward to the moment it is published (its rules wait for their time).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import NotFound, ValidationFailed
from app.program import versions
from app.program.document import (
    DEFAULT_PURCHASE_KEY,
    POLICY_FIELDS,
    ProgramDocument,
    from_settings,
    unknown_segments,
)
from app.program.settings import ProgramSettings
from app.program.versions import Version
from app.shops.models import Shop


async def publish(
    session: AsyncSession,
    shop_id: int,
    document: ProgramDocument,
    now: datetime,
    effective_at: datetime | None = None,
) -> tuple[Version, bool]:
    """Store ``document`` as the shop's next version; ``(version, created)``. The same document
    as the newest version, with no time asked for, is that version again (``created`` False):
    sending a program twice makes one version."""
    shop = await session.scalar(select(Shop).where(Shop.id == shop_id).with_for_update())
    if shop is None:
        raise NotFound(f"no shop {shop_id}")
    if problems := await segment_problems(session, shop_id, document):
        first = problems[0]
        raise ValidationFailed(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}")
    latest = (await versions.load(session, shop_id)).latest
    if effective_at is None and document == latest.document:
        return latest, False
    version = await versions.publish(session, shop_id, document, now, effective_at)
    current = ProgramSettings.from_json(shop.settings)
    policies = document.policies().model_dump()
    shop.settings = current.model_copy(update=policies).to_json()
    await session.flush()
    return version, True


async def segment_problems(
    session: AsyncSession, shop_id: int, document: ProgramDocument
) -> list[dict[str, Any]]:
    """The document's campaigns that name a segment the shop does not have."""
    if not any(getattr(rule, "segment", None) for rule in document.rules):
        return []
    from app.segments.service import keys  # the segments read the program: imported here

    return unknown_segments(document, await keys(session, shop_id))


def with_settings(
    document: ProgramDocument, settings: ProgramSettings, rate_changed: bool
) -> ProgramDocument:
    """``document`` with the policies of ``settings`` and, if ``points_per_unit`` was changed,
    its ``purchase`` rule made from it (removed at 0): what ``vafa shop settings`` publishes."""
    data = document.to_json()
    data.update(settings.model_dump(mode="json", include=set(POLICY_FIELDS)))
    if rate_changed:
        rules = [r for r in data["rules"] if r["key"] != DEFAULT_PURCHASE_KEY]
        made = from_settings(settings).rule(DEFAULT_PURCHASE_KEY)
        if made is not None:
            rules.insert(0, made.model_dump(mode="json", exclude_none=True))
        data["rules"] = rules
    return ProgramDocument.model_validate(data)
