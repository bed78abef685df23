"""Referral codes, attribution of a friend's order to an advocate, and the payout.

- A member's code is derived from the shop and the customer id under the app's secret key, so
  it never changes and cannot be guessed; it is stored the first time it is shown.
- :func:`after_orders` runs after a batch of orders reached the ledger (app/program/hooks.py),
  with those orders locked: it voids the open referrals whose order was refunded, cancelled or
  deleted, attributes the newly paid orders that carry a code (the attribute ``vafa_ref`` or
  the code used as a discount code), judges them (app/referrals/fraud.py) and pays those past
  the hold period. The periodic task (app/referrals/tasks.py) pays the rest once due.
- A payout posts under ``referral:<id>:advocate`` / ``:friend``, or grants the rule's reward
  under the same keys, so a referral is paid once however often it is settled.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.connectors.base import FinancialState, Platform
from app.db import insert_ignore, one_of
from app.errors import MemberNotFound, NotFound, RewardInactive
from app.holdout import membership as holdout
from app.ledger import service as ledger
from app.ledger.models import SYSTEM_OWNER, AccountKind, TxKind
from app.members import service as members
from app.members.models import Member
from app.orm import table_of
from app.program import reconcile, versions
from app.program.document import ProgramDocument, ReferralRule
from app.program.models import OrderRefund
from app.program.reconcile import OrderState
from app.program.versions import ProgramHistory, Version
from app.referrals import fraud
from app.referrals.attribution import ATTRIBUTE
from app.referrals.errors import ReferralDecided, ReferralNotFound
from app.referrals.models import Referral, ReferralCode, ReferralStatus
from app.rewards import grants

CODE_PREFIX = "REF-"
VIA_ATTRIBUTE, VIA_DISCOUNT_CODE = "attribute", "discount_code"


def code_for(secret_key: str, shop_id: int, customer_id: str) -> str:
    """``REF-`` and two groups of five base32 characters (50 bits), upper case."""
    key = hashlib.sha256(b"vafa referral codes\x00" + secret_key.encode()).digest()
    digest = hmac.new(key, f"{shop_id}:{customer_id}".encode(), hashlib.sha256).digest()
    text = base64.b32encode(digest[:10]).decode()
    return f"{CODE_PREFIX}{text[:5]}-{text[5:10]}"


def link_for(platform: Platform, domain: str, code: str) -> str:
    """The shop's storefront with the code (the widget turns it into the cart's attribute).
    A Shopify shop's domain is its myshopify storefront; a WooCommerce shop's is its URL."""
    base = f"https://{domain}" if platform == Platform.SHOPIFY else domain.rstrip("/")
    return f"{base}/?{ATTRIBUTE}={code}"


async def code_of(session: AsyncSession, shop_id: int, customer_id: str, secret_key: str) -> str:
    member = await session.scalar(
        select(Member.id).where(Member.shop_id == shop_id, Member.customer_id == customer_id)
    )
    if member is None:
        raise MemberNotFound(f"no member with customer id {customer_id!r} in this shop")
    code = code_for(secret_key, shop_id, customer_id)
    await session.execute(
        insert_ignore(table_of(ReferralCode), session.get_bind().dialect.name),
        [{"shop_id": shop_id, "customer_id": customer_id, "code": code}],
    )
    return code


def referral_rule(document: ProgramDocument, at: datetime) -> ReferralRule | None:
    """The document's first active referral rule whose time frame holds ``at``."""
    for rule in document.rules:
        if (
            isinstance(rule, ReferralRule)
            and rule.active
            and (rule.starts_at is None or rule.starts_at <= at)
            and (rule.ends_at is None or at < rule.ends_at)
        ):
            return rule
    return None


def _paid(order: OrderState) -> bool:
    return (
        order.known
        and order.paid_at is not None
        and order.financial_state == FinancialState.PAID.value
        and not order.cancelled
        and not order.deleted
    )


