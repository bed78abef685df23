"""``/api/v1/segments``: the RFM segments and the shop's own, their members; and
``/api/v1/members/{customer_id}/segments``: the segments a member is in."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query, Response
from fastapi.exceptions import RequestValidationError
from sqlalchemy import select

from app.api.deps import CurrentShop, ReadSession, WriteSession
from app.api.errors import error_responses
from app.api.routing import admin_router
from app.errors import MemberNotFound, PayloadTooLarge, ValidationFailed
from app.members.endpoints import CustomerId
from app.members.models import Member
from app.orm import utcnow
from app.segments import service
from app.segments.errors import SegmentInUse, SegmentNotFound
from app.segments.models import SegmentDefinition
from app.segments.rfm import RFM_SEGMENTS
from app.segments.rules import SegmentRule
from app.segments.schemas import (
    RFM_NAMES,
    MemberSegmentOut,
    MemberSegmentsOut,
    RfmOut,
    SegmentMemberOut,
    SegmentMembersOut,
    SegmentOut,
    SegmentsOut,
)

router = admin_router("/api/v1/segments", tags=["segments"])
members_router = admin_router("/api/v1/members", tags=["segments"])

SegmentKey = Annotated[
    str,
    Path(
        pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$",
        description="the segment's key: an RFM segment's or the shop's own",
        examples=["vip"],
    ),
]


def _custom(d: SegmentDefinition, members: int, refreshed: object) -> SegmentOut:
    return SegmentOut.model_validate(
        {"key": d.key, "kind": "custom", "names": d.names, "conditions": d.conditions,
         "members": members, "refreshed_at": refreshed, "updated_at": d.updated_at}
    )  # fmt: skip


def _rfm(key: str, members: int, refreshed: object) -> SegmentOut:
    return SegmentOut.model_validate(
        {"key": key, "kind": "rfm", "names": RFM_NAMES[key], "conditions": None,
         "members": members, "refreshed_at": refreshed, "updated_at": None}
    )  # fmt: skip


@router.get("", response_model=SegmentsOut, summary="Every segment and its size")
async def list_segments(shop: CurrentShop, session: ReadSession) -> SegmentsOut:
    """The RFM segments (high_value, loyal, new, at_risk, hibernating) and then the shop's own,
    by key, each with how many members it had at the last refresh."""
    sizes = await service.sizes(session, shop.shop_id)
    refreshed = await service.last_refresh(session, shop.shop_id)
    out = [_rfm(key, sizes.get(key, 0), refreshed) for key in RFM_SEGMENTS]
    for d in await service.definitions(session, shop.shop_id):
        out.append(_custom(d, sizes.get(d.key, 0), refreshed))
    return SegmentsOut(segments=out)


@router.get(
    "/{segment_key}",
    response_model=SegmentOut,
    summary="A segment",
    responses=error_responses(SegmentNotFound, ValidationFailed),
)
async def get_segment(
    segment_key: SegmentKey, shop: CurrentShop, session: ReadSession
) -> SegmentOut:
    sizes = await service.sizes(session, shop.shop_id)
    refreshed = await service.last_refresh(session, shop.shop_id)
    if segment_key in RFM_SEGMENTS:
        return _rfm(segment_key, sizes.get(segment_key, 0), refreshed)
    found = await service.definition(session, shop.shop_id, segment_key)
    if found is None:
        raise SegmentNotFound(f"no segment {segment_key!r} in this shop")
    return _custom(found, sizes.get(segment_key, 0), refreshed)


@router.put(
    "/{segment_key}",
    response_model=SegmentOut,
    status_code=201,
    summary="Create or replace one of the shop's own segments",
    responses={
        200: {"model": SegmentOut, "description": "An existing segment, replaced (or unchanged)"},
        **error_responses(PayloadTooLarge, ValidationFailed),
    },
)
async def put_segment(
    segment_key: SegmentKey,
    rule: SegmentRule,
    shop: CurrentShop,
    session: WriteSession,
    response: Response,
) -> SegmentOut:
    """A member is in the segment when they meet every condition: ``tier`` (``in``),
    ``orders`` (``at_least``/``at_most`` paid orders), ``spend`` (``at_least_minor``/
    ``at_most_minor``), ``last_order`` (``within_days`` or ``before_days``), ``joined``
    (``after``/``before``), ``rfm`` (``in``). Its members are computed by the refresh job this
    asks for (201 new, 200 replaced); a campaign may name it once it exists."""
    if segment_key in RFM_SEGMENTS:
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("path", "segment_key"), "input": segment_key,
              "msg": f"{segment_key} is an RFM segment, which Vafa keeps: choose another key"}]
        )  # fmt: skip
    found, created = await service.put(session, shop.shop_id, segment_key, rule, utcnow())
    if not created:
        response.status_code = 200
    sizes = await service.sizes(session, shop.shop_id)
    refreshed = await service.last_refresh(session, shop.shop_id)
    return _custom(found, sizes.get(segment_key, 0), refreshed)


@router.delete(
    "/{segment_key}",
    status_code=204,
    summary="Delete one of the shop's own segments",
    responses=error_responses(SegmentNotFound, SegmentInUse, ValidationFailed),
)
async def delete_segment(
    segment_key: SegmentKey, shop: CurrentShop, session: WriteSession
) -> Response:
    """Refused (409) for an RFM segment and while the newest program version names it. Orders
    judged while it existed keep what it gave them."""
    await service.remove(session, shop.shop_id, segment_key)
    return Response(status_code=204)


@router.get(
    "/{segment_key}/members",
    response_model=SegmentMembersOut,
    summary="A segment's members, by customer id",
    responses=error_responses(SegmentNotFound, ValidationFailed),
)
async def segment_members(
    segment_key: SegmentKey,
    shop: CurrentShop,
    session: ReadSession,
    limit: Annotated[int, Query(ge=1, le=1000, description="members per page")] = 100,
    after: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=64,
            pattern=r"^[^\x00-\x1f\x7f]+$",
            description="only customer ids after this one (next_after of the last page)",
        ),
    ] = None,  # fmt: skip
) -> SegmentMembersOut:
    if segment_key not in RFM_SEGMENTS and (
        await service.definition(session, shop.shop_id, segment_key) is None
    ):
        raise SegmentNotFound(f"no segment {segment_key!r} in this shop")
    found = await service.members_of(session, shop.shop_id, segment_key, limit=limit, after=after)
    return SegmentMembersOut(
        key=segment_key,
        members=[SegmentMemberOut(customer_id=c, since=s) for c, s in found],
        next_after=found[-1][0] if len(found) == limit else None,
    )


@members_router.get(
    "/{customer_id}/segments",
    response_model=MemberSegmentsOut,
    summary="The segments a member is in",
    responses=error_responses(MemberNotFound, ValidationFailed),
)
async def member_segments(
    customer_id: CustomerId, shop: CurrentShop, session: ReadSession
) -> MemberSegmentsOut:
    """As of the last refresh: each segment with the time the member entered it, and their RFM
    figures and scores."""
    known = await session.scalar(
        select(Member.id).where(Member.shop_id == shop.shop_id, Member.customer_id == customer_id)
    )
    if known is None:
        raise MemberNotFound(f"no member with customer id {customer_id!r} in this shop")
    keys, scores = await service.of_member(session, shop.shop_id, customer_id)
    rfm = None
    if scores is not None:
        rfm = RfmOut(recency_days=scores.recency_days, frequency=scores.frequency,
                     monetary_minor=scores.monetary_minor, r=scores.r, f=scores.f, m=scores.m,
                     segment=scores.segment, computed_at=scores.computed_at)  # fmt: skip
    return MemberSegmentsOut(
        customer_id=customer_id,
        segments=[MemberSegmentOut(key=k, since=s) for k, s in keys],
        rfm=rfm,
    )
