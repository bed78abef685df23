"""Reading a member's balance: the hot path of the storefront widget and the admin API.

One indexed lookup, the member row joined to its materialized accounts (available, pending,
held) and the ledger's record of the member (lifetime earned), run on the driver
itself (:meth:`app.db.Database.fetch_plain`). On PostgreSQL, lookups that arrive while one is
under way are answered together by the next, one statement for the whole group
(:mod:`app.batching`): each still sees every commit made before it was asked. On SQLite a
lookup costs microseconds on the event loop and needs no batching.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, String, and_, bindparam, column, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from app.batching import Batcher
from app.db import Database
from app.errors import MemberNotFound
from app.holdout.models import HoldoutSettings
from app.ledger.models import Account, AccountKind, LedgerMember
from app.members.models import Member
from app.program import versions

MAX_BATCH = 500


@dataclass(frozen=True, slots=True)
class Balance:
    customer_id: str
    available: int
    pending: int
    held: int
    lifetime_earned: int
    tier: str | None
    # The shop's newest program version when this was read, for a cached program
    # (:class:`app.program.versions.HistoryCache`); None when none is stored.
    program: versions.Stamp | None = None
    # The shop has holdout settings: only then can the member be held out (app.holdout).
    holdout_set: bool = False


_ACCOUNTS_OF_MEMBER = (Account.shop_id == Member.shop_id) & (Account.owner == Member.customer_id)
_LEDGER_OF_MEMBER = (LedgerMember.shop_id == Member.shop_id) & (
    LedgerMember.owner == Member.customer_id
)
# A member who never had points has no ledger record yet.
_LIFETIME = func.coalesce(LedgerMember.lifetime_earned, 0)

_PROGRAM = (
    versions.newest_version(Member.shop_id),
    versions.newest_stored(Member.shop_id),
    # A count (0 or 1: one row per shop) rather than EXISTS: a plain integer column.
    select(func.count(HoldoutSettings.id))
    .where(HoldoutSettings.shop_id == Member.shop_id)
    .scalar_subquery(),
)

# Built once: composing the construct costs more than the indexed lookup itself.
_ONE = (
    select(*_PROGRAM, _LIFETIME, Member.tier, Account.kind, Account.balance)
    .outerjoin(LedgerMember, _LEDGER_OF_MEMBER)
    .outerjoin(Account, _ACCOUNTS_OF_MEMBER)
    .where(Member.shop_id == bindparam("shop_id"), Member.customer_id == bindparam("customer_id"))
)

# PostgreSQL: many (shop, customer) keys in one statement, each row naming its key.
_KEYS = (
    func.unnest(
        bindparam("shop_ids", type_=ARRAY(BigInteger)),
        bindparam("customer_ids", type_=ARRAY(String)),
    )
    .table_valued(column("shop_id", BigInteger), column("customer_id", String))
    .render_derived(name="keys")
)
_MANY = (
    select(
        _KEYS.c.shop_id,
        _KEYS.c.customer_id,
        *_PROGRAM,
        _LIFETIME,
        Member.tier,
        Account.kind,
        Account.balance,
    )
    .join_from(
        _KEYS,
        Member,
        and_(Member.shop_id == _KEYS.c.shop_id, Member.customer_id == _KEYS.c.customer_id),
    )
    .outerjoin(LedgerMember, _LEDGER_OF_MEMBER)
    .outerjoin(Account, _ACCOUNTS_OF_MEMBER)
)

_Key = tuple[int, str]
_Rows = list[tuple[Any, ...]]


class BalanceReader:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._batches: Batcher[_Key, _Rows | Exception] | None = None
        if db.dialect == "postgresql":
            self._batches = Batcher(self._read_many, take=lambda keys: min(len(keys), MAX_BATCH))

    async def get(self, shop_id: int, customer_id: str) -> Balance:
        if self._batches is None:
            return _balance_of(customer_id, await self._read_one((shop_id, customer_id)))
        found = await self._batches.submit((shop_id, customer_id))
        if isinstance(found, Exception):
            raise found
        return _balance_of(customer_id, found)

    async def close(self) -> None:
        if self._batches is not None:
            await self._batches.close()

    async def _read_one(self, key: _Key) -> list[tuple[Any, ...]]:
        return await self._db.fetch_plain(_ONE, {"shop_id": key[0], "customer_id": key[1]})

    async def _read_many(self, keys: list[_Key]) -> list[_Rows | Exception]:
        unique = list(dict.fromkeys(keys))
        params = {
            "shop_ids": [shop_id for shop_id, _ in unique],
            "customer_ids": [customer_id for _, customer_id in unique],
        }
        try:
            rows = await self._db.fetch_plain(_MANY, params)
        except Exception:
            if len(unique) == 1:
                raise
            # One request's key must not fail the others' (a shop's bad input, another
            # shop's answer): each key alone, each with its own outcome.
            return [await self._outcome(key) for key in keys]
        found: dict[_Key, _Rows] = {}
        for shop_id, customer_id, *row in rows:
            found.setdefault((shop_id, customer_id), []).append(tuple(row))
        return [found.get(key, []) for key in keys]

    async def _outcome(self, key: _Key) -> _Rows | Exception:
        try:
            return await self._read_one(key)
        except Exception as exc:
            return exc


async def balance_in(session: AsyncSession, shop_id: int, customer_id: str) -> Balance:
    """The balance as the session's transaction sees it (after an adjustment, before commit)."""
    params = {"shop_id": shop_id, "customer_id": customer_id}
    rows = (await session.execute(_ONE, params)).all()
    return _balance_of(customer_id, [tuple(row) for row in rows])


def _balance_of(customer_id: str, rows: Sequence[tuple[Any, ...]]) -> Balance:
    """``rows``: (newest program version, when it was stored, holdout set, lifetime_earned,
    tier, account kind, balance) per account of the member."""
    if not rows:
        raise MemberNotFound(f"no member with customer id {customer_id!r} in this shop")
    version, stored, holdout_set, lifetime_earned, tier = rows[0][:5]
    by_kind = {kind: points for *_, kind, points in rows if kind is not None}
    return Balance(
        customer_id=customer_id,
        available=by_kind.get(AccountKind.AVAILABLE, 0),
        pending=by_kind.get(AccountKind.PENDING, 0),
        held=by_kind.get(AccountKind.HELD, 0),
        lifetime_earned=lifetime_earned,
        tier=tier,
        program=None if version is None else (version, stored),
        holdout_set=bool(holdout_set),
    )