def _spoiled(order: OrderState, refunded: bool) -> str | None:
    """Why the order no longer makes a referral: refunded, cancelled or deleted."""
    if order.deleted:
        return "the order was deleted before its hold period ended"
    if order.cancelled or order.financial_state == FinancialState.VOIDED.value:
        return "the order was cancelled before its hold period ended"
    if refunded or order.financial_state == FinancialState.REFUNDED.value:
        return "the order was refunded before its hold period ended"
    if not _paid(order):
        return "the order is no longer paid"
    return None


async def _refunded(session: AsyncSession, shop_id: int, order_ids: list[str]) -> set[str]:
    if not order_ids:
        return set()
    rows = await session.scalars(
        select(OrderRefund.order_id).where(
            OrderRefund.shop_id == shop_id,
            one_of(OrderRefund.order_id, order_ids, session.get_bind().dialect.name),
        )
    )
    return set(rows)


async def after_orders(
    session: AsyncSession,
    shop_id: int,
    history: ProgramHistory,
    orders: Sequence[OrderState],
    now: datetime,
) -> None:
    """The hook (app/program/hooks.py): the orders are locked by the caller."""
    if not any(isinstance(r, ReferralRule) for v in history.versions for r in v.document.rules):
        return  # no version ever had referrals, so no order can make or undo one
    touched = {o.order_id: o for o in orders if o.customer_id and o.known}
    if not touched:
        return
    dialect = session.get_bind().dialect.name
    ids = sorted(touched)
    existing = {
        r.order_id: r
        for r in await session.scalars(
            select(Referral)
            .where(Referral.shop_id == shop_id, one_of(Referral.order_id, ids, dialect))
            .with_for_update()
        )
    }
    # Refunds matter only to an order with a referral, or with a code that may make one.
    coded = [oid for oid in ids if oid in existing or _codes(touched[oid])]
    refunded = await _refunded(session, shop_id, coded)
    await _attribute(session, shop_id, history, touched, existing, refunded, now)
    for order_id, referral in sorted(existing.items()):
        if referral.status in ReferralStatus.OPEN:
            await settle(session, shop_id, history, referral, touched[order_id],
                         order_id in refunded, now)  # fmt: skip


async def _attribute(
    session: AsyncSession,
    shop_id: int,
    history: ProgramHistory,
    touched: dict[str, OrderState],
    existing: dict[str, Referral],
    refunded: set[str],
    now: datetime,
) -> None:
    """Record a referral for each newly paid order carrying a member's code (into ``existing``)."""
    fresh = sorted(
        (o for oid, o in touched.items()
         if oid not in existing and _paid(o) and (o.referral_code or o.discount_codes)
         and oid not in refunded),
        key=lambda o: (o.paid_at, o.order_id),
    )  # fmt: skip
    if not fresh:
        return
    dialect = session.get_bind().dialect.name
    wanted = sorted({c.upper() for o in fresh for c in _codes(o)})
    advocates = dict(
        (
            await session.execute(
                select(ReferralCode.code, ReferralCode.customer_id).where(
                    ReferralCode.shop_id == shop_id, one_of(ReferralCode.code, wanted, dialect)
                )
            )
        ).all()
    )
    friends = sorted({o.customer_id for o in fresh if o.customer_id})
    referred = set(
        await session.scalars(
            select(Referral.friend_id).where(
                Referral.shop_id == shop_id, one_of(Referral.friend_id, friends, dialect)
            )
        )
    )
    for order in fresh:
        assert order.customer_id is not None
        assert order.paid_at is not None
        found = _attributed(order, advocates)
        if found is None or order.customer_id in referred:
            continue
        code, via = found
        version = history.at(order.paid_at)
        rule = referral_rule(version.document, order.paid_at)
        if rule is None:
            continue
        verdict = await fraud.judge(
            session, shop_id, order, advocates[code], rule, version.document.timezone
        )
        referral = Referral(
            shop_id=shop_id,
            advocate_id=advocates[code],
            friend_id=order.customer_id,
            order_id=order.order_id,
            code=code,
            via=via,
            rule=rule.key,
            program_version=version.version,
            status=verdict.status,
            flags=verdict.flags,
            note=verdict.note,
            approved=False,
            paid_at=order.paid_at,
            release_at=order.paid_at + timedelta(days=version.document.hold_days),
            created_at=now,
            updated_at=now,
        )
        session.add(referral)
        await session.flush()
        existing[order.order_id] = referral
        referred.add(order.customer_id)


