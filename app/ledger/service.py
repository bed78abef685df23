"""Posting to the ledger. :func:`post` is the only code that writes postings, so the invariants
live in one place:

- the postings of a transaction sum to zero (checked before anything is written);
- an idempotency key is posted once per shop: the same key with the same content returns the
  first result, with other content raises :class:`IdempotencyConflict`;
- account balances move in the same transaction as their postings, under the accounts' locks;
- a debit marked ``no_overdraft`` is checked against the balance inside the lock;
- lots follow every movement of a member's available account.

The caller owns the transaction: nothing here commits.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

import orjson
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import IdempotencyConflict, InsufficientPoints, InvalidRequest
from app.ledger import locks, lots
from app.ledger.models import (
    SYSTEM_OWNER,
    Account,
    AccountKind,
    LedgerTransaction,
    Posting,
    TxKind,
)
from app.members.models import Member
from app.orm import table_of, utcnow

# Transactions whose member postings count toward a member's lifetime earned points.
_LIFETIME_KINDS = frozenset({TxKind.EARN, TxKind.REVERSE})


@dataclass(frozen=True, slots=True)
class Leg:
    owner: str  # a customer id, or SYSTEM_OWNER for the shop's system accounts
    kind: str
    amount: int  # positive raises the account's balance


@dataclass(frozen=True, slots=True)
class Entry:
    key: str
    kind: str
    owner: str
    legs: tuple[Leg, ...]
    reason: str
    source_type: str
    source_id: str | None = None
    order_id: str | None = None
    rule: str | None = None
    # Refuse (InsufficientPoints) if a leg would take the member's available balance below zero.
    no_overdraft: bool = False
    # Clawbacks where the shop forbids debt: take no more than the available balance, and
    # record the rest as uncollected.
    cap_at_available: bool = False
    expires_at: datetime | None = None  # of the lot a credit to available points creates
    only_lot_id: int | None = None  # an expiry takes from its own lot only
    corrects_id: int | None = None


@dataclass(frozen=True, slots=True)
class Posted:
    transaction_id: int
    created: bool  # False: the key had been posted already, nothing was written
    points: int  # net effect on the member
    uncollected: int = 0
    balances: dict[str, int] = field(default_factory=dict)  # member account kind → balance


def _fingerprint(entry: Entry) -> str:
    legs = sorted((leg.owner, leg.kind, leg.amount) for leg in entry.legs if leg.amount)
    body = [
        entry.kind,
        entry.owner,
        legs,
        entry.source_type,
        entry.source_id,
        entry.order_id,
        entry.only_lot_id,
    ]
    return hashlib.sha256(orjson.dumps(body)).hexdigest()


def _merge(legs: tuple[Leg, ...]) -> dict[tuple[str, str], int]:
    merged: dict[tuple[str, str], int] = defaultdict(int)
    for leg in legs:
        merged[(leg.owner, leg.kind)] += leg.amount
    return {k: v for k, v in merged.items() if v}


async def _existing(session: AsyncSession, shop_id: int, entry: Entry) -> Posted | None:
    row = (
        await session.execute(
            select(
                LedgerTransaction.id,
                LedgerTransaction.fingerprint,
                LedgerTransaction.points,
                LedgerTransaction.uncollected,
            ).where(
                LedgerTransaction.shop_id == shop_id,
                LedgerTransaction.idempotency_key == entry.key,
            )
        )
    ).first()
    if row is None:
        return None
    if row.fingerprint != _fingerprint(entry):
        raise IdempotencyConflict(
            f"idempotency key {entry.key!r} was already used for a different operation"
        )
    return Posted(row.id, created=False, points=row.points, uncollected=row.uncollected)


async def post(session: AsyncSession, shop_id: int, entry: Entry) -> Posted:
    amounts = _merge(entry.legs)
    if sum(amounts.values()) != 0:
        raise ValueError(f"postings of {entry.key!r} do not sum to zero: {amounts}")
    for owner, _ in amounts:
        if owner not in (SYSTEM_OWNER, entry.owner):
            raise ValueError(f"{entry.key!r} posts to member {owner}, not its owner {entry.owner}")

    # The member's accounts are locked first (always, even for a no-op), so that two requests
    # with the same key serialise and the second finds the first one's transaction.
    member_keys = [(entry.owner, k) for k in AccountKind.MEMBER]
    locked = await locks.lock_accounts(session, shop_id, [*member_keys, *amounts])
    if (found := await _existing(session, shop_id, entry)) is not None:
        return found

    available = locked[(entry.owner, AccountKind.AVAILABLE)]
    uncollected = 0
    take = amounts.get((entry.owner, AccountKind.AVAILABLE), 0)
    if take < 0 and entry.no_overdraft and available.balance + take < 0:
        raise InsufficientPoints(
            f"member {entry.owner} has {available.balance} points available, {-take} needed"
        )
    if take < 0 and entry.cap_at_available and available.balance + take < 0:
        collectible = max(available.balance, 0)
        uncollected = -take - collectible
        # The system side receives only what was actually taken back.
        amounts[(entry.owner, AccountKind.AVAILABLE)] = -collectible
        system = next(k for k in amounts if k[0] == SYSTEM_OWNER)
        amounts[system] -= uncollected
        amounts = {k: v for k, v in amounts.items() if v}

    member_points = sum(v for (o, _), v in amounts.items() if o == entry.owner)
    tx_id = await session.scalar(
        insert(LedgerTransaction)
        .values(
            shop_id=shop_id,
            idempotency_key=entry.key,
            fingerprint=_fingerprint(entry),
            kind=entry.kind,
            owner=entry.owner,
            points=member_points,
            uncollected=uncollected,
            source_type=entry.source_type,
            source_id=entry.source_id,
            order_id=entry.order_id,
            rule=entry.rule,
            reason=entry.reason,
            corrects_id=entry.corrects_id,
            created_at=utcnow(),
        )
        .returning(LedgerTransaction.id)
    )
    assert tx_id is not None
    if amounts:
        await session.execute(
            insert(table_of(Posting)),
            [
                {
                    "shop_id": shop_id,
                    "transaction_id": tx_id,
                    "account_id": locked[k].id,
                    "amount": v,
                }
                for k, v in amounts.items()
            ],
        )
        accounts = table_of(Account)
        await session.execute(
            update(accounts)
            .where(accounts.c.id == bindparam("account_id"))
            .values(balance=accounts.c.balance + bindparam("delta")),
            [{"account_id": locked[k].id, "delta": v} for k, v in amounts.items()],
        )

    delta = amounts.get((entry.owner, AccountKind.AVAILABLE), 0)
    if delta > 0:
        await lots.credit(
            session, shop_id, entry.owner, tx_id, delta, available.balance, entry.expires_at
        )
    elif delta < 0:
        await lots.debit(
            session, shop_id, entry.owner, tx_id, -delta, available.balance, entry.only_lot_id
        )
    for k, v in amounts.items():
        locked[k].balance += v

    if entry.kind in _LIFETIME_KINDS and member_points:
        await session.execute(
            update(Member)
            .where(Member.shop_id == shop_id, Member.customer_id == entry.owner)
            .values(lifetime_earned=Member.lifetime_earned + member_points)
        )
    return Posted(
        tx_id,
        created=True,
        points=member_points,
        uncollected=uncollected,
        balances={k: locked[(entry.owner, k)].balance for k in AccountKind.MEMBER},
    )


def _positive(points: int) -> None:
    if points <= 0:
        raise InvalidRequest("points must be a positive whole number")


async def adjust(
    session: AsyncSession, shop_id: int, owner: str, points: int, *, key: str, reason: str
) -> Posted:
    """A store owner's manual correction; a negative one may not overdraw the member."""
    if points == 0:
        raise InvalidRequest("an adjustment of 0 points changes nothing")
    if not reason.strip():
        raise InvalidRequest("an adjustment needs a reason")
    return await post(
        session,
        shop_id,
        Entry(
            key=key,
            kind=TxKind.ADJUST,
            owner=owner,
            legs=(
                Leg(owner, AccountKind.AVAILABLE, points),
                Leg(SYSTEM_OWNER, AccountKind.ADJUSTED, -points),
            ),
            reason=reason.strip(),
            source_type="manual",
            no_overdraft=points < 0,
        ),
    )


