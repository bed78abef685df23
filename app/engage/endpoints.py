"""Engagement routes: members' events, badges, profile and leaderboard opt-in, and the
leaderboard (admin API: the storefront reaches them through the shop's server)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from fastapi import Response

from app.api.deps import CurrentShop, ReadSession, WriteSession
from app.api.errors import error_responses
from app.api.routing import admin_router
from app.engage import badges, leaderboard, profiles, service
from app.engage.leaderboard import LeaderboardDisabled
from app.engage.models import MemberEvent
from app.engage.schemas import (
    BadgeOut,
    BadgesOut,
    EventIn,
    EventOut,
    LeaderboardOut,
    OptIn,
    OptInOut,
    OutcomeOut,
    PlaceOut,
    ProfileIn,
    ProfileOut,
)
from app.errors import IdempotencyConflict, MemberNotFound, PayloadTooLarge, ValidationFailed
from app.members.endpoints import CustomerId
from app.orm import utcnow
from app.program import versions

router = admin_router("/api/v1", tags=["engagement"])


def _outcomes(data: list[dict[str, object]]) -> list[OutcomeOut]:
    return [OutcomeOut.model_validate(o) for o in data]


def _event_out(event: MemberEvent, created: bool) -> EventOut:
    return EventOut(
        id=event.id,
        customer_id=event.customer_id,
        type=event.type,
        idempotency_key=event.idempotency_key,
        occurred_at=event.occurred_at,
        program_version=event.program_version,
        points=event.points,
        message=str(event.outcome.get("message", "")),
        rules=_outcomes(event.outcome.get("rules", [])),
        badges=_outcomes(event.outcome.get("badges", [])),
        created=created,
    )


@router.post(
    "/members/{customer_id}/events",
    response_model=EventOut,
    status_code=201,
    summary="Record a member's non-purchase action (review, survey, signup ...)",
    responses={
        200: {"model": EventOut, "description": "the same idempotency key was recorded before"},
        **error_responses(MemberNotFound, IdempotencyConflict, PayloadTooLarge, ValidationFailed),
    },
)
async def post_event(
    customer_id: CustomerId,
    body: EventIn,
    shop: CurrentShop,
    session: WriteSession,
    response: Response,
) -> EventOut:
    """Applies the rules of the program version in force at ``occurred_at``, within their
    caps and time frames; an event no rule awards is recorded with 0 points (it may count for
    a badge)."""
    recorded = await service.record_event(
        session, shop.shop_id, customer_id, body.type, body.idempotency_key, body.occurred_at,
        utcnow(),
    )  # fmt: skip
    if not recorded.created:
        response.status_code = 200
    return _event_out(recorded.event, recorded.created)


@router.get(
    "/members/{customer_id}/badges",
    response_model=BadgesOut,
    summary="The program's badges with the member's progress",
    responses=error_responses(MemberNotFound, ValidationFailed),
)
async def get_badges(customer_id: CustomerId, shop: CurrentShop, session: ReadSession) -> BadgesOut:
    await service.require_member(session, shop.shop_id, customer_id)
    now = utcnow()
    version = (await versions.load(session, shop.shop_id)).at(now)
    found = await badges.progress(session, shop.shop_id, version, customer_id, now)
    return BadgesOut(
        customer_id=customer_id,
        badges=[
            BadgeOut(
                key=p.rule.key,
                names=p.rule.names.model_dump(exclude_none=True),
                metric=p.rule.metric,
                event=p.rule.event,
                within_days=p.rule.within_days,
                current=p.current,
                target=p.target,
                completed_at=p.completed_at,
                points=p.rule.points,
                reward_id=p.rule.reward_id,
                active=p.rule.active,
            )
            for p in found
        ],
    )


@router.put(
    "/members/{customer_id}/profile",
    response_model=ProfileOut,
    summary="Set the member's birthday (for the birthday rule)",
    responses=error_responses(MemberNotFound, PayloadTooLarge, ValidationFailed),
)
async def put_profile(
    customer_id: CustomerId, body: ProfileIn, shop: CurrentShop, session: WriteSession
) -> ProfileOut:
    """Kept by the club itself, ahead of any birthday the platform's customer record has."""
    await service.require_member(session, shop.shop_id, customer_id)
    md = body.birthday
    month_day = (int(md[:2]), int(md[3:])) if md else None
    await profiles.set_birthday(session, shop.shop_id, customer_id, month_day, utcnow())
    return ProfileOut(customer_id=customer_id, birthday=md)


@router.put(
    "/members/{customer_id}/leaderboard",
    response_model=OptInOut,
    summary="Opt the member in or out of the leaderboard",
    responses=error_responses(MemberNotFound, PayloadTooLarge, ValidationFailed),
)
async def put_leaderboard(
    customer_id: CustomerId, body: OptIn, shop: CurrentShop, session: WriteSession
) -> OptInOut:
    await service.require_member(session, shop.shop_id, customer_id)
    await profiles.set_opt_in(session, shop.shop_id, customer_id, body.opt_in, utcnow())
    return OptInOut(customer_id=customer_id, opt_in=body.opt_in)


@router.get(
    "/leaderboard",
    response_model=LeaderboardOut,
    summary="Top members by points earned in the program's window (opted-in members only)",
    responses=error_responses(LeaderboardDisabled),
)
async def get_leaderboard(shop: CurrentShop, session: ReadSession) -> LeaderboardOut:
    now = utcnow()
    document = (await versions.load(session, shop.shop_id)).at(now).document
    board = document.leaderboard
    since, places = await leaderboard.standings(
        session, shop.shop_id, board, ZoneInfo(document.timezone), now
    )
    return LeaderboardOut(
        window=board.window,
        since=since,
        entries=[
            PlaceOut(rank=p.rank, display_name=p.display_name, points=p.points) for p in places
        ],  # fmt: skip
    )