def _codes(order: OrderState) -> list[str]:
    return [*([order.referral_code] if order.referral_code else []), *(order.discount_codes or [])]


def _attributed(order: OrderState, advocates: dict[str, str]) -> tuple[str, str] | None:
    """The member's code the order names and how: its attribute first, then its discount codes."""
    if order.referral_code and order.referral_code.upper() in advocates:
        return order.referral_code.upper(), VIA_ATTRIBUTE
    for code in order.discount_codes or ():
        if code.upper() in advocates:
            return code.upper(), VIA_DISCOUNT_CODE
    return None


def _version(history: ProgramHistory, number: int) -> Version:
    return next(v for v in history.versions if v.version == number)


async def settle(
    session: AsyncSession,
    shop_id: int,
    history: ProgramHistory,
    referral: Referral,
    order: OrderState,
    refunded: bool,
    now: datetime,
) -> None:
    """Void an open referral whose order is spoiled; pay a pending one past its hold period.
    The caller holds the order's lock and the referral's row."""
    if (why := _spoiled(order, refunded)) is not None:
        _decide(referral, ReferralStatus.VOID, why, now)
        return
    if referral.status != ReferralStatus.PENDING or referral.release_at > now:
        return
    # An earlier order may have arrived since the referral was judged (deliveries are late).
    if await fraud.had_earlier_order(session, shop_id, order):
        referral.flags = [*referral.flags, fraud.NOT_FIRST_ORDER]
        _decide(referral, ReferralStatus.REJECTED, fraud.note_of(fraud.NOT_FIRST_ORDER), now)
        return
    version = _version(history, referral.program_version)
    rule = version.document.rule(referral.rule)
    assert isinstance(rule, ReferralRule), "a referral's rule is a referral rule of its version"
    await members.enrol(session, shop_id, [referral.advocate_id, referral.friend_id])
    failures = [
        failure
        for side, owner, points, reward_id in (
            ("advocate", referral.advocate_id, rule.advocate_points, rule.advocate_reward_id),
            ("friend", referral.friend_id, rule.friend_points, rule.friend_reward_id),
        )
        if (
            failure := await _pay(
                session, shop_id, referral, order, version, side, owner, points, reward_id, now
            )
        )  # fmt: skip
    ]
    referral.failure = "; ".join(failures) or None
    referral.rewarded_at = now
    _decide(referral, ReferralStatus.REWARDED, None, now)


async def _pay(
    session: AsyncSession,
    shop_id: int,
    referral: Referral,
    order: OrderState,
    version: Version,
    side: str,
    owner: str,
    points: int | None,
    reward_id: int | None,
    now: datetime,
) -> str | None:
    """Pay one side; what went wrong with a reward grant (the points are always posted)."""
    if await holdout.excluded(session, shop_id, owner, now, now):
        return f"{side}: in the holdout, not paid"
    key = f"referral:{referral.id}:{side}"
    what = order.name or f"order {order.order_id}"
    why = (
        f"referred customer {referral.friend_id}, whose first order is {what}"
        if side == "advocate"
        else f"first order {what}, referred by customer {referral.advocate_id}"
    )
    source = f"rule {referral.rule}, program v{version.version}"
    if points:
        expiry = version.document.expiry_days
        await ledger.post(
            session,
            shop_id,
            ledger.Entry(
                key=key,
                kind=TxKind.EARN,
                owner=owner,
                legs=(
                    ledger.Leg(owner, AccountKind.AVAILABLE, points),
                    ledger.Leg(SYSTEM_OWNER, AccountKind.ISSUED, -points),
                ),
                reason=f"{points} points: {why} ({source})",
                source_type="referral",
                source_id=str(referral.id),
                rule=referral.rule,
                expires_at=now + timedelta(days=expiry) if expiry else None,
            ),
        )
    if reward_id:
        try:
            await grants.grant_reward(
                session, shop_id, owner, reward_id, key=key,
                reason=f"a reward: {why} ({source})", now=now,
            )  # fmt: skip
        except (NotFound, RewardInactive) as exc:
            return f"{side}: {exc.message}"
    return None


