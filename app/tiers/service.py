"""Members' tiers, inside the caller's transaction (flush, never commit).

:func:`evaluate` is the one function that changes a tier: it reads the member's qualifying
history (:mod:`app.tiers.qualification`), asks :mod:`app.tiers.windows` what it entitles them
to, adds a paid membership, and on any change records a :class:`TierChange`, sets
``members.tier`` and enqueues the write-back of ``vafa.tier``. Its callers: the after-orders
hook (:func:`after_orders`, upgrades at once), and the periodic review (:mod:`app.tiers.tasks`,
downgrades at a period's end and memberships that end). The caller holds the members' account
locks (the batch does; the review takes them), so two evaluations of a member never interleave.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.connectors.base import RefundLine
from app.errors import AppError, MemberNotFound
from app.holdout import membership as holdout
from app.members import service as members
from app.members.models import Member
from app.program import lines
from app.program.document import ProgramDocument, Tiers
from app.program.models import OrderRefund
from app.program.rules import is_earning
from app.program.versions import ProgramHistory, Version
from app.program.versions import load as load_history
from app.tiers import qualification, windows
from app.tiers.membership import membership_days
from app.tiers.models import MemberTier, TierChange, TierMembership

if TYPE_CHECKING:  # annotations only: the member document reads tiers without the order engine
    from app.program.reconcile import OrderState


class TierRequired(AppError):
    status_code = 403
    code = "tier_required"
    example = "reward 4 is for members of tier gold or higher"


class Reason:
    QUALIFIED = "qualified"  # earned or spent enough
    PERIOD_END = "period_end"  # reviewed at the end of a period: no longer qualifies
    REFUND = "refund"  # a refund or cancellation took the qualification away
    MEMBERSHIP = "membership"  # a paid membership began or was renewed
    MEMBERSHIP_ENDED = "membership_ended"  # its term ended, or its order was refunded
    PROGRAM = "program"  # the program's tiers changed


def _index(tiers: Tiers | None, key: str | None) -> int:
    if tiers is None or key is None:
        return -1
    return next((i for i, level in enumerate(tiers.levels) if level.key == key), -1)


def _zone(document: ProgramDocument) -> ZoneInfo:
    return ZoneInfo(document.timezone)


async def _memberships(
    session: AsyncSession, shop_id: int, customer_ids: Sequence[str]
) -> dict[str, list[TierMembership]]:
    found: dict[str, list[TierMembership]] = {c: [] for c in customer_ids}
    rows = await session.scalars(
        select(TierMembership)
        .where(
            TierMembership.shop_id == shop_id,
            TierMembership.customer_id.in_(list(customer_ids)),
            TierMembership.active.is_(True),
        )
        .order_by(TierMembership.paid_at, TierMembership.id)
    )
    for row in rows:
        found[row.customer_id].append(row)
    return found


def membership_end(rows: Sequence[TierMembership]) -> tuple[str | None, datetime | None]:
    """The VIP tier and when it ends: each membership runs from its payment or from the end of
    the one before, whichever is later."""
    end: datetime | None = None
    tier: str | None = None
    for row in rows:
        start = row.paid_at if end is None or end < row.paid_at else end
        end = start + timedelta(days=row.days)
        tier = row.tier
    return tier, end


async def record_memberships(
    session: AsyncSession, shop_id: int, history: ProgramHistory, orders: Sequence[OrderState]
) -> None:
    """Bring the membership each touched order gives up to date (a paid order with membership
    lines gives ``term_days`` per unit; refunded, cancelled or deleted, none)."""
    ids = [o.order_id for o in orders]
    existing = {
        row.order_id: row
        for start in range(0, len(ids), 500)
        for row in await session.scalars(
            select(TierMembership).where(
                TierMembership.shop_id == shop_id,
                TierMembership.order_id.in_(ids[start : start + 500]),
            )
        )
    }
    for order in orders:
        row = existing.get(order.order_id)
        document = history.at(order.paid_at).document
        order_lines = lines.order_lines(order.lines) or ()
        buys = document.membership is not None and membership_days(document, order_lines, ())
        if row is None and not buys:
            continue
        days = 0
        if buys and order.customer_id is not None and order.paid_at and is_earning(order):
            refunded = await _refunded_lines(session, shop_id, order.order_id)
            days = membership_days(document, order_lines, refunded)
        if row is None:
            if days == 0:
                continue
            assert document.membership is not None
            assert order.customer_id is not None
            assert order.paid_at is not None
            session.add(
                TierMembership(
                    shop_id=shop_id, order_id=order.order_id, customer_id=order.customer_id,
                    tier=document.membership.tier, paid_at=order.paid_at, days=days, active=True,
                )
            )  # fmt: skip
        else:
            row.days, row.active = days, days > 0
            if order.paid_at is not None:
                row.paid_at = order.paid_at
    await session.flush()


async def _refunded_lines(session: AsyncSession, shop_id: int, order_id: str) -> list[RefundLine]:
    stored = await session.scalars(
        select(OrderRefund.lines).where(
            OrderRefund.shop_id == shop_id, OrderRefund.order_id == order_id
        )
    )
    return [line for s in stored for line in lines.refund_lines(s)]


def _has_tiers(history: ProgramHistory) -> bool:
    return any(v.document.tiers is not None for v in history.versions)


async def after_orders(
    session: AsyncSession,
    shop_id: int,
    history: ProgramHistory,
    orders: Sequence[OrderState],
    now: datetime,
) -> None:
    """The after-orders hook (:mod:`app.program.hooks`): memberships bought or refunded, and
    every touched order's member evaluated (an upgrade is at once)."""
    if not _has_tiers(history):
        return
    await record_memberships(session, shop_id, history, orders)
    held = await holdout.held_out_orders(session, shop_id, orders, now)  # no tier: not members
    customers = sorted({o.customer_id for o in orders if o.customer_id and o.order_id not in held})
    await evaluate(session, shop_id, history, customers, now)


