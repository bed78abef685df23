"""Member profiles and balance reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.connectors.base import CustomerSnapshot
from app.db import insert_ignore
from app.errors import MemberNotFound
from app.ledger.models import Account, AccountKind, LedgerTransaction
from app.members.models import Member
from app.orm import table_of


async def apply_customer(session: AsyncSession, shop_id: int, snap: CustomerSnapshot) -> None:
    """Enrol the customer, or update the profile unless this snapshot is older than the last."""
    await apply_customer_stub(session, shop_id, snap.customer_id)
    member = await session.scalar(
        select(Member)
        .where(Member.shop_id == shop_id, Member.customer_id == snap.customer_id)
        .with_for_update()
    )
    assert member is not None
    seen = member.profile_updated_at
    if seen is not None and snap.updated_at is not None and snap.updated_at < seen:
        return
    member.email = snap.email
    member.first_name = snap.first_name
    member.last_name = snap.last_name
    member.birthday = snap.birthday
    member.accepts_marketing = snap.accepts_marketing
    member.profile_updated_at = snap.updated_at or seen


@dataclass(frozen=True, slots=True)
class Balance:
    customer_id: str
    available: int
    pending: int
    lifetime_earned: int
    tier: str | None


# Built once: composing the construct costs more than the indexed lookup itself.
_BALANCE = (
    select(Member.lifetime_earned, Member.tier, Account.kind, Account.balance)
    .outerjoin(
        Account,
        (Account.shop_id == Member.shop_id) & (Account.owner == Member.customer_id),
    )
    .where(Member.shop_id == bindparam("shop_id"), Member.customer_id == bindparam("customer_id"))
)


async def balance(conn: AsyncSession | AsyncConnection, shop_id: int, customer_id: str) -> Balance:
    """One indexed lookup: the member row joined to its two materialized balances."""
    rows = (await conn.execute(_BALANCE, {"shop_id": shop_id, "customer_id": customer_id})).all()
    if not rows:
        raise MemberNotFound(f"no member with customer id {customer_id!r} in this shop")
    by_kind = {row.kind: row.balance for row in rows if row.kind is not None}
    return Balance(
        customer_id=customer_id,
        available=by_kind.get(AccountKind.AVAILABLE, 0),
        pending=by_kind.get(AccountKind.PENDING, 0),
        lifetime_earned=rows[0].lifetime_earned,
        tier=rows[0].tier,
    )


@dataclass(frozen=True, slots=True)
class LedgerLine:
    id: int
    kind: str
    points: int
    reason: str
    source_type: str
    source_id: str | None
    order_id: str | None
    rule: str | None
    uncollected: int
    created_at: datetime


async def entries(
    session: AsyncSession, shop_id: int, customer_id: str, *, limit: int, before_id: int | None
) -> list[LedgerLine]:
    """The member's ledger transactions, newest first, paged by id."""
    exists = await session.scalar(
        select(Member.id).where(Member.shop_id == shop_id, Member.customer_id == customer_id)
    )
    if exists is None:
        raise MemberNotFound(f"no member with customer id {customer_id!r} in this shop")
    tx = LedgerTransaction
    query = select(tx).where(tx.shop_id == shop_id, tx.owner == customer_id)
    if before_id is not None:
        query = query.where(tx.id < before_id)
    rows = (await session.scalars(query.order_by(tx.id.desc()).limit(limit))).all()
    return [
        LedgerLine(
            id=r.id,
            kind=r.kind,
            points=r.points,
            reason=r.reason,
            source_type=r.source_type,
            source_id=r.source_id,
            order_id=r.order_id,
            rule=r.rule,
            uncollected=r.uncollected,
            created_at=r.created_at,
        )
        for r in rows
    ]


async def apply_customer_stub(session: AsyncSession, shop_id: int, customer_id: str) -> None:
    """Make sure an order's customer is a member, without touching a profile."""
    dialect = session.get_bind().dialect.name
    await session.execute(
        insert_ignore(table_of(Member), dialect),
        [{"shop_id": shop_id, "customer_id": customer_id, "lifetime_earned": 0}],
    )