def _decide(referral: Referral, status: str, note: str | None, now: datetime) -> None:
    referral.status = status
    if note is not None:
        referral.note = note
    referral.updated_at = now


# The store owner's side.


async def get(
    session: AsyncSession, shop_id: int, referral_id: int, *, lock: bool = False
) -> Referral:
    query = select(Referral).where(Referral.shop_id == shop_id, Referral.id == referral_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    found = await session.scalar(query)
    if found is None:
        raise ReferralNotFound(f"no referral {referral_id} in this shop")
    return found


async def listing(
    session: AsyncSession, shop_id: int, *, status: str | None, limit: int, before_id: int | None
) -> list[Referral]:
    """The shop's referrals, newest first, paged by id."""
    query = select(Referral).where(Referral.shop_id == shop_id)
    if status is not None:
        query = query.where(Referral.status == status)
    if before_id is not None:
        query = query.where(Referral.id < before_id)
    return list((await session.scalars(query.order_by(Referral.id.desc()).limit(limit))).all())


async def approve(session: AsyncSession, shop_id: int, referral_id: int, now: datetime) -> Referral:
    """Pass a referral under review: paid now if past its hold period, else when it is."""
    referral, order = await _lock(session, shop_id, referral_id)
    _open_for(referral, (ReferralStatus.REVIEW,), "approved")
    referral.approved = True
    _decide(referral, ReferralStatus.PENDING, None, now)
    await _settle_locked(session, shop_id, referral, order, now)
    return referral


async def reject(
    session: AsyncSession, shop_id: int, referral_id: int, reason: str, now: datetime
) -> Referral:
    referral, _ = await _lock(session, shop_id, referral_id)
    _open_for(referral, ReferralStatus.OPEN, "rejected")
    _decide(referral, ReferralStatus.REJECTED, reason.strip(), now)
    return referral


async def settle_one(
    session: AsyncSession, shop_id: int, referral_id: int, now: datetime
) -> Referral:
    """Settle one referral outside a batch (the periodic payout)."""
    referral, order = await _lock(session, shop_id, referral_id)
    if referral.status in ReferralStatus.OPEN:
        await _settle_locked(session, shop_id, referral, order, now)
    return referral


async def _lock(
    session: AsyncSession, shop_id: int, referral_id: int
) -> tuple[Referral, OrderState]:
    """The referral and its order, the order locked first (the order of locks a batch keeps),
    the referral read again under its own lock."""
    referral = await get(session, shop_id, referral_id)
    order = await reconcile.lock_order(session, shop_id, referral.order_id)
    return await get(session, shop_id, referral_id, lock=True), order


_STATES = {ReferralStatus.PENDING: "pending", ReferralStatus.REVIEW: "under review"}


def _open_for(referral: Referral, allowed: tuple[str, ...], verb: str) -> None:
    if referral.status not in allowed:
        raise ReferralDecided(
            f"referral {referral.id} is {referral.status}; only a referral "
            f"{' or '.join(_STATES[a] for a in allowed)} can be {verb}"
        )


async def _settle_locked(
    session: AsyncSession, shop_id: int, referral: Referral, order: OrderState, now: datetime
) -> None:
    history = await versions.load(session, shop_id)
    refunded = referral.order_id in await _refunded(session, shop_id, [referral.order_id])
    await settle(session, shop_id, history, referral, order, refunded, now)
