"""``/api/v1/members/{customer_id}/tier-history``: a member's tier changes, newest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from app.api.deps import CurrentShop, ReadSession
from app.api.errors import error_responses
from app.api.routing import admin_router
from app.errors import MemberNotFound, ValidationFailed
from app.members.endpoints import CustomerId
from app.tiers import service
from app.tiers.schemas import TierChangeOut, TierHistoryOut

router = admin_router("/api/v1/members", tags=["tiers"])
_MAX_ID = 2**63 - 1


@router.get(
    "/{customer_id}/tier-history",
    response_model=TierHistoryOut,
    summary="A member's tier changes, newest first",
    responses=error_responses(MemberNotFound, ValidationFailed),
)
async def tier_history(
    customer_id: CustomerId,
    shop: CurrentShop,
    session: ReadSession,
    limit: Annotated[int, Query(ge=1, le=500, description="changes per page")] = 100,
    before_id: Annotated[
        int | None, Query(ge=1, le=_MAX_ID, description="only changes older than this id")
    ] = None,
) -> TierHistoryOut:
    """Every change of the member's tier: from, to, why, when, and under which program
    version. Tier changes are not ledger lines: they move no points."""
    found = await service.changes(
        session, shop.shop_id, customer_id, limit=limit, before_id=before_id
    )
    return TierHistoryOut(
        customer_id=customer_id,
        changes=[
            TierChangeOut(
                id=c.id,
                from_=c.from_tier,
                to=c.to_tier,
                reason=c.reason,
                at=c.at,
                program_version=c.program_version,
            )
            for c in found
        ],  # fmt: skip
        next_before_id=found[-1].id if len(found) == limit else None,
    )
