"""Rewards the program gives (an nth order, a birthday, a badge, a referral): a redemption of
the reward free of points — no hold, nothing spent — whose code the create-code job makes on
the store like any other.

A grant is idempotent by its ``key`` (stored as the redemption's idempotency key, prefixed so a
member's own redemption keys never meet it): the rule that grants says which key, e.g.
``nth_order:order:1042``, so an event processed again grants nothing twice. The code is derived
from the redemption under the app's secret key; the caller (inside an event batch) does not
hold the key, so the job sets the code when it first runs (:func:`app.rewards.tasks.create_code`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import IdempotencyConflict, MemberNotFound, RewardInactive
from app.jobs import service as jobs
from app.ledger import locks
from app.ledger.models import AccountKind
from app.members.models import Member
from app.rewards import service
from app.rewards.models import Redemption, RedemptionStatus

# Grant keys live in the redemptions' idempotency-key column beside the members' own keys.
KEY_PREFIX = "grant:"


async def grant_reward(
    session: AsyncSession,
    shop_id: int,
    customer_id: str,
    reward_id: int,
    *,
    key: str,
    reason: str,
    now: datetime,
) -> Redemption:
    """A redemption of ``reward_id`` for the member, costing no points, its code enqueued;
    the one made before if ``key`` granted already. A grant posts nothing to the ledger:
    ``reason`` (why the program gave it) travels in the create-code job's payload."""
    member = await session.scalar(
        select(Member.id).where(Member.shop_id == shop_id, Member.customer_id == customer_id)
    )
    if member is None:
        raise MemberNotFound(f"no member with customer id {customer_id!r} in this shop")
    # The member's lock serialises grants with the same key, as it does redemptions.
    await locks.lock_accounts(session, shop_id, [(customer_id, k) for k in AccountKind.MEMBER])
    stored_key = f"{KEY_PREFIX}{key}"[:200]
    found = await session.scalar(
        select(Redemption).where(
            Redemption.shop_id == shop_id,
            Redemption.customer_id == customer_id,
            Redemption.idempotency_key == stored_key,
        )
    )
    if found is not None:
        if found.reward_id != reward_id or found.hold_id is not None:
            raise IdempotencyConflict(f"grant key {key!r} was already used for another reward")
        return found
    reward = await service.get_reward(session, shop_id, reward_id)
    if not reward.active:
        raise RewardInactive(f"reward {reward.id} is not active")
    _, value = service.price(reward, None)
    redemption = Redemption(
        shop_id=shop_id,
        customer_id=customer_id,
        reward_id=reward.id,
        idempotency_key=stored_key,
        status=RedemptionStatus.PENDING,
        points=0,
        value=value,
        points_returned=0,
        created_at=now,
        updated_at=now,
    )
    session.add(redemption)
    await session.flush()
    await jobs.enqueue(
        session,
        shop_id,
        service.CREATE_CODE,
        {"redemption_id": redemption.id, "reason": reason[:200]},
        key=service.job_key(redemption.id),
    )
    return redemption