async def refresh(
    session: AsyncSession, shop_id: int, customer_ids: Sequence[str], now: datetime
) -> None:
    """Evaluate members whose points moved outside an order (an event's points, say)."""
    history = await load_history(session, shop_id)
    if _has_tiers(history):
        await evaluate(session, shop_id, history, sorted(set(customer_ids)), now)


@dataclass(frozen=True, slots=True)
class _Decision:
    qualified: int
    review_at: datetime | None
    reason: str | None  # why the qualified level changed


def _decide(
    tiers: Tiers, zone: ZoneInfo, facts: list[windows.Fact], row: MemberTier, now: datetime
) -> _Decision:
    stored = _index(tiers, row.qualified)
    entitled = windows.entitled(tiers, zone, facts, now)
    if entitled >= stored:
        reason = None
        if entitled > stored:
            reason = Reason.PROGRAM if row.qualified and stored < 0 else Reason.QUALIFIED
        return _Decision(entitled, windows.review_at(tiers, zone, facts, entitled, now), reason)
    if row.review_at is not None and row.review_at <= now:
        review = windows.review_at(tiers, zone, facts, entitled, now)
        return _Decision(entitled, review, Reason.PERIOD_END)
    # Outside a review the qualification falls only by a refund (or a cancellation).
    if tiers.on_refund == "downgrade_now":
        review = windows.review_at(tiers, zone, facts, entitled, now)
        return _Decision(entitled, review, Reason.REFUND)
    keep_until = windows.refund_review(tiers, zone, now)
    if row.review_at is not None and (keep_until is None or row.review_at < keep_until):
        keep_until = row.review_at
    return _Decision(stored, keep_until, None)


