"""``/api/v1/members``: balances, ledger lines and manual adjustments, for the store owner."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import Path, Query, Response

from app.api.deps import Balances, CurrentShop, ReadSession, State, WriteSession
from app.api.errors import error_responses
from app.api.routing import admin_router
from app.errors import (
    IdempotencyConflict,
    InsufficientPoints,
    InvalidRequest,
    MemberNotFound,
    PayloadTooLarge,
    ValidationFailed,
)
from app.holdout import membership as holdout
from app.members import adjustments, service
from app.members.balances import Balance, balance_in
from app.members.schemas import (
    AdjustmentIn,
    AdjustmentOut,
    EntriesOut,
    EntryOut,
    MemberOut,
    Source,
)
from app.orm import utcnow
from app.tiers import service as tiers

router = admin_router("/api/v1/members", tags=["members"])
# The platform's customer id, as stored (64 characters at most); control characters (NUL, which
# PostgreSQL cannot hold in text) are refused with 422 before any query.
CustomerId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="the platform's customer id",
        examples=["207119551"],
    ),
]
# Ledger transaction ids are BIGINT: anything past it would be refused by the database.
_MAX_ID = 2**63 - 1


def _member_document(
    b: Balance, tier: str | None = None, progress: tiers.TierProgress | None = None
) -> dict[str, Any]:
    """A member as the contract shows it (the shape of :class:`MemberOut`); ``tier`` and
    ``progress`` as :func:`app.tiers.service.progress` gives them, where it was asked."""
    return {
        "customer_id": b.customer_id,
        "points": {
            "available": b.available,
            "pending": b.pending,
            "held": b.held,
            "lifetime_earned": b.lifetime_earned,
        },
        "tier": tier or b.tier,
        "tier_progress": None if progress is None else progress.as_json(),
    }


@router.get(
    "/{customer_id}",
    response_model=MemberOut,
    summary="A member's points",
    responses=error_responses(MemberNotFound, ValidationFailed),
)
async def get_member(
    customer_id: CustomerId, shop: CurrentShop, balances: Balances, vafa: State
) -> Response:
    """What the member can spend now, what is still pending, and what they earned in all,
    their tier and what they still need for the next one (``tier_progress``, null when the
    program has no tiers). The storefront widget's read: encoded straight from what was read,
    without building a pydantic model and validating it again (``response_model`` documents
    it)."""
    member = await balances.get(shop.shop_id, customer_id)
    now = utcnow()
    history = vafa.programs.cached(shop.shop_id, member.program)
    held_out = False
    if not member.holdout_set and history is not None and history.at(now).document.tiers is None:
        tier, progress = member.tier, None  # no tiers, no holdout: nothing more to read
    else:
        async with vafa.db.read() as session:
            held_out = member.holdout_set and await holdout.shown_as_holdout(
                session, shop.shop_id, customer_id
            )
            history = history or await vafa.programs.load(session, shop.shop_id, member.program)
            tier, progress = await tiers.progress(
                session, shop.shop_id, customer_id, member.tier, now, history
            )
    if held_out:  # not in the club: no tier to be in or to reach
        tier, progress = None, None
    document = {**_member_document(member, tier, progress), "holdout": held_out}
    return Response(orjson.dumps(document), media_type="application/json")


@router.get(
    "/{customer_id}/entries",
    response_model=EntriesOut,
    summary="A member's ledger lines, newest first",
    responses=error_responses(MemberNotFound, ValidationFailed),
)
async def get_entries(
    customer_id: CustomerId,
    shop: CurrentShop,
    session: ReadSession,
    limit: Annotated[int, Query(ge=1, le=500, description="lines per page")] = 100,
    before_id: Annotated[
        int | None, Query(ge=1, le=_MAX_ID, description="only lines older than this id")
    ] = None,
) -> EntriesOut:
    """Every movement of the member's points, with its kind, source, rule and reason; pass
    ``next_before_id`` as ``before_id`` for the next page."""
    lines = await service.entries(
        session, shop.shop_id, customer_id, limit=limit, before_id=before_id
    )
    return EntriesOut(
        customer_id=customer_id,
        entries=[
            EntryOut(
                id=line.id,
                kind=line.kind,
                points=line.points,
                reason=line.reason,
                source=Source(type=line.source_type, id=line.source_id, order_id=line.order_id),
                rule=line.rule,
                uncollected=line.uncollected,
                created_at=line.created_at,
            )
            for line in lines
        ],
        next_before_id=lines[-1].id if len(lines) == limit else None,
    )


@router.post(
    "/{customer_id}/adjustments",
    response_model=AdjustmentOut,
    status_code=201,
    summary="Add or remove points by hand",
    responses={
        200: {"model": AdjustmentOut, "description": "the same request was already carried out"},
        **error_responses(
            InvalidRequest,
            IdempotencyConflict,
            InsufficientPoints,
            PayloadTooLarge,
            ValidationFailed,
        ),
    },
)
async def adjust(
    customer_id: CustomerId,
    body: AdjustmentIn,
    shop: CurrentShop,
    session: WriteSession,
    response: Response,
) -> AdjustmentOut:
    """A manual correction, posted once per idempotency key: sending the same request again
    returns the first result (200) and changes nothing; the same key with other points or
    another reason is a 409. Removing points never takes a member below zero."""
    posted = await adjustments.adjust(
        session,
        shop.shop_id,
        customer_id,
        body.points,
        idempotency_key=body.idempotency_key,
        reason=body.reason,
    )
    member = await balance_in(session, shop.shop_id, customer_id)
    held_out = await holdout.shown_as_holdout(session, shop.shop_id, customer_id)
    if not posted.created:
        response.status_code = 200
    return AdjustmentOut(
        transaction_id=posted.transaction_id,
        created=posted.created,
        member=MemberOut.model_validate({**_member_document(member), "holdout": held_out}),
    )
