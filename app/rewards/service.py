"""The rewards catalog and redemptions, inside the caller's transaction (flush, never commit).

A redemption is two-phase: :func:`redeem` holds the member's points and enqueues the job that
creates the code on the store (:mod:`app.rewards.tasks`); the job then either :func:`issue`\\ s
it (the hold is captured: points spent) or :func:`fail`\\ s it (the hold is voided: points
back). Points spent on a code come back with :func:`return_points` (an expired code, a refund
of the order that used it), each return under its own idempotency key.

Locks: a redemption is read again after its member's accounts are locked, as holds are, so the
member's lock serialises everything that settles it."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import (
    IdempotencyConflict,
    MemberNotFound,
    RedemptionNotFound,
    RewardInactive,
    RewardNotFound,
    ValidationFailed,
)
from app.jobs import service as jobs
from app.jobs.notify import JOBS, notify
from app.ledger import holds, locks
from app.ledger import service as ledger
from app.ledger.errors import HoldSettled
from app.ledger.models import SYSTEM_OWNER, AccountKind, TxKind
from app.members.models import Member
from app.orm import utcnow
from app.program.settings import ProgramSettings
from app.rewards import waits
from app.rewards.codes import code_for
from app.rewards.models import Redemption, RedemptionStatus, Reward, RewardKind
from app.rewards.schemas import RedemptionIn, RedemptionOut, RewardIn, RewardPatch
from app.tiers import service as tiers

CREATE_CODE = "rewards.create_code"
# A hold outlives every attempt of its job (8 with backoff take minutes), and a shop paused
# for its credentials for days; past this the scheduler gives the points back.
HOLD_DAYS = 14
# The statuses in which the member may see and use the code.
_CODE_SHOWN = (RedemptionStatus.ISSUED, RedemptionStatus.USED, RedemptionStatus.EXPIRED)


def job_key(redemption_id: int) -> str:
    """The dedupe key of a redemption's create-code job."""
    return f"redemption:{redemption_id}"


# -- the catalog -------------------------------------------------------------------------


async def create_reward(session: AsyncSession, shop_id: int, body: RewardIn) -> Reward:
    now = utcnow()
    reward = Reward(shop_id=shop_id, created_at=now, updated_at=now, **body.model_dump())
    session.add(reward)
    await session.flush()
    return reward


async def list_rewards(session: AsyncSession, shop_id: int) -> Sequence[Reward]:
    return (
        await session.scalars(select(Reward).where(Reward.shop_id == shop_id).order_by(Reward.id))
    ).all()


async def get_reward(session: AsyncSession, shop_id: int, reward_id: int) -> Reward:
    reward = await session.scalar(
        select(Reward).where(Reward.shop_id == shop_id, Reward.id == reward_id)
    )
    if reward is None:
        raise RewardNotFound(f"no reward {reward_id} in this shop")
    return reward


async def update_reward(
    session: AsyncSession, shop_id: int, reward_id: int, patch: RewardPatch
) -> Reward:
    """Apply the fields the patch sets (null clears one), then check the whole reward again.
    Redemptions keep the points and value they were made with."""
    reward = await get_reward(session, shop_id, reward_id)
    current = {name: getattr(reward, name) for name in RewardIn.model_fields}
    try:
        merged = RewardIn.model_validate(current | patch.model_dump(exclude_unset=True))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValidationFailed(f"{where}: {first['msg']}" if where else first["msg"]) from exc
    for name, value in merged.model_dump().items():
        setattr(reward, name, value)
    reward.updated_at = utcnow()
    await session.flush()
    return reward


# -- redeeming ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Redeemed:
    redemption: Redemption
    created: bool  # False: the idempotency key had made this redemption before


def price(reward: Reward, points: int | None) -> tuple[int, int | None]:
    """The points a redemption of ``reward`` costs and the value its code takes off."""
    if reward.kind != RewardKind.POINTS_TO_MONEY:
        if points is not None and points != reward.points_cost:
            raise ValidationFailed(
                f"points: a {reward.kind} reward costs exactly {reward.points_cost} points"
            )
        return reward.points_cost, reward.value
    step = reward.points_cost
    chosen = points if points is not None else (reward.min_points or step)
    if chosen % step:
        raise ValidationFailed(f"points: must be a multiple of {step}")
    if reward.min_points is not None and chosen < reward.min_points:
        raise ValidationFailed(f"points: at least {reward.min_points} points")
    if reward.max_points is not None and chosen > reward.max_points:
        raise ValidationFailed(f"points: at most {reward.max_points} points")
    assert reward.value is not None  # checked when the reward was saved
    return chosen, chosen // step * reward.value


