"""``vafa ledger verify``: recompute every balance and lot from postings and compare."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, ColumnElement, cast, func, select
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


def _sum(column: InstrumentedAttribute[int]) -> ColumnElement[int]:
    # PostgreSQL sums a BIGINT into NUMERIC; points stay integers.
    return cast(func.sum(column), BigInteger)


@dataclass(frozen=True, slots=True)
class Problem:
    shop_id: int
    what: str


async def verify_shop(session: AsyncSession, shop_id: int) -> list[Problem]:
    problems: list[Problem] = []

    def bad(what: str) -> None:
        problems.append(Problem(shop_id, what))

    total = await session.scalar(
        select(func.coalesce(_sum(Posting.amount), 0)).where(Posting.shop_id == shop_id)
    )
    if total != 0:
        bad(f"the shop's postings sum to {total}, not 0")

    unbalanced = await session.execute(
        select(Posting.transaction_id, _sum(Posting.amount))
        .where(Posting.shop_id == shop_id)
        .group_by(Posting.transaction_id)
        .having(_sum(Posting.amount) != 0)
    )
    for tx_id, amount in unbalanced:
        bad(f"transaction {tx_id}: postings sum to {amount}, not 0")

    sums = dict(
        (
            await session.execute(
                select(Posting.account_id, _sum(Posting.amount))
                .where(Posting.shop_id == shop_id)
                .group_by(Posting.account_id)
            )
        ).all()
    )
    accounts = (await session.execute(select(Account).where(Account.shop_id == shop_id))).scalars()
    available: dict[str, int] = {}
    for account in accounts:
        expected = sums.get(account.id, 0)
        if account.balance != expected:
            bad(
                f"account {account.id} ({account.owner or 'system'} {account.kind}): balance "
                f"{account.balance}, postings say {expected}"
            )
        if account.kind == AccountKind.AVAILABLE:
            available[account.owner] = expected
        if account.kind == AccountKind.PENDING and expected < 0:
            bad(f"account {account.id}: pending balance {expected} is negative")

    consumed = dict(
        (
            await session.execute(
                select(LotMovement.lot_id, _sum(LotMovement.amount))
                .where(LotMovement.shop_id == shop_id)
                .group_by(LotMovement.lot_id)
            )
        ).all()
    )
    lot_totals: dict[str, int] = {}
    for lot in (
        await session.execute(select(PointLot).where(PointLot.shop_id == shop_id))
    ).scalars():
        expected = lot.points + consumed.get(lot.id, 0)
        if lot.remaining != expected:
            bad(f"lot {lot.id}: remaining {lot.remaining}, movements say {expected}")
        lot_totals[lot.owner] = lot_totals.get(lot.owner, 0) + lot.remaining
    for owner in set(available) | set(lot_totals):
        spendable = max(available.get(owner, 0), 0)
        if lot_totals.get(owner, 0) != spendable:
            bad(
                f"member {owner}: lots hold {lot_totals.get(owner, 0)}, "
                f"available balance allows {spendable}"
            )

    earned = dict(
        (
            await session.execute(
                select(Account.owner, _sum(Posting.amount))
                .join(Account, Account.id == Posting.account_id)
                .join(LedgerTransaction, LedgerTransaction.id == Posting.transaction_id)
                .where(
                    Posting.shop_id == shop_id,
                    Account.owner != SYSTEM_OWNER,
                    LedgerTransaction.kind.in_([TxKind.EARN, TxKind.REVERSE]),
                )
                .group_by(Account.owner)
            )
        ).all()
    )
    members = await session.execute(
        select(Member.customer_id, Member.lifetime_earned).where(Member.shop_id == shop_id)
    )
    for customer_id, lifetime in members:
        if lifetime != earned.get(customer_id, 0):
            bad(
                f"member {customer_id}: lifetime_earned {lifetime}, "
                f"postings say {earned.get(customer_id, 0)}"
            )
    return problems
