"""``/api/v1/members/{customer_id}/referral`` (a member's code and link) and
``/api/v1/referrals`` (the store owner's review)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from app.api.deps import CurrentShop, ReadSession, State, WriteSession
from app.api.errors import error_responses
from app.api.routing import admin_router
from app.errors import MemberNotFound, PayloadTooLarge, ValidationFailed
from app.members.endpoints import CustomerId
from app.orm import utcnow
from app.referrals import service
from app.referrals.errors import ReferralDecided, ReferralNotFound
from app.referrals.models import Referral
from app.referrals.schemas import ReferralLinkOut, ReferralOut, ReferralsOut, RejectIn, Status

router = admin_router("/api/v1", tags=["referrals"])
_MAX_ID = 2**63 - 1
Id = Annotated[int, Path(ge=1, le=_MAX_ID)]


def _out(referral: Referral) -> ReferralOut:
    return ReferralOut.model_validate(referral)


@router.get(
    "/members/{customer_id}/referral",
    response_model=ReferralLinkOut,
    summary="A member's referral code and link",
    responses=error_responses(MemberNotFound, ValidationFailed),
)
async def get_referral_link(
    customer_id: CustomerId, shop: CurrentShop, session: WriteSession, state: State
) -> ReferralLinkOut:
    """The same code every time (derived from the member); a friend's first paid order that
    carries it, as the attribute ``vafa_ref`` or as a discount code, is the member's referral."""
    code = await service.code_of(session, shop.shop_id, customer_id, state.settings.secret_key)
    return ReferralLinkOut(
        customer_id=customer_id, code=code, link=service.link_for(shop.platform, shop.domain, code)
    )


@router.get(
    "/referrals",
    response_model=ReferralsOut,
    summary="The shop's referrals, newest first",
    responses=error_responses(ValidationFailed),
)
async def list_referrals(
    shop: CurrentShop,
    session: ReadSession,
    status: Annotated[Status | None, Query(description="only referrals in this status")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before_id: Annotated[int | None, Query(ge=1, le=_MAX_ID)] = None,
) -> ReferralsOut:
    """``?status=review`` lists what waits for a decision; pass ``next_before_id`` as
    ``before_id`` for the next page."""
    found = await service.listing(
        session, shop.shop_id, status=status, limit=limit, before_id=before_id
    )
    return ReferralsOut(
        referrals=[_out(r) for r in found],
        next_before_id=found[-1].id if len(found) == limit else None,
    )


@router.get(
    "/referrals/{referral_id}",
    response_model=ReferralOut,
    summary="A referral",
    responses=error_responses(ReferralNotFound, ValidationFailed),
)
async def get_referral(referral_id: Id, shop: CurrentShop, session: ReadSession) -> ReferralOut:
    return _out(await service.get(session, shop.shop_id, referral_id))


@router.post(
    "/referrals/{referral_id}/approve",
    response_model=ReferralOut,
    summary="Approve a referral held for review",
    responses=error_responses(ReferralNotFound, ReferralDecided, ValidationFailed),
)
async def approve_referral(
    referral_id: Id, shop: CurrentShop, session: WriteSession
) -> ReferralOut:
    """Both sides are paid as the rule says: now if the order is past its hold period, else
    when it is (a refund or cancellation before then still voids it)."""
    return _out(await service.approve(session, shop.shop_id, referral_id, utcnow()))


@router.post(
    "/referrals/{referral_id}/reject",
    response_model=ReferralOut,
    summary="Reject a referral under review or pending",
    responses=error_responses(ReferralNotFound, ReferralDecided, PayloadTooLarge, ValidationFailed),
)
async def reject_referral(
    referral_id: Id, body: RejectIn, shop: CurrentShop, session: WriteSession
) -> ReferralOut:
    """Nothing is paid; ``reason`` is kept as the referral's note."""
    return _out(await service.reject(session, shop.shop_id, referral_id, body.reason, utcnow()))