async def evaluate(
    session: AsyncSession,
    shop_id: int,
    history: ProgramHistory,
    customer_ids: Sequence[str],
    now: datetime,
) -> dict[str, str | None]:
    """Bring each member's tier up to date at ``now``; their tiers after it."""
    version = history.at(now)
    tiers = version.document.tiers
    if not customer_ids:
        return {}
    if tiers is None:  # the program dropped its tiers: nothing to review any more
        await session.execute(
            update(MemberTier)
            .where(MemberTier.shop_id == shop_id, MemberTier.customer_id.in_(list(customer_ids)))
            .values(review_at=None)
        )
        return {}
    zone = _zone(version.document)
    ids = sorted(set(customer_ids))
    await members.enrol(session, shop_id, ids)
    rows = await _tier_rows(session, shop_id, ids, now)
    current = await _current(session, shop_id, ids)
    facts = await qualification.facts_of(
        session, shop_id, history, tiers.basis, ids, windows.history_since(tiers, zone, now)
    )
    memberships = await _memberships(session, shop_id, ids)
    result: dict[str, str | None] = {}
    for customer_id in ids:
        row = rows[customer_id]
        before_qualified = _index(tiers, row.qualified)
        decision = _decide(tiers, zone, facts[customer_id], row, now)
        vip_key, vip_until = membership_end(memberships[customer_id])
        vip = _index(tiers, vip_key) if vip_until is not None and vip_until > now else -1
        level = max(decision.qualified, vip)
        review = decision.review_at
        if vip >= 0 and vip_until is not None and (review is None or vip_until < review):
            review = vip_until
        row.qualified = tiers.levels[decision.qualified].key
        row.review_at = review
        row.updated_at = now
        new_tier = tiers.levels[level].key
        old_tier = current[customer_id]
        result[customer_id] = new_tier
        if new_tier == old_tier:
            continue
        old = _index(tiers, old_tier)
        if level > old and vip == level and vip > decision.qualified:
            reason = Reason.MEMBERSHIP
        elif level < old and old > before_qualified and vip < old:
            reason = Reason.MEMBERSHIP_ENDED
        else:
            reason = decision.reason or (Reason.PROGRAM if old < 0 else Reason.QUALIFIED)
        await _change(session, shop_id, customer_id, old_tier, new_tier, reason, now, version)
    await session.flush()
    return result


async def _tier_rows(
    session: AsyncSession, shop_id: int, ids: list[str], now: datetime
) -> dict[str, MemberTier]:
    rows = {
        row.customer_id: row
        for row in await session.scalars(
            select(MemberTier).where(MemberTier.shop_id == shop_id, MemberTier.customer_id.in_(ids))
        )
    }
    for customer_id in ids:
        if customer_id not in rows:
            rows[customer_id] = MemberTier(
                shop_id=shop_id, customer_id=customer_id, qualified=None, updated_at=now
            )
            session.add(rows[customer_id])
    return rows


async def _current(session: AsyncSession, shop_id: int, ids: list[str]) -> dict[str, str | None]:
    rows = await session.execute(
        select(Member.customer_id, Member.tier).where(
            Member.shop_id == shop_id, Member.customer_id.in_(ids)
        )
    )
    return {str(customer_id): tier for customer_id, tier in rows.all()}


async def _change(
    session: AsyncSession,
    shop_id: int,
    customer_id: str,
    old: str | None,
    new: str | None,
    reason: str,
    now: datetime,
    version: Version,
) -> None:
    """Record the change, make it the member's tier, and have the store's copy rewritten (a
    tier-only change moves no points, so the ledger's observer would not enqueue it)."""
    from app.sync import writeback  # the sync package sits above the program and its hooks

    session.add(
        TierChange(
            shop_id=shop_id, customer_id=customer_id, from_tier=old, to_tier=new, reason=reason,
            at=now, program_version=version.version,
        )
    )  # fmt: skip
    await session.execute(
        update(Member)
        .where(Member.shop_id == shop_id, Member.customer_id == customer_id)
        .values(tier=new)
    )
    await writeback.enqueue_writes(session, shop_id, [customer_id])


# -- reads -------------------------------------------------------------------------------


async def tier_of(
    session: AsyncSession,
    shop_id: int,
    customer_ids: Sequence[str],
    *,
    history: ProgramHistory | None = None,
    at: datetime | None = None,
) -> dict[str, str | None]:
    """Each member's tier as it stands (before what the caller's batch may change): for the
    purchase engine's tier multiplier. A member never evaluated has the first level; None when
    the program has no tiers."""
    history = history or await load_history(session, shop_id)
    tiers = history.at(at).document.tiers
    ids = sorted(set(customer_ids))
    if tiers is None or not ids:
        return dict.fromkeys(ids)
    stored = await _current(session, shop_id, ids)
    keys = {level.key for level in tiers.levels}
    base = tiers.levels[0].key
    return {c: t if (t := stored.get(c)) in keys else base for c in ids}


