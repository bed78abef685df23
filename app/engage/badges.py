"""Badges and challenges: rules over the member's stream of paid orders and events ("3 orders
in 30 days", "spend 1,000,000 in a year", "active on 5 distinct days"), each member's progress,
and the award — points, a reward or only the badge — once, when first completed.

Completion is judged from the stored facts, not by counting deliveries: the member's paid
orders (``orders``, net of refunds for spend) and events (``member_events``), inside the rule's
time frame, searched for the first moment any ``within_days`` window held the target. An
order processed late, or twice, therefore completes a badge at the same moment, once. A
completed badge stays completed (a later refund does not take it back). A badge without
``starts_at`` counts the member's whole history; give it one to count from then on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.connectors.base import FinancialState
from app.engage import awards
from app.engage.awards import Outcome
from app.engage.models import MemberEvent, RuleAward
from app.program.document import BadgeRule
from app.program.models import Order, OrderRefund
from app.program.reconcile import OrderState
from app.program.versions import ProgramHistory, Version

# The metrics an order, or an event, can move.
ORDER_METRICS = frozenset({"orders", "spend", "distinct_days"})
EVENT_METRICS = frozenset({"events", "distinct_days"})


@dataclass(frozen=True, slots=True)
class Activity:
    orders: list[tuple[datetime, int]]  # paid_at, merchandise net of refunds
    events: list[tuple[datetime, str]]  # occurred_at, type


@dataclass(frozen=True, slots=True)
class Progress:
    rule: BadgeRule
    current: int
    target: int
    completed_at: datetime | None


async def activity(session: AsyncSession, shop_id: int, customer_id: str) -> Activity:
    refunded = (
        select(OrderRefund.order_id, func.sum(OrderRefund.merchandise_minor).label("minor"))
        .where(OrderRefund.shop_id == shop_id)
        .group_by(OrderRefund.order_id)
        .subquery()
    )
    orders = await session.execute(
        select(Order.paid_at, Order.merchandise_minor - func.coalesce(refunded.c.minor, 0))
        .outerjoin(refunded, refunded.c.order_id == Order.order_id)
        .where(
            Order.shop_id == shop_id,
            Order.customer_id == customer_id,
            Order.financial_state == FinancialState.PAID.value,
            Order.paid_at.is_not(None),
            Order.cancelled.is_(False),
            Order.deleted.is_(False),
            Order.backfilled.is_(False),  # imported without points: never earns, nor counts
        )
    )
    events = await session.execute(
        select(MemberEvent.occurred_at, MemberEvent.type).where(
            MemberEvent.shop_id == shop_id, MemberEvent.customer_id == customer_id
        )
    )
    return Activity(
        sorted((t, int(minor)) for t, minor in orders.all() if t is not None),
        sorted((t, kind) for t, kind in events.all()),
    )


def target(rule: BadgeRule) -> int:
    goal = rule.amount_minor if rule.metric == "spend" else rule.count
    assert goal is not None  # the document requires it for the metric
    return goal


def _items(rule: BadgeRule, act: Activity) -> list[tuple[datetime, int]]:
    """What counts toward the badge, as (time, amount), oldest first, inside its frame."""
    events = [(t, 1) for t, kind in act.events if rule.event is None or kind == rule.event]
    if rule.metric == "orders":
        items = [(t, 1) for t, _ in act.orders]
    elif rule.metric == "spend":
        items = [(t, minor) for t, minor in act.orders if minor > 0]
    elif rule.metric == "events":
        items = events
    else:
        items = sorted([(t, 1) for t, _ in act.orders] + events)
    return [
        (t, n) for t, n in items
        if (rule.starts_at is None or t >= rule.starts_at)
        and (rule.ends_at is None or t < rule.ends_at)
    ]  # fmt: skip


def _days(items: list[tuple[datetime, int]], zone: ZoneInfo) -> list[tuple[date, datetime]]:
    """Each local day with activity, with its first moment."""
    first: dict[date, datetime] = {}
    for t, _ in items:
        first.setdefault(t.astimezone(zone).date(), t)
    return sorted(first.items())


def completion(rule: BadgeRule, act: Activity, zone: ZoneInfo) -> datetime | None:
    """The first moment the badge's target was met within a window of ``within_days`` days
    (items less than ``within_days`` × 24 h apart; distinct days: less than that many calendar
    days apart), or None."""
    goal = target(rule)
    items = _items(rule, act)
    if rule.metric == "distinct_days":
        days = _days(items, zone)
        start = 0
        for end, (day, moment) in enumerate(days):
            while rule.within_days and (day - days[start][0]).days >= rule.within_days:
                start += 1
            if end - start + 1 >= goal:
                return moment
        return None
    window = timedelta(days=rule.within_days) if rule.within_days else None
    total, start = 0, 0
    for t, amount in items:
        total += amount
        while window is not None and t - items[start][0] >= window:
            total -= items[start][1]
            start += 1
        if total >= goal:
            return t
    return None


def current(rule: BadgeRule, act: Activity, zone: ZoneInfo, now: datetime) -> int:
    """Where the member stands now: what counts within the last ``within_days`` (or ever)."""
    items = [(t, n) for t, n in _items(rule, act) if t <= now]
    if rule.metric == "distinct_days":
        today = now.astimezone(zone).date()
        return sum(
            1 for day, _ in _days(items, zone)
            if not rule.within_days or (today - day).days < rule.within_days
        )  # fmt: skip
    since = now - timedelta(days=rule.within_days) if rule.within_days else None
    return sum(n for t, n in items if since is None or t > since)


def badge_key(customer_id: str, rule: str) -> str:
    return f"badge:{customer_id}:{rule}"


def badge_rules(version: Version, metrics: frozenset[str] | None = None) -> list[BadgeRule]:
    return [
        rule for rule in version.document.rules
        if isinstance(rule, BadgeRule) and (metrics is None or rule.metric in metrics)
    ]  # fmt: skip


async def _completed(
    session: AsyncSession, shop_id: int, customer_ids: Sequence[str], rules: Sequence[str]
) -> dict[tuple[str, str], datetime]:
    rows = await session.execute(
        select(RuleAward.customer_id, RuleAward.rule, RuleAward.occurred_at).where(
            RuleAward.shop_id == shop_id,
            RuleAward.source_type == "badge",
            RuleAward.customer_id.in_(list(customer_ids)),
            RuleAward.rule.in_(list(rules)),
        )
    )
    return {(c, r): t for c, r, t in rows.all()}


async def check(
    session: AsyncSession,
    shop_id: int,
    version: Version,
    customer_ids: Sequence[str],
    now: datetime,
    metrics: frozenset[str],
) -> list[Outcome]:
    """Complete the badges of ``version`` moved by ``metrics`` that these members have now met;
    the awards made. The members' account locks are the caller's."""
    rules = [r for r in badge_rules(version, metrics) if r.active]
    if not rules or not customer_ids:
        return []
    done = await _completed(session, shop_id, customer_ids, [r.key for r in rules])
    zone = ZoneInfo(version.document.timezone)
    made: list[Outcome] = []
    for customer_id in sorted(set(customer_ids)):
        pending = [r for r in rules if (customer_id, r.key) not in done]
        if not pending:
            continue
        act = await activity(session, shop_id, customer_id)
        for rule in pending:
            at = completion(rule, act, zone)
            if at is None:
                continue
            name = rule.names.en or rule.names.fa
            made.append(
                await awards.award(
                    session, shop_id, version, rule, customer_id,
                    key=badge_key(customer_id, rule.key), source_type="badge", source_id=None,
                    why=f"badge {name} completed", when=at, now=now,
                )
            )  # fmt: skip
    return made


async def after_orders(
    session: AsyncSession,
    shop_id: int,
    history: ProgramHistory,
    orders: Sequence[OrderState],
    now: datetime,
) -> None:
    """The after-orders hook (``app.program.hooks``): the badges orders move, for the orders'
    members (whose accounts the batch has locked)."""
    customers = sorted({o.customer_id for o in orders if o.customer_id})
    await check(session, shop_id, history.at(now), customers, now, ORDER_METRICS)


async def progress(
    session: AsyncSession, shop_id: int, version: Version, customer_id: str, now: datetime
) -> list[Progress]:
    """Every badge of the program with the member's progress, in the program's order."""
    rules = badge_rules(version)
    if not rules:
        return []
    done = await _completed(session, shop_id, [customer_id], [r.key for r in rules])
    act = await activity(session, shop_id, customer_id)
    zone = ZoneInfo(version.document.timezone)
    return [
        Progress(
            rule,
            target(rule) if (customer_id, rule.key) in done else current(rule, act, zone, now),
            target(rule),
            done.get((customer_id, rule.key)),
        )
        for rule in rules
    ]
