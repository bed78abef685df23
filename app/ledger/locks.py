"""Every row lock the ledger takes lives here, always in one order so two transactions never
deadlock: member accounts by id, up front; system accounts by id, last, just before commit.

Member accounts are locked because debits are checked against their balance. System accounts
(issued, redeemed, …) are never checked, so they are not locked up front: their changes are
summed during the transaction and applied as relative updates right before it commits
(:func:`apply_system_deltas`, run by ``Database.write``). Every batch of every worker touches
the shop's ``issued`` account; locking it at the start would make workers take turns.

PostgreSQL: ``SELECT … FOR UPDATE``. SQLite: the whole write transaction already holds the
database's write lock (BEGIN IMMEDIATE), so the same query simply reads."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import bindparam, event, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from app.db import insert_ignore, one_of
from app.ledger import bounds
from app.ledger.models import SYSTEM_OWNER, Account, LedgerMember
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


async def _ensure_ledger_members(session: AsyncSession, shop_id: int, owners: list[str]) -> None:
    """The ledger's own record of each member, created with the member's first accounts."""
    await session.execute(
        insert_ignore(table_of(LedgerMember), session.get_bind().dialect.name),
        [{"shop_id": shop_id, "owner": o, "lifetime_earned": 0} for o in owners],
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
    """Lock members' accounts, creating those (and the ledger's record of their member) that do
    not exist yet; returns every key asked for. The member's profile (``members``) is the
    members domain's: whoever posts for a new customer enrols them there first."""
    cache = _cache(session, shop_id)
    wanted = set(keys)
    if any(owner == SYSTEM_OWNER for owner, _ in wanted):
        raise ValueError("system accounts are not locked; use system_accounts()")
    if missing := wanted - cache.keys():
        cache.update(await _lock_existing(session, shop_id, missing))
    if absent := sorted(wanted - cache.keys()):
        await _ensure_ledger_members(session, shop_id, sorted({owner for owner, _ in absent}))
        await session.execute(
            insert_ignore(table_of(Account), session.get_bind().dialect.name),
            [{"shop_id": shop_id, "owner": o, "kind": k, "balance": 0} for o, k in absent],
        )
        cache.update(await _lock_existing(session, shop_id, set(absent)))
    return {k: cache[k] for k in wanted}


async def system_accounts(
    session: AsyncSession, shop_id: int, kinds: Iterable[str]
) -> dict[str, int]:
    """The ids of the shop's system accounts of ``kinds``, created if need be; not locked."""
    ids: dict[tuple[int, str], int] = session.info.setdefault("ledger_system_accounts", {})
    wanted = sorted(set(kinds))
    if missing := [k for k in wanted if (shop_id, k) not in ids]:
        dialect = session.get_bind().dialect.name
        await session.execute(
            insert_ignore(table_of(Account), dialect),
            [{"shop_id": shop_id, "owner": SYSTEM_OWNER, "kind": k, "balance": 0} for k in missing],
        )
        rows = await session.execute(
            select(Account.kind, Account.id).where(
                Account.shop_id == shop_id,
                Account.owner == SYSTEM_OWNER,
                one_of(Account.kind, missing, dialect),
            )
        )
        ids.update(((shop_id, kind), account_id) for kind, account_id in rows)
    return {k: ids[(shop_id, k)] for k in wanted}


def add_system_delta(session: AsyncSession, account_id: int, delta: int) -> None:
    deltas: dict[int, int] = session.info.setdefault(_DELTAS, {})
    if not deltas:
        hooks: list[object] = session.info.setdefault("before_commit", [])
        hooks.append(apply_system_deltas)
    deltas[account_id] = deltas.get(account_id, 0) + delta
    bounds.check(deltas[account_id], f"the change to system account {account_id}")


async def apply_system_deltas(session: AsyncSession) -> None:
    """Move the system accounts' balances by what this transaction posted, in order of id."""
    deltas: dict[int, int] = session.info.pop(_DELTAS, {})
    changed = [{"account_id": k, **bounds.delta_params(v)} for k, v in sorted(deltas.items()) if v]
    if changed:
        accounts = table_of(Account)
        await bounds.add_deltas(
            session,
            update(accounts)
            .where(accounts.c.id == bindparam("account_id"))
            .values(balance=bounds.add_in_range(accounts.c.balance)),
            changed,
            "a system account's balance",
        )


_DELTAS = "ledger_system_deltas"


@event.listens_for(Session, "before_commit")
def _refuse_unapplied_deltas(session: Session) -> None:
    # A commit outside Database.write() would otherwise leave system balances behind their
    # postings, silently.
    if session.info.get(_DELTAS):
        raise RuntimeError("ledger postings would commit without their system account balances")