@dataclass(frozen=True, slots=True)
class TierProgress:
    basis: str
    window: str
    qualifying: int
    next_tier: str | None
    needed: int | None
    window_ends_at: datetime | None
    tier_until: datetime | None  # the tier is reviewed then (None: it is not)

    def as_json(self) -> dict[str, object]:
        return {
            "basis": self.basis,
            "window": self.window,
            "qualifying": self.qualifying,
            "next_tier": self.next_tier,
            "needed": self.needed,
            "window_ends_at": _iso(self.window_ends_at),
            "tier_until": _iso(self.tier_until),
        }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


async def progress(
    session: AsyncSession,
    shop_id: int,
    customer_id: str,
    tier: str | None,
    now: datetime,
    history: ProgramHistory | None = None,
) -> tuple[str | None, TierProgress | None]:
    """The member's tier as shown (``tier``, theirs as stored; a member not evaluated yet has
    the first level) and the progress to the next level: ``(tier, None)`` without tiers.
    ``history``: the shop's program, when the caller has read it already."""
    history = history or await load_history(session, shop_id)
    document = history.at(now).document
    tiers = document.tiers
    if tiers is None:
        return tier, None
    if _index(tiers, tier) < 0:
        tier = tiers.levels[0].key
    zone = _zone(document)
    since = windows.history_since(tiers, zone, now)
    facts = await qualification.facts_of(
        session, shop_id, history, tiers.basis, [customer_id], since
    )
    level = max(_index(tiers, tier), 0)
    ahead = windows.progress(tiers, zone, facts[customer_id], level, now)
    review = await session.scalar(
        select(MemberTier.review_at).where(
            MemberTier.shop_id == shop_id, MemberTier.customer_id == customer_id
        )
    )
    return tier, TierProgress(
        basis=tiers.basis,
        window=tiers.window,
        qualifying=ahead.qualifying,
        next_tier=None if ahead.next_level is None else tiers.levels[ahead.next_level].key,
        needed=ahead.needed,
        window_ends_at=ahead.window_ends_at,
        tier_until=review,
    )


async def changes(
    session: AsyncSession, shop_id: int, customer_id: str, *, limit: int, before_id: int | None
) -> Sequence[TierChange]:
    """The member's tier changes, newest first, paged by id."""
    exists = await session.scalar(
        select(Member.id).where(Member.shop_id == shop_id, Member.customer_id == customer_id)
    )
    if exists is None:
        raise MemberNotFound(f"no member with customer id {customer_id!r} in this shop")
    query = select(TierChange).where(
        TierChange.shop_id == shop_id, TierChange.customer_id == customer_id
    )
    if before_id is not None:
        query = query.where(TierChange.id < before_id)
    return (await session.scalars(query.order_by(TierChange.id.desc()).limit(limit))).all()


async def check_reward(
    session: AsyncSession, shop_id: int, customer_id: str, reward_id: int, now: datetime
) -> None:
    """Refuse (TierRequired) a reward the program keeps for a tier the member is below: a
    level's ``reward_ids`` are for members of that level or a higher one."""
    history = await load_history(session, shop_id)
    tiers = history.at(now).document.tiers
    if tiers is None:
        return
    required = next((i for i, lv in enumerate(tiers.levels) if reward_id in lv.reward_ids), None)
    if required is None:
        return
    tier = (await tier_of(session, shop_id, [customer_id], history=history, at=now))[customer_id]
    if _index(tiers, tier) < required:
        raise TierRequired(
            f"reward {reward_id} is for members of tier {tiers.levels[required].key} or "
            f"higher; this member is {tier}"
        )


async def members_per_tier(session: AsyncSession, shop_id: int) -> dict[str, int] | None:
    """How many members each tier has now (None: the program has no tiers); a member never
    evaluated counts in the first level. The simulation reports it for its replays."""
    tiers = (await load_history(session, shop_id)).latest.document.tiers
    if tiers is None:
        return None
    counts = {level.key: 0 for level in tiers.levels}
    base = tiers.levels[0].key
    for tier, n in await session.execute(
        select(Member.tier, func.count()).where(Member.shop_id == shop_id).group_by(Member.tier)
    ):
        counts[tier if tier in counts else base] += int(n)
    return counts
