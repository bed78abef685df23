"""The storefront API (DESIGN.md "Storefront"): the same five reads and one write for a shopper
of a Shopify store, reached through its app proxy, and of a WooCommerce store, called by the
widget with the plugin's token, and the shopper's recent redemptions (their codes outlive a
page). Who the shopper is comes only from what was signed."""

from __future__ import annotations

import re
from typing import Annotated, Any
from uuid import uuid4

import orjson
from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import State
from app.api.errors import error_responses, parse_body
from app.api.routing import read_at_most
from app.errors import (
    AppError,
    IdempotencyConflict,
    InsufficientPoints,
    InvalidPayload,
    MemberNotFound,
    RewardInactive,
    RewardNotFound,
    Unauthorized,
    ValidationFailed,
)
from app.holdout import membership as holdout
from app.orm import utcnow
from app.program import versions
from app.ratelimits import RateLimited, client_address
from app.rewards import service as rewards
from app.rewards.endpoints import redeem_and_wait
from app.rewards.schemas import RedemptionIn
from app.state import AppState
from app.storefront import auth, service
from app.storefront.auth import Shopper, SignInRequired
from app.tiers import service as tiers

router = APIRouter(prefix="/storefront", tags=["storefront"])
# A redemption is two small fields.
MAX_BODY_BYTES = 4 * 1024
_ANSWERS = error_responses(Unauthorized, RateLimited, ValidationFailed)
# A shopper in the holdout (app/holdout): no club, no rewards, nothing for the widget to show.
HELD_OUT: dict[str, Any] = {"signed_in": True, "holdout": True, "member": None, "rewards": []}


class UnsupportedMediaType(AppError):
    status_code = 415
    code = "unsupported_media_type"
    example = "send the body as JSON, with Content-Type: application/json"


async def _shopify_shopper(request: Request, state: State) -> Shopper:
    # No budget per address here: every app proxy request comes from Shopify's servers. The
    # budget is the signed customer's of that shop, or the shop's guests' together.
    shopper = await auth.from_app_proxy(state, request)
    if shopper.customer_id is None:
        await state.storefront_limits.guests(shopper.shop.shop_id)
    else:
        await state.storefront_limits.customer(shopper.shop.shop_id, shopper.customer_id)
    return shopper


async def _woo_shopper(
    request: Request,
    state: State,
    shop_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    authorization: Annotated[str | None, Header()] = None,
) -> Shopper:
    # The shopper's browser calls directly: its address is the caller's (see client_address).
    await state.storefront_limits.address(client_address(request))
    shopper = await auth.from_token(state, shop_id, authorization)
    if shopper.customer_id is not None:
        await state.storefront_limits.customer(shopper.shop.shop_id, shopper.customer_id)
    return shopper


ShopifyShopper = Annotated[Shopper, Depends(_shopify_shopper)]
WooShopper = Annotated[Shopper, Depends(_woo_shopper)]


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json",
                    headers={"Cache-Control": "private, no-store"})  # fmt: skip


async def _member(state: AppState, shopper: Shopper) -> Response:
    now = utcnow()
    shop_id = shopper.shop.shop_id
    async with state.db.read() as session:
        # The shop's program, read once for the public face, the tier and the referral link.
        history = await versions.load(session, shop_id)
        face = await service.public_face(session, shop_id, now, history)
        face |= service.display_of(shopper.shop.settings)
        if shopper.customer_id is None:
            return _json({"signed_in": False, "member": None, **face})
        if await holdout.shown_as_holdout(session, shop_id, shopper.customer_id):
            return _json(HELD_OUT)  # the club is not shown to them: the widget hides itself
        balance = await service.balance_of(state.balances, shop_id, shopper.customer_id)
        expiry = await service.next_expiry(session, shop_id, shopper.customer_id, now)
        tier, progress = await tiers.progress(
            session, shop_id, shopper.customer_id, balance.tier, now, history
        )
    member = service.member_document(balance, expiry, tier, progress)
    member["referral"] = await service.referral_of(
        state.db, shopper.shop, shopper.customer_id, state.settings.secret_key, now,
        history.at(now).document,
    )  # fmt: skip
    service.mark_affordable(face["rewards"], balance.available)
    return _json({"signed_in": True, "member": member, **face})


async def _entries(state: AppState, shopper: Shopper, limit: int) -> Response:
    if shopper.customer_id is None:
        raise SignInRequired("sign in to see your points history")
    async with state.db.read() as session:
        lines = await service.entries(session, shopper.shop.shop_id, shopper.customer_id, limit)
    return _json({"entries": lines})


async def _rewards(state: AppState, shopper: Shopper) -> Response:
    async with state.db.read() as session:
        face = await service.public_face(session, shopper.shop.shop_id, utcnow())
    if shopper.customer_id is not None:
        balance = await service.balance_of(
            state.balances, shopper.shop.shop_id, shopper.customer_id
        )
        service.mark_affordable(face["rewards"], balance.available)
    return _json({"rewards": face["rewards"]})


_KEY_PATTERN = r"^[A-Za-z0-9_-]{8,100}$"


class StorefrontRedemptionIn(BaseModel):
    """The contract's body, ``{"reward_id", "points"?}``; the widget adds a key per click so
    that a retried request redeems once (or sends it as the ``Idempotency-Key`` header)."""

    model_config = ConfigDict(extra="forbid")

    reward_id: int = Field(ge=1, le=2**63 - 1)
    points: int | None = Field(default=None, ge=1, le=10**12)
    idempotency_key: str | None = Field(default=None, pattern=_KEY_PATTERN)


