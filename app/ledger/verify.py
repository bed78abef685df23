"""``vafa ledger verify``: recompute every balance and lot from postings and compare.

Every check is one SQL query that returns only the rows that disagree, so memory stays flat
however large the ledger."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, ColumnElement, case, cast, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.ledger.models import (
    SYSTEM_OWNER,
    Account,
    AccountKind,
    LedgerTransaction,
    LotMovement,
    PointLot,
    Posting,
    TxKind,
)
from app.members.models import Member


def _sum(column: InstrumentedAttribute[int] | ColumnElement[int]) -> ColumnElement[int]:
    # PostgreSQL sums a BIGINT into NUMERIC; points stay integers.
    return cast(func.coalesce(func.sum(column), 0), BigInteger)


@dataclass(frozen=True, slots=True)
class Problem:
    shop_id: int
    what: str


async def verify_shop(session: AsyncSession, shop_id: int) -> list[Problem]:
    problems: list[Problem] = []

    def bad(what: str) -> None:
        problems.append(Problem(shop_id, what))

    total = await session.scalar(select(_sum(Posting.amount)).where(Posting.shop_id == shop_id))
    if total != 0:
        bad(f"the shop's postings sum to {total}, not 0")

    unbalanced = await session.execute(
        select(Posting.transaction_id, _sum(Posting.amount))
        .where(Posting.shop_id == shop_id)
        .group_by(Posting.transaction_id)
        .having(func.sum(Posting.amount) != 0)
    )
    for tx_id, amount in unbalanced:
        bad(f"transaction {tx_id}: postings sum to {amount}, not 0")

    posted = (
        select(Posting.account_id, _sum(Posting.amount).label("total"))
        .where(Posting.shop_id == shop_id)
        .group_by(Posting.account_id)
        .subquery()
    )
    expected = func.coalesce(posted.c.total, 0)
    for account_id, owner, kind, balance, should in await session.execute(
        select(Account.id, Account.owner, Account.kind, Account.balance, expected)
        .outerjoin(posted, posted.c.account_id == Account.id)
        .where(Account.shop_id == shop_id, Account.balance != expected)
    ):
        bad(
            f"account {account_id} ({owner or 'system'} {kind}): balance {balance}, "
            f"postings say {should}"
        )
    for account_id, balance in await session.execute(
        select(Account.id, Account.balance).where(
            Account.shop_id == shop_id, Account.kind == AccountKind.PENDING, Account.balance < 0
        )
    ):
        bad(f"account {account_id}: pending balance {balance} is negative")

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
        bad(f"lot {lot_id}: remaining {remaining}, movements say {should}")

    # Per member, what the lots hold must equal the spendable part of the available balance.
    held = (
        select(PointLot.owner, _sum(PointLot.remaining).label("total"))
        .where(PointLot.shop_id == shop_id)
        .group_by(PointLot.owner)
        .subquery()
    )
    # The available balance as the postings give it (a wrong stored balance is reported above).
    available = (
        select(Account.owner, func.coalesce(posted.c.total, 0).label("balance"))
        .outerjoin(posted, posted.c.account_id == Account.id)
        .where(Account.shop_id == shop_id, Account.kind == AccountKind.AVAILABLE)
        .subquery()
    )
    in_lots = func.coalesce(held.c.total, 0)
    spendable = case((available.c.balance > 0, available.c.balance), else_=literal(0))
    for owner, lots_total, balance in await session.execute(
        select(available.c.owner, in_lots, available.c.balance)
        .outerjoin(held, held.c.owner == available.c.owner)
        .where(in_lots != spendable)
    ):
        bad(f"member {owner}: lots hold {lots_total}, available balance allows {max(balance, 0)}")
    for (owner,) in await session.execute(
        select(held.c.owner)
        .outerjoin(available, available.c.owner == held.c.owner)
        .where(available.c.owner.is_(None), held.c.total != 0)
    ):
        bad(f"member {owner}: holds lots but has no available account")

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
    should_earn = func.coalesce(earned.c.total, 0)
    for customer_id, lifetime, should in await session.execute(
        select(Member.customer_id, Member.lifetime_earned, should_earn)
        .outerjoin(earned, earned.c.owner == Member.customer_id)
        .where(Member.shop_id == shop_id, Member.lifetime_earned != should_earn)
    ):
        bad(f"member {customer_id}: lifetime_earned {lifetime}, postings say {should}")
    return problems
