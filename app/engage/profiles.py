"""What the club keeps of a member itself (``engage_members``): a birthday given through the
API and the leaderboard opt-in, one row per member, made on first use."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import insert_ignore
from app.engage.models import EngageMember
from app.members.models import Member
from app.orm import table_of


async def _row(session: AsyncSession, shop_id: int, customer_id: str) -> EngageMember:
    await session.execute(
        insert_ignore(table_of(EngageMember), session.get_bind().dialect.name),
        [{"shop_id": shop_id, "customer_id": customer_id, "leaderboard_opt_in": False}],
    )
    row = await session.scalar(
        select(EngageMember)
        .where(EngageMember.shop_id == shop_id, EngageMember.customer_id == customer_id)
        .with_for_update()
    )
    assert row is not None
    return row


async def set_birthday(
    session: AsyncSession, shop_id: int, customer_id: str, month_day: tuple[int, int] | None,
    now: datetime,
) -> None:  # fmt: skip
    row = await _row(session, shop_id, customer_id)
    row.birthday_month, row.birthday_day = month_day or (None, None)
    row.updated_at = now


async def set_opt_in(
    session: AsyncSession, shop_id: int, customer_id: str, opt_in: bool, now: datetime
) -> None:
    row = await _row(session, shop_id, customer_id)
    row.leaderboard_opt_in = opt_in
    row.updated_at = now


async def birthday(session: AsyncSession, shop_id: int, customer_id: str) -> tuple[int, int] | None:
    """The member's birthday (month, day): the one given through the API, else the platform's."""
    given = (
        await session.execute(
            select(EngageMember.birthday_month, EngageMember.birthday_day).where(
                EngageMember.shop_id == shop_id, EngageMember.customer_id == customer_id
            )
        )
    ).first()
    if given is not None and given[0] is not None and given[1] is not None:
        return int(given[0]), int(given[1])
    platform: date | None = await session.scalar(
        select(Member.birthday).where(Member.shop_id == shop_id, Member.customer_id == customer_id)
    )
    return (platform.month, platform.day) if platform else None


async def opted_in(session: AsyncSession, shop_id: int, customer_id: str) -> bool:
    value = await session.scalar(
        select(EngageMember.leaderboard_opt_in).where(
            EngageMember.shop_id == shop_id, EngageMember.customer_id == customer_id
        )
    )
    return bool(value)
