"""What the admin pages read, always for the signed-in shop only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.jobs.models import Job, JobStatus
from app.ledger.models import SYSTEM_OWNER, Account, AccountKind
from app.members.balances import balance_in
from app.members.models import Member
from app.rewards.models import Redemption, Reward
from app.webhooks.models import EventStatus, WebhookEvent


@dataclass(frozen=True, slots=True)
class MemberRow:
    customer_id: str
    name: str
    email: str | None
    available: int


def _name(member: Member) -> str:
    return " ".join(p for p in (member.first_name, member.last_name) if p)


async def search(session: AsyncSession, shop_id: int, q: str, limit: int = 50) -> list[MemberRow]:
    """Members whose customer id is ``q``, or whose e-mail or name contains it."""
    text = q.strip()
    if not text:
        return []
    like = f"%{text.lower()}%"
    found = (
        await session.scalars(
            select(Member)
            .where(
                Member.shop_id == shop_id,
                or_(
                    Member.customer_id == text,
                    func.lower(Member.email).like(like),
                    func.lower(func.coalesce(Member.first_name, "") + " "
                               + func.coalesce(Member.last_name, "")).like(like),
                ),
            )
            .order_by(Member.customer_id)
            .limit(limit)
        )
    ).all()  # fmt: skip
    rows = []
    for member in found:
        balance = await balance_in(session, shop_id, member.customer_id)
        rows.append(MemberRow(member.customer_id, _name(member), member.email, balance.available))
    return rows


async def member(session: AsyncSession, shop_id: int, customer_id: str) -> Member | None:
    return await session.scalar(
        select(Member).where(Member.shop_id == shop_id, Member.customer_id == customer_id)
    )


async def overview(session: AsyncSession, shop_id: int) -> list[tuple[str, int]]:
    """The headline numbers, straight from the ledger's accounts."""
    members = await session.scalar(
        select(func.count()).select_from(Member).where(Member.shop_id == shop_id)
    )
    outstanding = await session.scalar(
        select(func.coalesce(func.sum(Account.balance), 0)).where(
            Account.shop_id == shop_id,
            Account.owner != SYSTEM_OWNER,
            Account.kind.in_(AccountKind.MEMBER),
        )
    )
    system = dict(
        (
            await session.execute(
                select(Account.kind, Account.balance).where(
                    Account.shop_id == shop_id, Account.owner == SYSTEM_OWNER
                )
            )
        ).all()
    )
    return [
        ("members_count", int(members or 0)),
        ("outstanding", int(outstanding or 0)),
        ("issued", abs(int(system.get(AccountKind.ISSUED, 0)))),
        ("redeemed", abs(int(system.get(AccountKind.REDEEMED, 0)))),
        ("expired", abs(int(system.get(AccountKind.EXPIRED, 0)))),
    ]


async def failed_jobs(session: AsyncSession, shop_id: int) -> Sequence[Job]:
    return (
        await session.scalars(
            select(Job)
            .where(Job.shop_id == shop_id, Job.status == JobStatus.FAILED)
            .order_by(Job.id.desc())
            .limit(100)
        )
    ).all()


async def rejected_webhooks(session: AsyncSession, shop_id: int) -> Sequence[WebhookEvent]:
    """The shop's parked deliveries: rejected (the body is not what its topic promises) or
    failed (processing failed every attempt), each replayable from the jobs page."""
    return (
        await session.scalars(
            select(WebhookEvent)
            .where(
                WebhookEvent.shop_id == shop_id,
                WebhookEvent.status.in_((EventStatus.REJECTED, EventStatus.FAILED)),
            )
            .order_by(WebhookEvent.id.desc())
            .limit(100)
        )
    ).all()


async def recent_redemptions(session: AsyncSession, shop_id: int) -> Sequence[Any]:
    """The shop's latest redemptions with their reward's name."""
    return (
        await session.execute(
            select(Redemption, Reward.name)
            .join(Reward, Reward.id == Redemption.reward_id)
            .where(Redemption.shop_id == shop_id, Reward.shop_id == shop_id)
            .order_by(Redemption.id.desc())
            .limit(200)
        )
    ).all()
