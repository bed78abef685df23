"""The leaderboard: members who opted in, ranked by points earned (earn and reverse postings,
as lifetime earned counts them) within the shop's window — this calendar month or year in the
shop's time zone, or ever — by when the points were posted. Shown by initials and the last two
digits of the customer id only: never a name, an e-mail or the whole id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.engage.models import EngageMember
from app.errors import Conflict
from app.ledger.models import LedgerTransaction, TxKind
from app.members.models import Member
from app.program import periods
from app.program.document import Leaderboard


class LeaderboardDisabled(Conflict):
    code = "leaderboard_disabled"
    example = "this shop's program has no leaderboard (leaderboard.enabled is false)"


@dataclass(frozen=True, slots=True)
class Place:
    rank: int
    display_name: str
    points: int


def display_name(customer_id: str, first_name: str | None, last_name: str | None) -> str:
    names = [n.strip() for n in (first_name, last_name) if n and n.strip()]
    initials = "".join(f"{n[0].upper()}." for n in names)
    return f"{initials or 'Member'} ··{customer_id[-2:]}"


def window_start(board: Leaderboard, zone: ZoneInfo, now: datetime) -> datetime | None:
    if board.window == "lifetime":
        return None
    return periods.bounds(now, board.window, zone)[0]


async def standings(
    session: AsyncSession, shop_id: int, board: Leaderboard, zone: ZoneInfo, now: datetime
) -> tuple[datetime | None, list[Place]]:
    if not board.enabled:
        raise LeaderboardDisabled(LeaderboardDisabled.example)
    since = window_start(board, zone, now)
    tx = LedgerTransaction
    earned = func.sum(tx.points)
    query = (
        select(tx.owner, Member.first_name, Member.last_name, earned.label("earned"))
        .join(
            EngageMember,
            (EngageMember.shop_id == tx.shop_id) & (EngageMember.customer_id == tx.owner),
        )
        .join(Member, (Member.shop_id == tx.shop_id) & (Member.customer_id == tx.owner))
        .where(
            tx.shop_id == shop_id,
            tx.kind.in_([TxKind.EARN, TxKind.REVERSE]),
            EngageMember.leaderboard_opt_in.is_(True),
        )
        .group_by(tx.owner, Member.first_name, Member.last_name)
        .having(earned > 0)
        .order_by(earned.desc(), tx.owner)
        .limit(board.size)
    )
    if since is not None:
        query = query.where(tx.created_at >= since)
    rows = (await session.execute(query)).all()
    return since, [
        Place(rank, display_name(owner, first, last), int(points))
        for rank, (owner, first, last, points) in enumerate(rows, start=1)
    ]
