"""Member profiles and balance reads."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.connectors.base import CustomerSnapshot
from app.db import insert_ignore
from app.errors import MemberNotFound
from app.ledger.models import LedgerTransaction
from app.members.models import Member
from app.orm import table_of


async def apply_customer(session: AsyncSession, shop_id: int, snap: CustomerSnapshot) -> None:
    """Enrol the customer, or update the profile unless this snapshot is older than the last."""
    await enrol(session, shop_id, [snap.customer_id])
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


async def enrol(session: AsyncSession, shop_id: int, customer_ids: Iterable[str]) -> None:
    """Make sure these customers are members, without touching a profile. Done before points
    are posted for a customer: the ledger keeps balances, not members."""
    ids = sorted(set(customer_ids))
    if not ids:
        return
    await session.execute(
        insert_ignore(table_of(Member), session.get_bind().dialect.name),
        [{"shop_id": shop_id, "customer_id": c} for c in ids],
    )