async def redeem(
    session: AsyncSession,
    shop_id: int,
    customer_id: str,
    body: RedemptionIn,
    *,
    secret_key: str,
) -> Redeemed:
    """Hold the points, record the redemption and enqueue the job that makes its code, as one
    unit: too few points raise InsufficientPoints and nothing is written."""
    member = await session.scalar(
        select(Member.id).where(Member.shop_id == shop_id, Member.customer_id == customer_id)
    )
    if member is None:
        raise MemberNotFound(f"no member with customer id {customer_id!r} in this shop")
    # Under the member's lock, so that the same key sent twice at once makes one redemption.
    await locks.lock_accounts(session, shop_id, [(customer_id, k) for k in AccountKind.MEMBER])
    found = await session.scalar(
        select(Redemption).where(
            Redemption.shop_id == shop_id,
            Redemption.customer_id == customer_id,
            Redemption.idempotency_key == body.idempotency_key,
        )
    )
    reward = await get_reward(session, shop_id, body.reward_id)
    if found is not None:
        same = found.reward_id == body.reward_id and (
            body.points is None or body.points == found.points
        )
        if not same:
            raise IdempotencyConflict(
                f"idempotency key {body.idempotency_key!r} was already used for another redemption"
            )
        return Redeemed(found, created=False)
    if not reward.active:
        raise RewardInactive(f"reward {reward.id} is not active")
    now = utcnow()
    await tiers.check_reward(session, shop_id, customer_id, reward.id, now)  # a tier's benefit
    points, value = price(reward, body.points)
    redemption = Redemption(
        shop_id=shop_id,
        customer_id=customer_id,
        reward_id=reward.id,
        idempotency_key=body.idempotency_key,
        status=RedemptionStatus.PENDING,
        points=points,
        value=value,
        points_returned=0,
        created_at=now,
        updated_at=now,
    )
    session.add(redemption)
    await session.flush()
    redemption.code = code_for(secret_key, shop_id, redemption.id)
    held = await holds.hold(
        session,
        shop_id,
        customer_id,
        points,
        key=f"redemption:{redemption.id}:hold",
        reason=f"redeeming {reward.name}",
        deadline=now + timedelta(days=HOLD_DAYS),
        source_id=str(redemption.id),
    )
    redemption.hold_id = held.hold_id
    await jobs.enqueue(
        session,
        shop_id,
        CREATE_CODE,
        {"redemption_id": redemption.id},
        key=job_key(redemption.id),
    )
    await notify(session, JOBS)  # a `vafa worker` idle between polls starts on it at once
    await session.flush()
    return Redeemed(redemption, created=True)


async def redemptions_of(
    session: AsyncSession, shop_id: int, customer_id: str, *, limit: int = 100
) -> Sequence[Redemption]:
    """The member's redemptions, newest first."""
    await _require_member(session, shop_id, customer_id)
    return (
        await session.scalars(
            select(Redemption)
            .where(Redemption.shop_id == shop_id, Redemption.customer_id == customer_id)
            .order_by(Redemption.id.desc())
            .limit(limit)
        )
    ).all()


async def get_redemption(
    session: AsyncSession, shop_id: int, customer_id: str, redemption_id: int
) -> Redemption:
    found = await session.scalar(
        select(Redemption).where(
            Redemption.shop_id == shop_id,
            Redemption.customer_id == customer_id,
            Redemption.id == redemption_id,
        )
    )
    if found is None:
        await _require_member(session, shop_id, customer_id)
        raise RedemptionNotFound(f"no redemption {redemption_id} for this member")
    return found


async def _require_member(session: AsyncSession, shop_id: int, customer_id: str) -> None:
    exists = await session.scalar(
        select(Member.id).where(Member.shop_id == shop_id, Member.customer_id == customer_id)
    )
    if exists is None:
        raise MemberNotFound(f"no member with customer id {customer_id!r} in this shop")


def to_out(r: Redemption) -> RedemptionOut:
    return RedemptionOut(
        id=r.id,
        reward_id=r.reward_id,
        status=r.status,
        points=r.points,
        code=r.code if r.status in _CODE_SHOWN else None,
        expires_at=r.expires_at if r.status in _CODE_SHOWN else None,
        failure=r.failure,
    )


# -- settling ----------------------------------------------------------------------------


