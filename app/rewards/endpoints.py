"""``/api/v1/rewards`` (the catalog) and ``/api/v1/members/{customer_id}/redemptions``."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated

from fastapi import Path, Response

from app.api.deps import CurrentShop, ReadSession, State, WriteSession
from app.api.errors import error_responses
from app.api.routing import admin_router
from app.errors import (
    IdempotencyConflict,
    InsufficientPoints,
    MemberNotFound,
    PayloadTooLarge,
    RedemptionNotFound,
    RewardInactive,
    RewardNotFound,
    ValidationFailed,
)
from app.members.endpoints import CustomerId
from app.rewards import service, waits
from app.rewards.models import RedemptionStatus, Reward
from app.rewards.schemas import (
    RedemptionIn,
    RedemptionOut,
    RedemptionsOut,
    RewardIn,
    RewardOut,
    RewardPatch,
    RewardsOut,
)
from app.state import AppState

router = admin_router("/api/v1", tags=["rewards"])
Id = Annotated[int, Path(ge=1, le=2**63 - 1)]


def _reward_out(reward: Reward) -> RewardOut:
    return RewardOut.model_validate(reward, from_attributes=True)


@router.post(
    "/rewards",
    response_model=RewardOut,
    status_code=201,
    summary="Add a reward",
    responses=error_responses(PayloadTooLarge, ValidationFailed),
)
async def create_reward(body: RewardIn, shop: CurrentShop, session: WriteSession) -> RewardOut:
    """Amounts are minor units of the shop's currency; see the contract for each kind."""
    return _reward_out(await service.create_reward(session, shop.shop_id, body))


@router.get("/rewards", response_model=RewardsOut, summary="The shop's rewards")
async def list_rewards(shop: CurrentShop, session: ReadSession) -> RewardsOut:
    rewards = await service.list_rewards(session, shop.shop_id)
    return RewardsOut(rewards=[_reward_out(r) for r in rewards])


@router.get(
    "/rewards/{reward_id}",
    response_model=RewardOut,
    summary="A reward",
    responses=error_responses(RewardNotFound, ValidationFailed),
)
async def get_reward(reward_id: Id, shop: CurrentShop, session: ReadSession) -> RewardOut:
    return _reward_out(await service.get_reward(session, shop.shop_id, reward_id))


@router.patch(
    "/rewards/{reward_id}",
    response_model=RewardOut,
    summary="Change or deactivate a reward",
    responses=error_responses(RewardNotFound, PayloadTooLarge, ValidationFailed),
)
async def update_reward(
    reward_id: Id, body: RewardPatch, shop: CurrentShop, session: WriteSession
) -> RewardOut:
    """Rewards are never deleted (redemptions refer to them): ``{"active": false}`` withdraws
    one. Redemptions made before keep their points and value."""
    return _reward_out(await service.update_reward(session, shop.shop_id, reward_id, body))


@router.post(
    "/members/{customer_id}/redemptions",
    response_model=RedemptionOut,
    status_code=201,
    summary="Spend points on a reward",
    responses={
        200: {"model": RedemptionOut, "description": "the idempotency key's redemption"},
        202: {"model": RedemptionOut, "description": "the code is not on the store yet"},
        **error_responses(
            MemberNotFound,
            RewardNotFound,
            RewardInactive,
            InsufficientPoints,
            IdempotencyConflict,
            PayloadTooLarge,
            ValidationFailed,
        ),
    },
)
async def redeem(
    customer_id: CustomerId,
    body: RedemptionIn,
    shop: CurrentShop,
    state: State,
    response: Response,
) -> RedemptionOut:
    """Holds the points and asks the store for the code; 201 with the code if the store made
    it within a short wait, else 202 with the pending redemption (read it again later)."""
    out, response.status_code = await redeem_and_wait(state, shop.shop_id, customer_id, body)
    return out


async def redeem_and_wait(
    state: AppState, shop_id: int, customer_id: str, body: RedemptionIn
) -> tuple[RedemptionOut, int]:
    """Redeem, then wait briefly for the code: the redemption and its status code (200 the
    same key again, 201 issued, 202 still pending). The admin API's and the storefront's."""
    async with state.db.write() as session:  # committed before the worker can see it
        redeemed = await service.redeem(
            session, shop_id, customer_id, body, secret_key=state.settings.secret_key
        )
        out = service.to_out(redeemed.redemption)
    if not redeemed.created:
        return out, 200
    state.worker.wake_for_jobs()  # the worker in this process, if it runs here
    out = await _wait_for_code(state, shop_id, customer_id, out)
    return out, 201 if out.status == RedemptionStatus.ISSUED else 202


async def _wait_for_code(
    state: AppState, shop_id: int, customer_id: str, out: RedemptionOut
) -> RedemptionOut:
    """The redemption once its job settled it, or as it stands when the wait is over: read
    again when the job announces it (see app.rewards.waits), or after a fallback interval."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + state.settings.redemption_wait_seconds
    with waits.waiting(shop_id, out.id) as settled:
        while out.status == RedemptionStatus.PENDING and (left := deadline - loop.time()) > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(settled.wait(), min(left, waits.FALLBACK_SECONDS))
            settled.clear()
            async with state.db.read() as session:
                found = await service.get_redemption(session, shop_id, customer_id, out.id)
                out = service.to_out(found)
    return out


@router.get(
    "/members/{customer_id}/redemptions",
    response_model=RedemptionsOut,
    summary="A member's redemptions, newest first",
    responses=error_responses(MemberNotFound, ValidationFailed),
)
async def list_redemptions(
    customer_id: CustomerId, shop: CurrentShop, session: ReadSession
) -> RedemptionsOut:
    found = await service.redemptions_of(session, shop.shop_id, customer_id)
    return RedemptionsOut(customer_id=customer_id, redemptions=[service.to_out(r) for r in found])


@router.get(
    "/members/{customer_id}/redemptions/{redemption_id}",
    response_model=RedemptionOut,
    summary="A redemption",
    responses=error_responses(MemberNotFound, RedemptionNotFound, ValidationFailed),
)
async def get_redemption(
    customer_id: CustomerId, redemption_id: Id, shop: CurrentShop, session: ReadSession
) -> RedemptionOut:
    return service.to_out(
        await service.get_redemption(session, shop.shop_id, customer_id, redemption_id)
    )
