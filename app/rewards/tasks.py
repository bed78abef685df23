"""The rewards' jobs and periodic tasks.

``rewards.create_code`` makes a redemption's code on the store. It runs at least once, so it
first asks the store for the code (derived from the redemption, stored with it) and creates it
only if the store does not have it; the store's answer is recorded in a second, short
transaction. Failures, by the store's typed errors:

- the store refused the code (``StoreRejected``): final, the points are given back;
- a duplicate (``CodeAlreadyExists``): an earlier attempt made it; it is found and recorded;
- unavailable or throttled: raised, so the queue tries again (throttled: not before the store
  allows), and on the last attempt the points are given back;
- unauthorized: raised (the queue pauses the shop; the code is made once it is resumed).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.connectors.base import Platform
from app.connectors.store import (
    CodeAlreadyExists,
    DiscountKind,
    DiscountSpec,
    StoreClient,
    StoreDiscount,
    StoreNotFound,
    StoreRejected,
    StoreThrottled,
    StoreUnavailable,
)
from app.db import Database
from app.jobs.kinds import JobContext, RetryAfter
from app.jobs.models import Job, JobStatus
from app.ledger.models import Hold, HoldStatus
from app.logs import log_failure
from app.members.models import Member
from app.money import currency_exponent
from app.program.models import Order
from app.rewards import service
from app.rewards.codes import code_for
from app.rewards.models import Redemption, RedemptionStatus, Reward, RewardKind
from app.shops.service import ShopContext

log = structlog.get_logger(__name__)

CREATE_CODE = service.CREATE_CODE
_KINDS = {
    RewardKind.AMOUNT_OFF: DiscountKind.AMOUNT_OFF,
    RewardKind.POINTS_TO_MONEY: DiscountKind.AMOUNT_OFF,
    RewardKind.PERCENT_OFF: DiscountKind.PERCENT_OFF,
    RewardKind.FREE_SHIPPING: DiscountKind.FREE_SHIPPING,
    RewardKind.FREE_PRODUCT: DiscountKind.FREE_PRODUCT,
}


class CannotIssue(Exception):
    """What Vafa knows makes the code impossible (no currency, no e-mail): a final failure."""


async def create_code(ctx: JobContext, payload: Mapping[str, Any]) -> None:
    shop_id = ctx.shop.shop_id
    redemption_id = int(payload["redemption_id"])
    async with ctx.db.read() as session:
        r = await session.scalar(
            select(Redemption).where(Redemption.shop_id == shop_id, Redemption.id == redemption_id)
        )
        if r is None or r.status != RedemptionStatus.PENDING:
            return  # settled by an earlier run
        # A grant (app/rewards/grants.py) holds nothing, so it has no deadline to miss.
        hold_status = (
            await session.scalar(select(Hold.status).where(Hold.id == r.hold_id))
            if r.hold_id is not None
            else HoldStatus.HELD
        )
        reward = await session.scalar(select(Reward).where(Reward.id == r.reward_id))
        email = await session.scalar(
            select(Member.email).where(
                Member.shop_id == shop_id, Member.customer_id == r.customer_id
            )
        )
        currency = ctx.shop.settings.currency or await _orders_currency(session, shop_id)
    assert reward is not None
    if hold_status != HoldStatus.HELD:  # its deadline passed while the shop was paused
        await _fail(ctx.db, shop_id, redemption_id, "the points were given back before the "
                    "store could create the code")  # fmt: skip
        return
    client = await ctx.stores.for_shop(shop_id)
    try:
        if r.code is None:  # a grant: its code is derived here, where the secret key is
            r.code = await _set_code(ctx, redemption_id)
        spec = await _spec(ctx.shop, client, r, reward, email, currency)
        found = await on_store(client, spec)
    except CannotIssue as exc:
        await _fail(ctx.db, shop_id, redemption_id, str(exc))
        return
    except StoreRejected as exc:
        await _fail(ctx.db, shop_id, redemption_id, f"the store refused the code: {exc.message}")
        return
    except (StoreUnavailable, StoreThrottled, StoreNotFound) as exc:
        if ctx.last_attempt:
            await _fail(ctx.db, shop_id, redemption_id,
                        f"the store could not create the code: {exc.message}")  # fmt: skip
            return
        if isinstance(exc, StoreThrottled):
            raise RetryAfter(exc.retry_after, exc.message) from exc
        raise
    finally:
        await client.aclose()
    async with ctx.db.write() as session:
        await service.issue(
            session,
            shop_id,
            redemption_id,
            store_id=found.store_id,
            expires_at=found.ends_at or spec.ends_at,
        )


async def _set_code(ctx: JobContext, redemption_id: int) -> str:
    if not ctx.secret_key:  # a code derived from no key could be guessed
        raise CannotIssue("the worker has no secret key to derive the code with")
    code = code_for(ctx.secret_key, ctx.shop.shop_id, redemption_id)
    async with ctx.db.write() as session:
        await session.execute(
            update(Redemption)
            .where(Redemption.shop_id == ctx.shop.shop_id, Redemption.id == redemption_id)
            .values(code=code)
        )
    return code


async def on_store(client: StoreClient, spec: DiscountSpec) -> StoreDiscount:
    """The code on the store: created, or found if an earlier attempt made it. The code's text
    is derived from the redemption and the store refuses a second code with the same text, so
    creating first is safe and costs one call instead of two."""
    try:
        return await client.create_discount(spec)
    except CodeAlreadyExists:
        found = await client.find_discount(spec.code)
        if found is None:  # the store's search lags its writes: look again next attempt
            raise StoreUnavailable("the store has the code but does not find it yet") from None
        return found


async def _spec(
    shop: ShopContext,
    client: StoreClient,
    r: Redemption,
    reward: Reward,
    email: str | None,
    currency: str | None,
) -> DiscountSpec:
    assert r.code is not None
    if currency is None and (r.value is not None and reward.kind in _AMOUNTS
                             or reward.min_order_minor):  # fmt: skip
        raise CannotIssue(
            "the shop's currency is not known yet: set currency in the program settings"
        )
    if shop.platform == Platform.WOOCOMMERCE and not email:
        customer = await client.get_customer(r.customer_id)
        email = customer.email if customer is not None else None
        if not email:
            raise CannotIssue("the member has no e-mail address on the store to bind the code to")
    currency = currency or "XXX"  # no amounts in the code: the currency does not matter
    return DiscountSpec(
        code=r.code,
        title=f"{reward.name} (Vafa)",
        kind=_KINDS[reward.kind],
        value=r.value,
        currency=currency,
        exponent=currency_exponent(currency, shop.settings.currency_exponents),
        customer_id=r.customer_id,
        customer_email=email,
        starts_at=r.created_at,
        ends_at=(
            r.created_at + timedelta(days=reward.code_valid_days)
            if reward.code_valid_days
            else None
        ),
        product_id=reward.product_id,
        min_order_minor=reward.min_order_minor,
    )


_AMOUNTS = (RewardKind.AMOUNT_OFF, RewardKind.POINTS_TO_MONEY)
_TIMED_OUT = "the store did not confirm the code in time; the points were given back"


async def _orders_currency(session: AsyncSession, shop_id: int) -> str | None:
    currency: str | None = await session.scalar(
        select(Order.currency)
        .where(Order.shop_id == shop_id, Order.currency.is_not(None))
        .order_by(Order.id.desc())
        .limit(1)
    )
    return currency


async def _fail(db: Database, shop_id: int, redemption_id: int, reason: str) -> None:
    async with db.write() as session:
        await service.fail(session, shop_id, redemption_id, reason)


# -- periodic ----------------------------------------------------------------------------


async def expire_codes(db: Database, shop: ShopContext, now: datetime) -> int:
    """Issued codes past their end: ``expired``, their points given back where the shop's
    policy says so; and pending redemptions nothing will settle: ``failed``, their points
    given back. How many."""
    async with db.read() as session:
        due = (
            await session.scalars(
                select(Redemption.id)
                .where(
                    Redemption.shop_id == shop.shop_id,
                    Redemption.status == RedemptionStatus.ISSUED,
                    Redemption.expires_at <= now,
                )
                .order_by(Redemption.id)
            )
        ).all()
        stale = await _stale(session, shop.shop_id)
    count = 0
    for redemption_id in due:
        try:
            async with db.write() as session:
                count += await _expire(session, shop, redemption_id, now)
        except Exception as exc:
            log_failure(log, "expiring a code failed", exc, shop_id=shop.shop_id,
                        redemption_id=redemption_id)  # fmt: skip
    for redemption_id in stale:
        try:
            await _fail(db, shop.shop_id, redemption_id, _TIMED_OUT)
            count += 1
        except Exception as exc:
            log_failure(log, "failing a stale redemption failed", exc, shop_id=shop.shop_id,
                        redemption_id=redemption_id)  # fmt: skip
    return count


async def _stale(session: AsyncSession, shop_id: int) -> list[int]:
    """Pending redemptions that nothing will settle: their hold ran out, or their job was
    parked (a runner that died in the last attempt parks it without running the handler)."""
    pending = (
        await session.execute(
            select(Redemption.id, Hold.status)
            .outerjoin(Hold, Hold.id == Redemption.hold_id)  # a grant has no hold
            .where(Redemption.shop_id == shop_id, Redemption.status == RedemptionStatus.PENDING)
        )
    ).all()
    if not pending:
        return []
    keys = {service.job_key(rid): rid for rid, _ in pending}
    parked = (
        await session.scalars(
            select(Job.dedupe_key).where(
                Job.shop_id == shop_id,
                Job.kind == CREATE_CODE,
                Job.status == JobStatus.FAILED,
                Job.dedupe_key.in_(sorted(keys)),
            )
        )
    ).all()
    stale = {rid for rid, status in pending if status == HoldStatus.VOIDED}
    stale.update(keys[k] for k in parked if k is not None)
    return sorted(stale)


async def _expire(
    session: AsyncSession, shop: ShopContext, redemption_id: int, now: datetime
) -> int:
    r = await service.locked(session, shop.shop_id, redemption_id)
    if r is None or r.status != RedemptionStatus.ISSUED:
        return 0  # used since it was read
    r.status = RedemptionStatus.EXPIRED
    r.updated_at = now
    if shop.settings.refund_expired_codes:
        await service.return_points(
            session,
            shop.shop_id,
            shop.settings,
            r,
            r.points,
            key=f"redemption:{r.id}:expired",
            reason="the discount code expired unused",
        )
    return 1
