"""Every row lock the ledger takes lives here, always in one order so two transactions never
deadlock: member accounts before system accounts, each by id.

PostgreSQL: ``SELECT … FOR UPDATE``. SQLite: the whole write transaction already holds the
database's write lock (BEGIN IMMEDIATE), so the same query simply reads."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import insert_ignore, one_of
from app.ledger.models import SYSTEM_OWNER, Account
from app.members.models import Member
from app.orm import table_of

AccountKey = tuple[str, str]  # (owner, kind)


@dataclass(slots=True)
class LockedAccount:
    id: int
    owner: str
    kind: str
    balance: int  # as of the lock, kept current by the ledger as it posts


def _cache(session: AsyncSession, shop_id: int) -> dict[AccountKey, LockedAccount]:
    """Accounts locked by this transaction; a lock lasts until commit, so it is taken once."""
    caches: dict[int, dict[AccountKey, LockedAccount]] = session.info.setdefault(
        "ledger_locked_accounts", {}
    )
    return caches.setdefault(shop_id, {})


def forget_locks(session: AsyncSession) -> None:
    session.info.pop("ledger_locked_accounts", None)


async def ensure_members(session: AsyncSession, shop_id: int, customer_ids: Iterable[str]) -> None:
    ids = sorted({c for c in customer_ids if c != SYSTEM_OWNER})
    if not ids:
        return
    dialect = session.get_bind().dialect.name
    await session.execute(
        insert_ignore(table_of(Member), dialect),
        [{"shop_id": shop_id, "customer_id": c, "lifetime_earned": 0} for c in ids],
    )


async def _lock_existing(
    session: AsyncSession, shop_id: int, keys: set[AccountKey]
) -> dict[AccountKey, LockedAccount]:
    """Lock those of ``keys`` that exist, in order of id."""
    dialect = session.get_bind().dialect.name
    owners = sorted({owner for owner, _ in keys})
    found: dict[AccountKey, LockedAccount] = {}
    for start in range(0, len(owners), 1000):
        # By owner and kind: a plain list, cheap to send; rows not asked for are skipped.
        rows = await session.execute(
            select(Account.id, Account.owner, Account.kind, Account.balance)
            .where(
                Account.shop_id == shop_id,
                one_of(Account.owner, owners[start : start + 1000], dialect),
                one_of(Account.kind, sorted({kind for _, kind in keys}), dialect),
            )
            .order_by(Account.id)
            .with_for_update()
        )
        for row in rows:
            if (row.owner, row.kind) in keys:
                found[(row.owner, row.kind)] = LockedAccount(
                    row.id, row.owner, row.kind, row.balance
                )
    return found


async def lock_accounts(
    session: AsyncSession, shop_id: int, keys: Iterable[AccountKey]
) -> dict[AccountKey, LockedAccount]:
    """Lock the accounts, creating those (and their members) that do not exist yet; returns
    every key asked for.

    Member accounts are all locked — found or created — before any system account: were a
    system account locked first and a member account created after it, a transaction that
    found that member account already would take the two in the opposite order."""
    cache = _cache(session, shop_id)
    wanted = set(keys)
    dialect = session.get_bind().dialect.name
    for system in (False, True):
        group = {k for k in wanted - cache.keys() if (k[0] == SYSTEM_OWNER) is system}
        if not group:
            continue
        cache.update(await _lock_existing(session, shop_id, group))
        if absent := sorted(group - cache.keys()):
            if not system:
                await ensure_members(session, shop_id, (owner for owner, _ in absent))
            await session.execute(
                insert_ignore(table_of(Account), dialect),
                [{"shop_id": shop_id, "owner": o, "kind": k, "balance": 0} for o, k in absent],
            )
            cache.update(await _lock_existing(session, shop_id, set(absent)))
    return {k: cache[k] for k in wanted}
