"""The checks a referral passes before it is paid.

Facts make an order no referral at all (rejected at once): the advocate is the friend, the
friend had paid for an order before, the order is below the rule's minimum, the advocate has
reached the rule's caps (``max_per_member``, ``max_per_period``). Suspicions hold it
for the store owner's review: the friend shares an email, phone or address with the advocate,
the friend's email is at a disposable domain, the advocate made more referrals that day than
the rule allows. Contact details are compared as keys (app/referrals/contact.py), and no check
ever writes one to a log line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.members.models import Member
from app.program.document import ReferralRule
from app.program.models import Order
from app.program.periods import period_of
from app.program.reconcile import OrderState
from app.referrals import contact
from app.referrals.models import Referral, ReferralStatus

# Flags. Facts:
SELF_REFERRAL = "self_referral"
NOT_FIRST_ORDER = "not_first_order"
BELOW_MINIMUM = "below_minimum"
CAP_REACHED = "cap_reached"
# Suspicions:
SAME_EMAIL = "same_email"
SAME_PHONE = "same_phone"
SAME_ADDRESS = "same_address"
DISPOSABLE_EMAIL = "disposable_email"
VELOCITY = "velocity"

_NOTES = {
    SELF_REFERRAL: "the advocate used their own referral code",
    NOT_FIRST_ORDER: "the friend had paid for an order before this one",
    BELOW_MINIMUM: "the order is below the referral rule's minimum",
    CAP_REACHED: "the advocate has made as many referrals as the rule rewards",
}
_SHARED = {contact.EMAIL: SAME_EMAIL, contact.PHONE: SAME_PHONE, contact.ADDRESS: SAME_ADDRESS}
# The advocate's contact keys are read from this many of their newest orders.
_ADVOCATE_ORDERS = 200


@dataclass(frozen=True, slots=True)
class Verdict:
    status: str
    flags: list[str] = field(default_factory=list)
    note: str | None = None


async def judge(
    session: AsyncSession,
    shop_id: int,
    order: OrderState,
    advocate_id: str,
    rule: ReferralRule,
    timezone: str,
) -> Verdict:
    assert order.customer_id is not None
    assert order.paid_at is not None
    if order.customer_id == advocate_id:
        return _rejected(SELF_REFERRAL)
    if await had_earlier_order(session, shop_id, order):
        return _rejected(NOT_FIRST_ORDER)
    if rule.min_order_minor is not None and order.merchandise_minor < rule.min_order_minor:
        return _rejected(BELOW_MINIMUM)
    # The rule's caps count the advocate's referrals (the friend is referred once anyway).
    made = await _advocates_referrals(session, shop_id, advocate_id)
    cap = rule.max_per_period
    if (rule.max_per_member is not None and len(made) >= rule.max_per_member) or (
        cap is not None and _in_period(cap.unit, order.paid_at, made, timezone) >= cap.count
    ):
        return _rejected(CAP_REACHED)
    friend = set(order.contact_keys or ()) | await _member_keys(session, shop_id, order.customer_id)
    flags = await _shared(session, shop_id, advocate_id, friend)
    if contact.is_disposable(friend):
        flags.append(DISPOSABLE_EMAIL)
    if _in_period("day", order.paid_at, made, timezone) >= rule.max_per_advocate_per_day:
        flags.append(VELOCITY)
    return Verdict(ReferralStatus.REVIEW if flags else ReferralStatus.PENDING, flags)


def _rejected(flag: str) -> Verdict:
    return Verdict(ReferralStatus.REJECTED, [flag], _NOTES[flag])


def note_of(flag: str) -> str:
    return _NOTES[flag]


async def had_earlier_order(session: AsyncSession, shop_id: int, order: OrderState) -> bool:
    """Whether the friend paid for another order before this one (ties broken by order id)."""
    o = Order
    found = await session.scalar(
        select(o.id)
        .where(
            o.shop_id == shop_id,
            o.customer_id == order.customer_id,
            o.order_id != order.order_id,
            o.known.is_(True),
            o.paid_at.is_not(None),
            or_(
                o.paid_at < order.paid_at,
                and_(o.paid_at == order.paid_at, o.order_id < order.order_id),
            ),
        )
        .limit(1)
    )
    return found is not None


async def _member_keys(session: AsyncSession, shop_id: int, customer_id: str) -> set[str]:
    email = await session.scalar(
        select(Member.email).where(Member.shop_id == shop_id, Member.customer_id == customer_id)
    )
    return contact.email_keys(email)


async def _shared(
    session: AsyncSession, shop_id: int, advocate_id: str, friend: set[str]
) -> list[str]:
    advocate = await _member_keys(session, shop_id, advocate_id)
    rows = await session.scalars(
        select(Order.contact_keys)
        .where(Order.shop_id == shop_id, Order.customer_id == advocate_id)
        .order_by(Order.id.desc())
        .limit(_ADVOCATE_ORDERS)
    )
    for keys in rows:
        advocate.update(keys or ())
    kinds = {key.partition(":")[0] for key in advocate & friend}
    return [flag for kind, flag in _SHARED.items() if kind in kinds]


async def _advocates_referrals(
    session: AsyncSession, shop_id: int, advocate_id: str
) -> list[datetime]:
    """When the orders of the advocate's referrals (not rejected nor void) were paid."""
    return list(
        await session.scalars(
            select(Referral.paid_at).where(
                Referral.shop_id == shop_id,
                Referral.advocate_id == advocate_id,
                Referral.status.in_(ReferralStatus.COUNTED),
            )
        )
    )


def _in_period(unit: str, at: datetime, others: list[datetime], timezone: str) -> int:
    period = period_of(unit, at, timezone)
    return sum(period_of(unit, other, timezone) == period for other in others)
