"""``vafa ledger verify``: recompute every balance and lot from postings and compare.

Every check is one SQL query that returns only the rows that disagree, so memory stays flat
however large the ledger. A check that cannot be computed (a sum past the 64-bit range, on
corrupt data) is reported as a problem, and the others still run: verify reports, never
crashes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    and_,
    case,
    cast,
    func,
    literal,
    select,
    union_all,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.ledger.models import (
    SYSTEM_OWNER,
    Account,
    AccountKind,
    Hold,
    HoldStatus,
    LedgerMember,
    LedgerTransaction,
    LotMovement,
    PointLot,
    Posting,
    TxKind,
)


def _sum(column: InstrumentedAttribute[int] | ColumnElement[int]) -> ColumnElement[int]:
    # PostgreSQL sums a BIGINT into NUMERIC; points stay integers.
    return cast(func.coalesce(func.sum(column), 0), BigInteger)


@dataclass(frozen=True, slots=True)
class Problem:
    shop_id: int
    what: str


Found = AsyncIterator[str]  # what each check finds wrong, one line per problem
_Check = Callable[[AsyncSession, int], Found]


async def verify_shop(session: AsyncSession, shop_id: int) -> list[Problem]:
    problems: list[Problem] = []
    for check in _CHECKS:
        try:
            async for what in check(session, shop_id):
                problems.append(Problem(shop_id, what))
        except DBAPIError as exc:
            # The error's kind and its first line (the engine's words, e.g. "integer
            # overflow"), never the statement's parameters.
            reason = str(exc.orig).splitlines()[0] if exc.orig is not None else type(exc).__name__
            problems.append(Problem(shop_id, f"{_title(check)}: could not be computed ({reason})"))
    return problems


def _title(check: _Check) -> str:
    return (check.__doc__ or check.__name__).strip().splitlines()[0].rstrip(".")


# Integer columns the ledger's sums are made of. On SQLite a value past the 64-bit range is
# stored as a REAL; PostgreSQL's BIGINT cannot hold one.
_WHOLE_NUMBERS: list[tuple[str, Any, InstrumentedAttribute[int]]] = [
    ("account", Account, Account.balance),
    ("posting", Posting, Posting.amount),
    ("lot", PointLot, PointLot.points),
    ("lot", PointLot, PointLot.remaining),
    ("lot movement", LotMovement, LotMovement.amount),
    ("ledger member", LedgerMember, LedgerMember.lifetime_earned),
    ("hold", Hold, Hold.points),
]


async def _whole_numbers(session: AsyncSession, shop_id: int) -> Found:
    """Stored points are whole numbers within the 64-bit range."""
    if session.get_bind().dialect.name != "sqlite":
        return
    for what, model, column in _WHOLE_NUMBERS:
        for row_id, value in await session.execute(
            select(model.id, column).where(
                model.shop_id == shop_id, func.typeof(column) != "integer"
            )
        ):
            yield (
                f"{what} {row_id}: {column.key} {value!r} is not a whole number of points "
                "within the 64-bit range"
            )


async def _shop_balances(session: AsyncSession, shop_id: int) -> Found:
    """The shop's postings sum to zero."""
    total = await session.scalar(select(_sum(Posting.amount)).where(Posting.shop_id == shop_id))
    if total != 0:
        yield f"the shop's postings sum to {total}, not 0"


async def _transactions_balance(session: AsyncSession, shop_id: int) -> Found:
    """Each transaction's postings sum to zero."""
    for tx_id, amount in await session.execute(
        select(Posting.transaction_id, _sum(Posting.amount))
        .where(Posting.shop_id == shop_id)
        .group_by(Posting.transaction_id)
        .having(func.sum(Posting.amount) != 0)
    ):
        yield f"transaction {tx_id}: postings sum to {amount}, not 0"


def _posted(shop_id: int) -> Any:
    return (
        select(Posting.account_id, _sum(Posting.amount).label("total"))
        .where(Posting.shop_id == shop_id)
        .group_by(Posting.account_id)
        .subquery()
    )


