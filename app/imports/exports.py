"""CSV exports of one shop: its members with their balances, and its ledger, a page at a time
(keyset pagination), so an export of a million rows never holds them all."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Database
from app.ledger.models import (
    SYSTEM_OWNER,
    Account,
    AccountKind,
    LedgerMember,
    LedgerTransaction,
)
from app.members.models import Member

PAGE = 2000
MEMBER_COLUMNS = (
    "customer_id", "email", "first_name", "last_name", "birthday", "tier", "available",
    "pending", "held", "lifetime_earned", "joined_at",
)  # fmt: skip
LEDGER_COLUMNS = (
    "id", "created_at", "customer_id", "kind", "points", "reason", "source_type", "source_id",
    "order_id", "rule",
)  # fmt: skip


# A text cell starting with one of these is a formula to a spreadsheet (=HYPERLINK(…), or
# +, -, @ and a tab or CR before one): a customer's name or a reason is theirs to write.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """A cell as a spreadsheet may open it: text that would start a formula gets a leading
    ``'`` (shown as text); numbers, a points total of -40 say, are left as they are."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(rows: Iterable[Sequence[Any]]) -> str:
    """Rows as CSV text, every cell through :func:`safe_cell` (the exports, the reports)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerows([safe_cell(v) for v in row] for row in rows)
    return out.getvalue()


async def members_csv(db: Database, shop_id: int) -> AsyncIterator[str]:
    yield csv_text([MEMBER_COLUMNS])
    after = 0
    while True:
        async with db.read() as session:
            page = (
                await session.scalars(
                    select(Member)
                    .where(Member.shop_id == shop_id, Member.id > after)
                    .order_by(Member.id)
                    .limit(PAGE)
                )
            ).all()
            if not page:
                return
            owners = [m.customer_id for m in page]
            balances: dict[tuple[str, str], int] = {}
            for owner, kind, balance in await session.execute(
                select(Account.owner, Account.kind, Account.balance).where(
                    Account.shop_id == shop_id,
                    Account.owner.in_(owners),
                    Account.owner != SYSTEM_OWNER,
                    Account.kind.in_(AccountKind.MEMBER),
                )  # fmt: skip
            ):
                balances[(owner, kind)] = balance
            lifetime = await _lifetime(session, shop_id, owners)
        rows = [
            (m.customer_id, m.email, m.first_name, m.last_name,
             m.birthday.isoformat() if m.birthday else None, m.tier,
             balances.get((m.customer_id, AccountKind.AVAILABLE), 0),
             balances.get((m.customer_id, AccountKind.PENDING), 0),
             balances.get((m.customer_id, AccountKind.HELD), 0),
             lifetime.get(m.customer_id, 0), m.created_at.isoformat())
            for m in page
        ]  # fmt: skip
        yield csv_text(rows)
        after = page[-1].id


async def _lifetime(session: AsyncSession, shop_id: int, owners: list[str]) -> dict[str, int]:
    found = await session.execute(
        select(LedgerMember.owner, LedgerMember.lifetime_earned).where(
            LedgerMember.shop_id == shop_id, LedgerMember.owner.in_(owners)
        )
    )
    return {owner: int(total) for owner, total in found}


async def ledger_csv(db: Database, shop_id: int) -> AsyncIterator[str]:
    yield csv_text([LEDGER_COLUMNS])
    after = 0
    tx = LedgerTransaction
    while True:
        async with db.read() as session:
            page = (
                await session.scalars(
                    select(tx)
                    .where(tx.shop_id == shop_id, tx.id > after)
                    .order_by(tx.id)
                    .limit(PAGE)
                )
            ).all()
        if not page:
            return
        yield csv_text([
            (t.id, t.created_at.isoformat(), t.owner or None, t.kind, t.points, t.reason,
             t.source_type, t.source_id, t.order_id, t.rule)
            for t in page
        ])  # fmt: skip
        after = page[-1].id
