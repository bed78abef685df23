"""What the storefront shows a shopper: their member document (the admin one plus what a
shopper needs), their history, the rewards (which they can afford) and the ways to earn. A
guest gets the program's public face only. Nothing here takes a customer id from the request:
it comes from :class:`app.storefront.auth.Shopper`, which was signed for."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Database
from app.errors import MemberNotFound
from app.ledger.models import PointLot
from app.members import service as members
from app.members.balances import Balance, BalanceReader
from app.money import currency_exponent
from app.program import versions
from app.program.document import ProgramDocument
from app.program.settings import ProgramSettings
from app.program.versions import ProgramHistory
from app.referrals import service as referrals
from app.rewards import service as rewards
from app.rewards.models import Reward
from app.rewards.schemas import RedemptionOut
from app.shops.service import ShopContext
from app.tiers import service as tiers

# What a rule shows the shopper; caps and fraud limits stay the owner's business.
_PUBLIC_RULE_FIELDS = (
    "key", "type", "names", "points", "per_minor", "per_units", "min_order_minor", "every",
    "reward_id", "event", "multiplier", "bonus", "starts_at", "ends_at", "amount_minor",
    "period", "advocate_points", "friend_points", "metric", "count", "within_days",
)  # fmt: skip


# What a shopper is told of a failed redemption: the store's own error text is the owner's.
REDEMPTION_FAILED = "the store could not make this code; your points were given back"


def ways_to_earn(document: ProgramDocument, now: datetime) -> list[dict[str, Any]]:
    """The active rules in force now, as data the widget words in the shopper's language."""
    shown = []
    for rule in document.rules:
        if not rule.active or (rule.ends_at is not None and rule.ends_at <= now):
            continue
        if rule.starts_at is not None and rule.starts_at > now:  # not yet
            continue
        data = rule.model_dump(mode="json", exclude_none=True)
        shown.append({k: data[k] for k in _PUBLIC_RULE_FIELDS if k in data})
    return shown


def tiers_of(document: ProgramDocument) -> list[dict[str, Any]]:
    if document.tiers is None:
        return []
    return [
        {
            "key": level.key,
            "threshold": level.threshold,
            "names": level.names.model_dump(exclude_none=True),
        }  # fmt: skip
        for level in document.tiers.levels
    ]


def reward_out(reward: Reward) -> dict[str, Any]:
    return {
        "id": reward.id,
        "name": reward.name,
        "kind": reward.kind,
        "points_cost": reward.points_cost,
        "value": reward.value,
        "min_points": reward.min_points,
        "max_points": reward.max_points,
        "min_order_minor": reward.min_order_minor,
        "affordable": None,  # a guest's: unknown
    }


def mark_affordable(shown: list[dict[str, Any]], available: int) -> None:
    """Which rewards the member can redeem now (points to money: its smallest step)."""
    for reward in shown:
        reward["affordable"] = available >= (reward["min_points"] or reward["points_cost"])


async def public_face(
    session: AsyncSession, shop_id: int, now: datetime, history: ProgramHistory | None = None
) -> dict[str, Any]:
    """What anyone visiting the store may see of its club (``history``: the shop's program,
    when the caller has read it already)."""
    history = history or await versions.load(session, shop_id)
    document = history.at(now).document
    catalog = [r for r in await rewards.list_rewards(session, shop_id) if r.active]
    exponent = (
        currency_exponent(document.currency, document.currency_exponents)
        if document.currency else None
    )  # fmt: skip
    return {
        "locale": document.locale,
        "timezone": document.timezone,
        "currency": document.currency,
        "currency_exponent": exponent,
        "ways_to_earn": ways_to_earn(document, now),
        "rewards": [reward_out(r) for r in catalog],
        "tiers": tiers_of(document),
    }


def display_of(settings: ProgramSettings) -> dict[str, Any]:
    """The shop's display choices the widget applies: Toman or Rial, and its colour (used when
    the embed names none)."""
    return {"currency_display": settings.currency_display, "colour": settings.widget_colour}


async def balance_of(reader: BalanceReader, shop_id: int, customer_id: str) -> Balance:
    """A signed-in customer who has not earned yet is a member with nothing, not a 404."""
    try:
        return await reader.get(shop_id, customer_id)
    except MemberNotFound:
        return Balance(customer_id, 0, 0, 0, 0, None)


async def next_expiry(
    session: AsyncSession, shop_id: int, customer_id: str, now: datetime
) -> dict[str, Any] | None:
    """The soonest date on which some of the member's points expire, and how many."""
    soonest = await session.scalar(
        select(func.min(PointLot.expires_at)).where(
            PointLot.shop_id == shop_id,
            PointLot.owner == customer_id,
            PointLot.remaining > 0,
            PointLot.expires_at > now,
        )  # fmt: skip
    )
    if soonest is None:
        return None
    points = await session.scalar(
        select(func.sum(PointLot.remaining)).where(
            PointLot.shop_id == shop_id,
            PointLot.owner == customer_id,
            PointLot.remaining > 0,
            PointLot.expires_at == soonest,
        )  # fmt: skip
    )
    return {"points": int(points or 0), "at": soonest.isoformat()}


def member_document(
    balance: Balance,
    expiry: dict[str, Any] | None,
    tier: str | None = None,
    progress: tiers.TierProgress | None = None,
) -> dict[str, Any]:
    """The admin API's member document, and what a shopper needs beside it."""
    return {
        "customer_id": balance.customer_id,
        "points": {
            "available": balance.available,
            "pending": balance.pending,
            "held": balance.held,
            "lifetime_earned": balance.lifetime_earned,
        },
        "tier": tier or balance.tier,
        "tier_progress": None if progress is None else progress.as_json(),
        "next_expiry": expiry,
    }


def redemption_shown(out: RedemptionOut) -> dict[str, Any]:
    """A redemption as its member sees it: the code once the store has it, and a failure
    told in general words."""
    shown = out.model_dump(mode="json")
    if shown["failure"] is not None:
        shown["failure"] = REDEMPTION_FAILED
    return shown


async def entries(
    session: AsyncSession, shop_id: int, customer_id: str, limit: int
) -> list[dict[str, Any]]:
    try:
        lines = await members.entries(session, shop_id, customer_id, limit=limit, before_id=None)
    except MemberNotFound:
        return []
    return [
        {
            "id": line.id,
            "kind": line.kind,
            "points": line.points,
            "reason": line.reason,
            "created_at": line.created_at.isoformat(),
        }  # fmt: skip
        for line in lines
    ]


async def referral_of(
    db: Database,
    shop: ShopContext,
    customer_id: str,
    secret_key: str,
    now: datetime,
    document: ProgramDocument,
) -> dict[str, str] | None:
    """The member's referral code and link, while the program has a referral rule in force
    (the code is stored when first shown, so that a friend's order can be matched to it)."""
    if referrals.referral_rule(document, now) is None:
        return None
    async with db.write() as session:
        await members.enrol(session, shop.shop_id, [customer_id])
        code = await referrals.code_of(session, shop.shop_id, customer_id, secret_key)
    return {"code": code, "link": referrals.link_for(shop.platform, shop.domain, code)}