async def redeem(
    session: AsyncSession,
    shop_id: int,
    owner: str,
    points: int,
    *,
    key: str,
    reason: str,
    source_id: str | None = None,
) -> Posted:
    """Spend available points (for a reward); never below zero."""
    _positive(points)
    return await post(
        session,
        shop_id,
        Entry(
            key=key,
            kind=TxKind.REDEEM,
            owner=owner,
            legs=(
                Leg(owner, AccountKind.AVAILABLE, -points),
                Leg(SYSTEM_OWNER, AccountKind.REDEEMED, points),
            ),
            reason=reason,
            source_type="redemption",
            source_id=source_id,
            no_overdraft=True,
        ),
    )


async def expire_lot(
    session: AsyncSession, shop_id: int, owner: str, lot_id: int, points: int, expires_at: datetime
) -> Posted:
    _positive(points)
    return await post(
        session,
        shop_id,
        Entry(
            key=f"lot:{lot_id}:expire",
            kind=TxKind.EXPIRE,
            owner=owner,
            legs=(
                Leg(owner, AccountKind.AVAILABLE, -points),
                Leg(SYSTEM_OWNER, AccountKind.EXPIRED, points),
            ),
            reason=f"{points} points expired on {expires_at.date().isoformat()}",
            source_type="lot",
            source_id=str(lot_id),
            only_lot_id=lot_id,
        ),
    )