async def _balances(session: AsyncSession, shop_id: int) -> Found:
    """Account balances equal their postings."""
    posted = _posted(shop_id)
    expected = func.coalesce(posted.c.total, 0)
    for account_id, owner, kind, balance, should in await session.execute(
        select(Account.id, Account.owner, Account.kind, Account.balance, expected)
        .outerjoin(posted, posted.c.account_id == Account.id)
        .where(Account.shop_id == shop_id, Account.balance != expected)
    ):
        yield (
            f"account {account_id} ({owner or 'system'} {kind}): balance {balance}, "
            f"postings say {should}"
        )
    for account_id, kind, balance in await session.execute(
        select(Account.id, Account.kind, Account.balance).where(
            Account.shop_id == shop_id,
            Account.kind.in_([AccountKind.PENDING, AccountKind.HELD]),
            Account.balance < 0,
        )
    ):
        yield f"account {account_id}: {kind} balance {balance} is negative"


async def _held(session: AsyncSession, shop_id: int) -> Found:
    """Held balances equal the points of the member's open holds."""
    open_holds = (
        select(Hold.owner, _sum(Hold.points).label("total"))
        .where(Hold.shop_id == shop_id, Hold.status == HoldStatus.HELD)
        .group_by(Hold.owner)
        .subquery()
    )
    held = (
        select(Account.owner, Account.balance)
        .where(Account.shop_id == shop_id, Account.kind == AccountKind.HELD)
        .subquery()
    )
    should = func.coalesce(open_holds.c.total, 0)
    for owner, balance, total in await session.execute(
        select(held.c.owner, held.c.balance, should)
        .outerjoin(open_holds, open_holds.c.owner == held.c.owner)
        .where(held.c.balance != should)
    ):
        yield f"member {owner}: held balance {balance}, open holds say {total}"
    for owner, total in await session.execute(
        select(open_holds.c.owner, open_holds.c.total)
        .outerjoin(held, held.c.owner == open_holds.c.owner)
        .where(held.c.owner.is_(None))
    ):
        yield f"member {owner}: open holds of {total} points but no held account"


async def _settlements(session: AsyncSession, shop_id: int) -> Found:
    """Each hold is settled as its status says, and a void gave back what its hold took."""
    settle = LedgerTransaction
    expected_kind = case(
        (Hold.status == HoldStatus.CAPTURED, TxKind.CAPTURE),
        (Hold.status == HoldStatus.VOIDED, TxKind.VOID),
        else_=None,
    )
    for hold_id, status, kind in await session.execute(
        select(Hold.id, Hold.status, settle.kind)
        .outerjoin(settle, settle.id == Hold.settle_transaction_id)
        .where(
            Hold.shop_id == shop_id,
            func.coalesce(settle.kind, "") != func.coalesce(expected_kind, ""),
        )
    ):
        yield f"hold {hold_id}: status {status}, settled by {kind or 'nothing'}"

    # Per voided hold and expiry: what its hold took from lots, less the lots its void created.
    taken = (
        select(
            Hold.id.label("hold_id"),
            PointLot.expires_at.label("expires_at"),
            (-LotMovement.amount).label("points"),
        )
        .join(LotMovement, LotMovement.transaction_id == Hold.hold_transaction_id)
        .join(PointLot, PointLot.id == LotMovement.lot_id)
        .where(Hold.shop_id == shop_id, Hold.status == HoldStatus.VOIDED)
    )
    given = (
        select(Hold.id, PointLot.expires_at, -PointLot.points)
        .join(PointLot, PointLot.transaction_id == Hold.settle_transaction_id)
        .where(Hold.shop_id == shop_id, Hold.status == HoldStatus.VOIDED)
    )
    both = union_all(taken, given).subquery()
    took = _sum(case((both.c.points > 0, both.c.points), else_=literal(0)))
    gave = _sum(case((both.c.points < 0, -both.c.points), else_=literal(0)))
    for hold_id, expires_at, hold_took, void_gave in await session.execute(
        select(both.c.hold_id, both.c.expires_at, took, gave)
        .group_by(both.c.hold_id, both.c.expires_at)
        .having(func.sum(both.c.points) != 0)
    ):
        when = f"expiring {expires_at.isoformat()}" if expires_at is not None else "never expiring"
        yield (
            f"hold {hold_id}: of the points {when}, the hold took {hold_took} and its void "
            f"gave back {void_gave}"
        )


