"""What a simulation reads: of the live database (the shop, its program, its stored events, its
rewards) and of a ledger, live or replayed (totals, revenue, members per tier). Reads only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, and_, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.connectors.base import FinancialState
from app.db import Database
from app.ledger.models import SYSTEM_OWNER, Account, AccountKind
from app.program.models import Order, OrderRefund, ProgramVersion
from app.program.simulation.sandbox import ProgramRows, ShopCopy, StoredEvent
from app.rewards.models import Reward, RewardKind
from app.shops.models import Shop
from app.webhooks.models import WebhookEvent


def _sum(column: Any) -> Any:
    # PostgreSQL sums a BIGINT into NUMERIC; points and minor units stay integers.
    return cast(func.coalesce(func.sum(column), 0), BigInteger)


async def shop_and_program(
    session: AsyncSession, shop_id: int
) -> tuple[ShopCopy, ProgramRows] | None:
    shop = await session.get(Shop, shop_id)
    if shop is None:
        return None
    versions = (
        await session.execute(
            select(ProgramVersion.version, ProgramVersion.effective_at, ProgramVersion.document)
            .where(ProgramVersion.shop_id == shop_id)
            .order_by(ProgramVersion.version)
        )
    ).all()
    return (
        ShopCopy(shop.id, shop.platform, shop.domain, shop.api_url),
        ProgramRows(dict(shop.settings or {}), tuple((v, at, doc) for v, at, doc in versions)),
    )


def _events_since(shop_id: int, since: datetime | None) -> list[Any]:
    where = [WebhookEvent.shop_id == shop_id]
    if since is not None:
        where.append(WebhookEvent.received_at >= since)
    return where


async def event_range(
    session: AsyncSession, shop_id: int, since: datetime | None
) -> tuple[int, int]:
    """How many events were received since ``since``, and the id of the last one stored (0:
    none), which bounds the replays: both see the same events, whatever arrives meanwhile."""
    count, last = (
        await session.execute(
            select(func.count(), func.coalesce(func.max(WebhookEvent.id), 0)).where(
                *_events_since(shop_id, since)
            )
        )
    ).one()
    return int(count), int(last)


async def stored_events(
    db: Database, shop_id: int, since: datetime | None, until_id: int, per_read: int
) -> AsyncIterator[list[StoredEvent]]:
    """The shop's stored events received since ``since``, up to event ``until_id``, in
    delivery order, a page at a time (each page its own short read: nothing is held open while
    the page is replayed)."""
    e = WebhookEvent
    after = 0
    while True:
        async with db.read() as session:
            rows = (
                await session.execute(
                    select(e.id, e.topic, e.body)
                    .where(*_events_since(shop_id, since), e.id > after, e.id <= until_id)
                    .order_by(e.id)
                    .limit(per_read)
                )
            ).all()
        if not rows:
            return
        yield [StoredEvent(*row) for row in rows]
        after = rows[-1][0]


@dataclass(frozen=True, slots=True)
class LedgerTotals:
    """A ledger's totals, from its accounts (whose balances ``vafa ledger verify`` checks
    against their postings): points issued net of reversals, redeemed, expired, adjusted, and
    what members hold (available, pending and held)."""

    issued: int
    redeemed: int
    expired: int
    adjusted: int
    outstanding: int
    members: int  # members with a non-zero balance


async def ledger_totals(session: AsyncSession, shop_id: int) -> LedgerTotals:
    system: dict[str, int] = dict(
        (
            await session.execute(
                select(Account.kind, _sum(Account.balance))
                .where(Account.shop_id == shop_id, Account.owner == SYSTEM_OWNER)
                .group_by(Account.kind)
            )
        ).all()
    )
    member = (
        await session.execute(
            select(_sum(Account.balance), func.count(func.distinct(Account.owner))).where(
                Account.shop_id == shop_id,
                Account.owner != SYSTEM_OWNER,
                Account.kind.in_(AccountKind.MEMBER),
                Account.balance != 0,
            )
        )
    ).one()
    # The system accounts are the members' counterparts: issued and adjusted are credited to
    # members (negative here), redeemed and expired debited from them (positive).
    return LedgerTotals(
        issued=-int(system.get(AccountKind.ISSUED, 0)),
        redeemed=int(system.get(AccountKind.REDEEMED, 0)),
        expired=int(system.get(AccountKind.EXPIRED, 0)),
        adjusted=-int(system.get(AccountKind.ADJUSTED, 0)),
        outstanding=int(member[0]),
        members=int(member[1]),
    )


@dataclass(frozen=True, slots=True)
class Revenue:
    currency: str | None
    exponent: int
    merchandise_minor: int  # of paid orders, net of their refunds


async def revenue(session: AsyncSession, shop_id: int) -> list[Revenue]:
    """Merchandise of the orders paid (not cancelled nor deleted), less what was refunded of
    them, per currency, largest first."""
    paid = and_(
        Order.shop_id == shop_id,
        Order.known.is_(True),
        Order.financial_state == FinancialState.PAID.value,
        Order.cancelled.is_(False),
        Order.deleted.is_(False),
    )
    refunded = (
        select(OrderRefund.order_id, _sum(OrderRefund.merchandise_minor).label("minor"))
        .where(OrderRefund.shop_id == shop_id)
        .group_by(OrderRefund.order_id)
        .subquery()
    )
    net = Order.merchandise_minor - func.coalesce(refunded.c.minor, 0)
    rows = (
        await session.execute(
            select(Order.currency, Order.exponent, _sum(net))
            .outerjoin(refunded, refunded.c.order_id == Order.order_id)
            .where(paid)
            .group_by(Order.currency, Order.exponent)
        )
    ).all()
    found = [Revenue(currency, int(exponent), int(minor)) for currency, exponent, minor in rows]
    return sorted(found, key=lambda r: -r.merchandise_minor)


async def rewards_point_value(session: AsyncSession, shop_id: int) -> Decimal | None:
    """What one point is worth in minor units by the shop's active rewards that turn points
    into money (amount off, points to money): the highest, as the most a point can cost."""
    rows = (
        await session.execute(
            select(Reward.value, Reward.points_cost).where(
                Reward.shop_id == shop_id,
                Reward.active.is_(True),
                Reward.kind.in_([RewardKind.AMOUNT_OFF, RewardKind.POINTS_TO_MONEY]),
                Reward.value.is_not(None),
            )
        )
    ).all()
    values = [Decimal(value) / Decimal(cost) for value, cost in rows if value and cost]
    return max(values) if values else None