async def locked(session: AsyncSession, shop_id: int, redemption_id: int) -> Redemption | None:
    """The redemption, read again once its member's accounts are locked."""
    owner = await session.scalar(
        select(Redemption.customer_id).where(
            Redemption.shop_id == shop_id, Redemption.id == redemption_id
        )
    )
    if owner is None:
        return None
    await locks.lock_accounts(session, shop_id, [(owner, k) for k in AccountKind.MEMBER])
    return await session.scalar(
        select(Redemption)
        .where(Redemption.shop_id == shop_id, Redemption.id == redemption_id)
        .execution_options(populate_existing=True)
    )


async def issue(
    session: AsyncSession,
    shop_id: int,
    redemption_id: int,
    *,
    store_id: str,
    expires_at: datetime | None,
) -> Redemption | None:
    """The store has the code: spend the held points. Once only: a redemption settled before
    is left as it is (one an order used first gets the store's id of its code)."""
    r = await locked(session, shop_id, redemption_id)
    if r is None:
        return None
    if r.status == RedemptionStatus.USED and r.store_id is None:
        r.store_id, r.expires_at = store_id, expires_at
        return r
    if r.status != RedemptionStatus.PENDING:
        return r
    r.store_id = store_id
    if await _spend(session, shop_id, r):
        r.status = RedemptionStatus.ISSUED
        r.expires_at = expires_at
    await session.flush()
    return r


async def use(session: AsyncSession, shop_id: int, r: Redemption, order_id: str) -> None:
    """An order used the code: ``used`` by that order (the caller holds the member's lock).
    A redemption still pending is spent now: the store made the code, and the order arrived
    before the job recorded it; the job then finds it settled."""
    if r.status == RedemptionStatus.PENDING and not await _spend(session, shop_id, r):
        return
    if r.status not in (RedemptionStatus.PENDING, RedemptionStatus.ISSUED):
        return
    r.status = RedemptionStatus.USED
    r.order_id = order_id
    r.updated_at = utcnow()


async def _spend(session: AsyncSession, shop_id: int, r: Redemption) -> bool:
    """Capture the pending redemption's hold; False if it was voided before (then ``failed``)."""
    await waits.announce(session, shop_id, r.id)
    r.updated_at = utcnow()
    try:
        if r.hold_id is not None:  # a grant (app/rewards/grants.py) holds no points
            await holds.capture(
                session, shop_id, r.hold_id, reason="points spent on a discount code"
            )
    except HoldSettled:
        # The scheduler gave the points back (the hold outlived its deadline) before the
        # store's answer was recorded: the member keeps the points, the code is not shown.
        r.status = RedemptionStatus.FAILED
        r.failure = "the store took too long to create the code; the points were given back"
        return False
    return True


async def fail(
    session: AsyncSession, shop_id: int, redemption_id: int, reason: str
) -> Redemption | None:
    """The code cannot be made: give the held points back and say why."""
    r = await locked(session, shop_id, redemption_id)
    if r is None or r.status != RedemptionStatus.PENDING:
        return r
    await waits.announce(session, shop_id, redemption_id)
    if r.hold_id is not None:  # a grant holds no points
        with contextlib.suppress(HoldSettled):  # voided already (its deadline passed)
            await holds.void(session, shop_id, r.hold_id, reason=f"redemption failed: {reason}")
    r.status = RedemptionStatus.FAILED
    r.failure = reason
    r.updated_at = utcnow()
    await session.flush()
    return r


async def return_points(
    session: AsyncSession,
    shop_id: int,
    settings: ProgramSettings,
    r: Redemption,
    points: int,
    *,
    key: str,
    reason: str,
    order_id: str | None = None,
) -> bool:
    """Give back ``points`` of what the redemption spent (redeemed → available), once per
    ``key``; the caller holds the member's lock. Returns whether anything was posted."""
    points = min(points, r.points - r.points_returned)
    if points <= 0:
        return False
    now = utcnow()
    posted = await ledger.post(
        session,
        shop_id,
        ledger.Entry(
            key=key,
            kind=TxKind.REVERSE,
            owner=r.customer_id,
            legs=(
                ledger.Leg(SYSTEM_OWNER, AccountKind.REDEEMED, -points),
                ledger.Leg(r.customer_id, AccountKind.AVAILABLE, points),
            ),
            reason=reason,
            source_type="redemption",
            source_id=str(r.id),
            order_id=order_id,
            expires_at=now + timedelta(days=settings.expiry_days) if settings.expiry_days else None,
        ),
    )
    if posted.created:
        r.points_returned += points
        r.updated_at = now
    return posted.created