async def _lots(session: AsyncSession, shop_id: int) -> Found:
    """Lots equal their movements, and hold what the available balance allows."""
    moved = (
        select(LotMovement.lot_id, _sum(LotMovement.amount).label("total"))
        .where(LotMovement.shop_id == shop_id)
        .group_by(LotMovement.lot_id)
        .subquery()
    )
    left = PointLot.points + func.coalesce(moved.c.total, 0)
    for lot_id, remaining, should in await session.execute(
        select(PointLot.id, PointLot.remaining, left)
        .outerjoin(moved, moved.c.lot_id == PointLot.id)
        .where(PointLot.shop_id == shop_id, PointLot.remaining != left)
    ):
        yield f"lot {lot_id}: remaining {remaining}, movements say {should}"

    # Per member, what the lots hold must equal the spendable part of the available balance.
    in_lots = (
        select(PointLot.owner, _sum(PointLot.remaining).label("total"))
        .where(PointLot.shop_id == shop_id)
        .group_by(PointLot.owner)
        .subquery()
    )
    posted = _posted(shop_id)
    # The available balance as the postings give it (a wrong stored balance is reported above).
    available = (
        select(Account.owner, func.coalesce(posted.c.total, 0).label("balance"))
        .outerjoin(posted, posted.c.account_id == Account.id)
        .where(Account.shop_id == shop_id, Account.kind == AccountKind.AVAILABLE)
        .subquery()
    )
    lots_total = func.coalesce(in_lots.c.total, 0)
    spendable = case((available.c.balance > 0, available.c.balance), else_=literal(0))
    for owner, total, balance in await session.execute(
        select(available.c.owner, lots_total, available.c.balance)
        .outerjoin(in_lots, in_lots.c.owner == available.c.owner)
        .where(lots_total != spendable)
    ):
        yield f"member {owner}: lots hold {total}, available balance allows {max(balance, 0)}"
    for (owner,) in await session.execute(
        select(in_lots.c.owner)
        .outerjoin(available, available.c.owner == in_lots.c.owner)
        .where(available.c.owner.is_(None), in_lots.c.total != 0)
    ):
        yield f"member {owner}: holds lots but has no available account"


async def _lifetime(session: AsyncSession, shop_id: int) -> Found:
    """Lifetime earned points equal the member's earn and reverse postings."""
    earned = (
        select(Account.owner, _sum(Posting.amount).label("total"))
        .join(Account, Account.id == Posting.account_id)
        .join(LedgerTransaction, LedgerTransaction.id == Posting.transaction_id)
        .where(
            Posting.shop_id == shop_id,
            Account.owner != SYSTEM_OWNER,
            LedgerTransaction.kind.in_([TxKind.EARN, TxKind.REVERSE]),
        )
        .group_by(Account.owner)
        .subquery()
    )
    should = func.coalesce(earned.c.total, 0)
    member = LedgerMember
    for owner, lifetime, total in await session.execute(
        select(member.owner, member.lifetime_earned, should)
        .outerjoin(earned, earned.c.owner == member.owner)
        .where(member.shop_id == shop_id, member.lifetime_earned != should)
    ):
        yield f"member {owner}: lifetime_earned {lifetime}, postings say {total}"
    for owner, total in await session.execute(
        select(earned.c.owner, earned.c.total)
        .outerjoin(member, and_(member.shop_id == shop_id, member.owner == earned.c.owner))
        .where(member.id.is_(None), earned.c.total != 0)
    ):
        yield f"member {owner}: earned {total} points but has no ledger record to keep them"


_CHECKS: list[_Check] = [
    _whole_numbers,
    _shop_balances,
    _transactions_balance,
    _balances,
    _held,
    _settlements,
    _lots,
    _lifetime,
]
