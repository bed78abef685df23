"""``/api/v1/holdout``: the share of new customers kept out of the club, for the lift report."""

from __future__ import annotations

from app.api.deps import CurrentShop, ReadSession, WriteSession
from app.api.errors import error_responses
from app.api.routing import admin_router
from app.errors import PayloadTooLarge, ValidationFailed
from app.holdout import service
from app.holdout.schemas import HoldoutIn, HoldoutOut
from app.orm import utcnow

router = admin_router("/api/v1/holdout", tags=["holdout"])


@router.get("", response_model=HoldoutOut, summary="The shop's holdout")
async def get_holdout(shop: CurrentShop, session: ReadSession) -> HoldoutOut:
    """The share held out (0: off, the default), the salt, and how many customers each cohort
    holds."""
    return await service.describe(session, shop.shop_id)


@router.put(
    "",
    response_model=HoldoutOut,
    summary="Set the share of new customers held out of the club",
    responses=error_responses(PayloadTooLarge, ValidationFailed),
)
async def put_holdout(body: HoldoutIn, shop: CurrentShop, session: WriteSession) -> HoldoutOut:
    """Customers seen for the first time from now on are held out at this share, by a stable
    hash of the salt and their id; members already in the club stay in it. A smaller share
    releases the holdout customers above it: they join the club from now on (what they bought
    while held out earns nothing)."""
    return await service.configure(session, shop.shop_id, body, utcnow())