def _require_json(request: Request) -> None:
    # A cross-site form may POST text/plain without a preflight: only JSON is read.
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind != "application/json":
        raise UnsupportedMediaType("send the body as JSON, with Content-Type: application/json")


def _key_of(body: StorefrontRedemptionIn, header: str | None) -> str:
    if body.idempotency_key is not None:
        return body.idempotency_key
    if header is not None:
        if not re.fullmatch(_KEY_PATTERN, header):
            raise ValidationFailed("Idempotency-Key: 8 to 100 letters, digits, - or _")
        return header
    return f"auto-{uuid4().hex}"  # none given: this request is its own redemption


async def _redeem(state: AppState, shopper: Shopper, request: Request) -> Response:
    if shopper.customer_id is None:
        raise SignInRequired("sign in to redeem your points")
    _require_json(request)
    body = parse_body(StorefrontRedemptionIn, await read_at_most(request, MAX_BODY_BYTES))
    key = _key_of(body, request.headers.get("idempotency-key"))
    await state.storefront_limits.redemption(shopper.shop.shop_id, shopper.customer_id)
    admin_body = RedemptionIn(
        reward_id=body.reward_id, points=body.points, idempotency_key=f"storefront:{key}"
    )
    try:
        out, status = await redeem_and_wait(
            state, shopper.shop.shop_id, shopper.customer_id, admin_body
        )
    except MemberNotFound as exc:  # signed in, never earned: nothing to spend
        raise InsufficientPoints("you have no points to spend yet") from exc
    return _json(service.redemption_shown(out), status)


async def _redemptions(state: AppState, shopper: Shopper, limit: int) -> Response:
    if shopper.customer_id is None:
        raise SignInRequired("sign in to see your rewards' codes")
    async with state.db.read() as session:
        try:
            found = await rewards.redemptions_of(
                session, shopper.shop.shop_id, shopper.customer_id, limit=limit
            )
        except MemberNotFound:
            found = []
    shown = [service.redemption_shown(rewards.to_out(r)) for r in found]
    return _json({"redemptions": shown})


_REDEEM_ANSWERS = error_responses(
    Unauthorized, RateLimited, InsufficientPoints, RewardNotFound, RewardInactive,
    IdempotencyConflict, ValidationFailed, InvalidPayload, UnsupportedMediaType,
)  # fmt: skip
Limit = Annotated[int, Query(ge=1, le=100)]
RecentLimit = Annotated[int, Query(ge=1, le=50)]


# --- Shopify, through the app proxy -------------------------------------------------------


@router.get("/shopify/member", summary="The shopper's club (Shopify app proxy)", responses=_ANSWERS)
async def shopify_member(shopper: ShopifyShopper, state: State) -> Response:
    return await _member(state, shopper)


@router.get("/shopify/entries", summary="The shopper's points history", responses=_ANSWERS)
async def shopify_entries(shopper: ShopifyShopper, state: State, limit: Limit = 50) -> Response:
    return await _entries(state, shopper, limit)


@router.get(
    "/shopify/rewards", summary="The rewards, and which the shopper can afford", responses=_ANSWERS
)
async def shopify_rewards(shopper: ShopifyShopper, state: State) -> Response:
    return await _rewards(state, shopper)


@router.get(
    "/shopify/redemptions",
    summary="The shopper's recent redemptions, with their status and code",
    responses=_ANSWERS,
)
async def shopify_redemptions(
    shopper: ShopifyShopper, state: State, limit: RecentLimit = 20
) -> Response:
    return await _redemptions(state, shopper, limit)


@router.post("/shopify/redemptions", summary="Redeem a reward", responses=_REDEEM_ANSWERS)
async def shopify_redeem(shopper: ShopifyShopper, state: State, request: Request) -> Response:
    return await _redeem(state, shopper, request)


# --- WooCommerce, called by the widget with the plugin's token ----------------------------


@router.get(
    "/woocommerce/{shop_id}/member", summary="The shopper's club (WooCommerce)", responses=_ANSWERS
)
async def woo_member(shopper: WooShopper, state: State) -> Response:
    return await _member(state, shopper)


@router.get(
    "/woocommerce/{shop_id}/entries", summary="The shopper's points history", responses=_ANSWERS
)
async def woo_entries(shopper: WooShopper, state: State, limit: Limit = 50) -> Response:
    return await _entries(state, shopper, limit)


@router.get(
    "/woocommerce/{shop_id}/rewards",
    summary="The rewards, and which the shopper can afford",
    responses=_ANSWERS,
)
async def woo_rewards(shopper: WooShopper, state: State) -> Response:
    return await _rewards(state, shopper)


@router.get(
    "/woocommerce/{shop_id}/redemptions",
    summary="The shopper's recent redemptions, with their status and code",
    responses=_ANSWERS,
)
async def woo_redemptions(shopper: WooShopper, state: State, limit: RecentLimit = 20) -> Response:
    return await _redemptions(state, shopper, limit)


@router.post(
    "/woocommerce/{shop_id}/redemptions", summary="Redeem a reward", responses=_REDEEM_ANSWERS
)
async def woo_redeem(shopper: WooShopper, state: State, request: Request) -> Response:
    return await _redeem(state, shopper, request)
