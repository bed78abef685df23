"""Posting to the ledger. :func:`post` is the only code that writes postings, so the invariants
live in one place:

- the postings of a transaction sum to zero (checked before anything is written);
- an idempotency key is posted once per shop: the same key with the same content returns the
  first result, with other content raises :class:`IdempotencyConflict`;
- account balances move in the same transaction as their postings, under the accounts' locks;
- a debit marked ``no_overdraft`` is checked against the balance inside the lock;
- lots follow every movement of a member's available account;
- no leg and no balance leaves the signed 64-bit range (:mod:`app.ledger.bounds`).

The caller owns the transaction: nothing here commits.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

import orjson
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import IdempotencyConflict, InsufficientPoints, InvalidRequest
from app.ledger import bounds, locks, lots
from app.ledger.models import (
    SYSTEM_OWNER,
    Account,
    AccountKind,
    LedgerMember,
    LedgerTransaction,
    Posting,
    TxKind,
)
from app.orm import table_of, utcnow

# session.info key: the kinds of the transactions posted in the session's transaction.
POSTED_KINDS = "ledger_posted_kinds"

# session.info key: per shop, the members whose balances moved in the session's transaction.
MEMBERS_MOVED = "ledger_members_moved"
# Told, inside the transaction and right before it commits, which members' balances it moved
# (shop by shop): the store's copy of a balance is kept up to date from there (app.sync),
# without the ledger knowing of jobs or stores.
BalancesMoved = Callable[[AsyncSession, int, list[str]], Awaitable[None]]
_OBSERVERS: list[BalancesMoved] = []


def observe_balances(observer: BalancesMoved) -> None:
    """Have ``observer`` told of every transaction's moved balances (once per observer)."""
    if observer not in _OBSERVERS:
        _OBSERVERS.append(observer)


def _note_moved(session: AsyncSession, shop_id: int, owners: set[str]) -> None:
    if not owners or not _OBSERVERS:
        return
    moved: dict[int, set[str]] | None = session.info.get(MEMBERS_MOVED)
    if moved is None:
        moved = session.info[MEMBERS_MOVED] = {}
        hooks: list[object] = session.info.setdefault("before_commit", [])
        hooks.append(_tell_observers)
    moved.setdefault(shop_id, set()).update(owners)


async def _tell_observers(session: AsyncSession) -> None:
    moved: dict[int, set[str]] = session.info.pop(MEMBERS_MOVED, {})
    for shop_id, owners in sorted(moved.items()):
        for observer in _OBSERVERS:
            await observer(session, shop_id, sorted(owners))


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
    # Recorded, moves no points: a negative value counts points that an earlier capped
    # clawback wrote off as the order's own again (the order earns again; see reconcile).
    uncollected: int = 0
    only_lot_id: int | None = None  # an expiry takes from its own lot only
    corrects_id: int | None = None
    # A void gives points back as the lots they were taken from: (expiry, points) each, in
    # place of one new lot expiring at ``expires_at``. They sum to the credit of available.
    restores: tuple[lots.Piece, ...] = ()


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
        entry.uncollected,
    ]
    return hashlib.sha256(orjson.dumps(body)).hexdigest()


def _merge(legs: tuple[Leg, ...]) -> dict[tuple[str, str], int]:
    merged: dict[tuple[str, str], int] = defaultdict(int)
    for leg in legs:
        merged[(leg.owner, leg.kind)] += leg.amount
    return {k: v for k, v in merged.items() if v}


async def _existing(
    session: AsyncSession, shop_id: int, keys: list[str]
) -> dict[str, tuple[int, str, int, int]]:
    """Transactions already posted under any of ``keys``: id, fingerprint, points, uncollected."""
    found: dict[str, tuple[int, str, int, int]] = {}
    tx = LedgerTransaction
    for start in range(0, len(keys), 500):
        rows = await session.execute(
            select(tx.idempotency_key, tx.id, tx.fingerprint, tx.points, tx.uncollected).where(
                tx.shop_id == shop_id, tx.idempotency_key.in_(keys[start : start + 500])
            )
        )
        for key, tx_id, fingerprint, points, uncollected in rows:
            found[key] = (tx_id, fingerprint, points, uncollected)
    return found


def _conflict(key: str) -> IdempotencyConflict:
    return IdempotencyConflict(
        f"idempotency key {key!r} was already used for a different operation"
    )


async def post(session: AsyncSession, shop_id: int, entry: Entry) -> Posted:
    return (await post_many(session, shop_id, [entry]))[0]


async def post_many(session: AsyncSession, shop_id: int, entries: list[Entry]) -> list[Posted]:
    """Post entries in order, as one unit: every check is made against the balances the entries
    before it leave, and nothing is written unless all of them pass. A few bulk statements
    write the whole list, however long."""
    if not entries:
        return []
    merged = [_merge(entry.legs) for entry in entries]
    for entry, amounts in zip(entries, merged, strict=True):
        for leg in entry.legs:
            bounds.check(leg.amount, f"a leg of {entry.key!r}")
        for (owner, kind), amount in amounts.items():
            bounds.check(amount, f"the posting of {entry.key!r} to {owner or 'system'} {kind}")
        if sum(amounts.values()) != 0:
            raise ValueError(f"postings of {entry.key!r} do not sum to zero: {amounts}")
        for owner, _ in amounts:
            if owner not in (SYSTEM_OWNER, entry.owner):
                raise ValueError(
                    f"{entry.key!r} posts to member {owner}, not its owner {entry.owner}"
                )

    # Members' accounts are locked first, always (even for a no-op), so that two requests with
    # the same key serialise and the second finds the first one's transaction.
    wanted = {(e.owner, k) for e in entries for k in AccountKind.MEMBER}
    wanted.update(k for amounts in merged for k in amounts if k[0] != SYSTEM_OWNER)
    locked = await locks.lock_accounts(session, shop_id, wanted)
    system = await locks.system_accounts(
        session,
        shop_id,
        {kind for amounts in merged for owner, kind in amounts if owner == SYSTEM_OWNER},
    )
    stored = await _existing(session, shop_id, sorted({e.key for e in entries}))

    # Work on copies: a refusal half-way leaves the locked balances as they were.
    balances = {k: a.balance for k, a in locked.items()}
    book = lots.LotBook(shop_id)
    debtors = {
        e.owner
        for e, amounts in zip(entries, merged, strict=True)
        if amounts.get((e.owner, AccountKind.AVAILABLE), 0) < 0
    }
    await book.load(session, debtors)

    slots: list[_Slot] = []
    rows: list[dict[str, object]] = []
    postings: list[tuple[int, tuple[str, str], int]] = []
    lifetime: dict[str, int] = defaultdict(int)
    seen: dict[str, tuple[str, _Slot]] = {}  # key posted earlier in this list
    now = utcnow()
    for entry, amounts in zip(entries, merged, strict=True):
        fingerprint = _fingerprint(entry)
        if entry.key in stored:
            tx_id, stored_fp, points, uncollected = stored[entry.key]
            if stored_fp != fingerprint:
                raise _conflict(entry.key)
            slots.append(_Slot(None, Posted(tx_id, False, points, uncollected)))
            continue
        if entry.key in seen:
            first_fp, first = seen[entry.key]
            if first_fp != fingerprint:
                raise _conflict(entry.key)
            slots.append(_Slot(first.row, replace(first.posted, created=False)))
            continue

        available_key = (entry.owner, AccountKind.AVAILABLE)
        available = balances[available_key]
        uncollected = entry.uncollected
        take = amounts.get(available_key, 0)
        if take < 0 and entry.no_overdraft and available + take < 0:
            raise InsufficientPoints(
                f"member {entry.owner} has {available} points available, {-take} needed"
            )
        if take < 0 and entry.cap_at_available and available + take < 0:
            collectible = max(available, 0)
            uncollected += -take - collectible
            # The system side receives only what was actually taken back.
            amounts = dict(amounts)
            amounts[available_key] = -collectible
            system_side = next(k for k in amounts if k[0] == SYSTEM_OWNER)
            amounts[system_side] -= uncollected
            amounts = {k: v for k, v in amounts.items() if v}

        row = len(rows)
        member_points = sum(v for (o, _), v in amounts.items() if o == entry.owner)
        rows.append(
            {
                "shop_id": shop_id,
                "idempotency_key": entry.key,
                "fingerprint": fingerprint,
                "kind": entry.kind,
                "owner": entry.owner,
                "points": member_points,
                "uncollected": uncollected,
                "source_type": entry.source_type,
                "source_id": entry.source_id,
                "order_id": entry.order_id,
                "rule": entry.rule,
                "reason": entry.reason,
                "corrects_id": entry.corrects_id,
                "created_at": now,
            }
        )
        for k, v in amounts.items():
            if k[0] != SYSTEM_OWNER:
                bounds.check(balances[k] + v, f"the {k[1]} balance of member {k[0]}")
        delta = amounts.get(available_key, 0)
        if delta > 0:
            pieces = entry.restores or ((entry.expires_at, delta),)
            if sum(points for _, points in pieces) != delta:
                raise ValueError(f"lots restored by {entry.key!r} do not sum to {delta}")
            book.credit(entry.owner, row, pieces, available)
        elif delta < 0:
            book.debit(entry.owner, row, -delta, available, entry.only_lot_id)
        for k, v in amounts.items():
            if k[0] != SYSTEM_OWNER:
                balances[k] += v
            postings.append((row, k, v))
        if entry.kind in _LIFETIME_KINDS and member_points:
            lifetime[entry.owner] += member_points
            bounds.check(lifetime[entry.owner], f"the lifetime change of member {entry.owner}")
        slot = _Slot(
            row,
            Posted(
                -1,  # known once the row is inserted
                created=True,
                points=member_points,
                uncollected=uncollected,
                balances={k: balances[(entry.owner, k)] for k in AccountKind.MEMBER},
            ),
        )
        seen[entry.key] = (fingerprint, slot)
        slots.append(slot)

    account_ids = {k: a.id for k, a in locked.items()}
    account_ids.update(((SYSTEM_OWNER, kind), i) for kind, i in system.items())
    tx_ids = await _write(session, shop_id, rows, postings, account_ids, balances, lifetime)
    await book.flush(session, tx_ids)
    # What this transaction posted, by kind, for whoever counts commits (app.metrics).
    posted: Counter[str] = session.info.setdefault(POSTED_KINDS, Counter())
    posted.update(str(row["kind"]) for row in rows)
    for key, account in locked.items():
        account.balance = balances[key]
    _note_moved(session, shop_id, {k[0] for _, k, _ in postings if k[0] != SYSTEM_OWNER})
    return [
        slot.posted if slot.row is None else replace(slot.posted, transaction_id=tx_ids[slot.row])
        for slot in slots
    ]


@dataclass(frozen=True, slots=True)
class _Slot:
    row: int | None  # the new transaction row this result reports, once its id is known
    posted: Posted


async def _write(
    session: AsyncSession,
    shop_id: int,
    rows: list[dict[str, object]],
    postings: list[tuple[int, tuple[str, str], int]],
    account_ids: dict[tuple[str, str], int],
    balances: dict[tuple[str, str], int],
    lifetime: dict[str, int],
) -> list[int]:
    if not rows:
        return []
    txs = table_of(LedgerTransaction)
    result = await session.execute(
        insert(txs).returning(txs.c.id, sort_by_parameter_order=True), rows
    )
    tx_ids = list(result.scalars())
    if postings:
        await session.execute(
            insert(table_of(Posting)),
            [
                {"shop_id": shop_id, "transaction_id": tx_ids[row], "account_id": account_ids[k],
                 "amount": amount}
                for row, k, amount in postings
            ],
        )  # fmt: skip
        accounts = table_of(Account)
        # Member accounts are locked, so their final balance is written as it is.
        members_moved = sorted({k for _, k, _ in postings if k[0] != SYSTEM_OWNER})
        if members_moved:
            await session.execute(
                update(accounts)
                .where(accounts.c.id == bindparam("account_id"))
                .values(balance=bindparam("new_balance")),
                [{"account_id": account_ids[k], "new_balance": balances[k]} for k in members_moved],
            )
        for _, k, amount in postings:
            if k[0] == SYSTEM_OWNER:
                locks.add_system_delta(session, account_ids[k], amount)
    if lifetime:
        members = table_of(LedgerMember)
        await bounds.add_deltas(
            session,
            update(members)
            .where(members.c.shop_id == shop_id, members.c.owner == bindparam("member"))
            .values(lifetime_earned=bounds.add_in_range(members.c.lifetime_earned)),
            [{"member": o, **bounds.delta_params(d)} for o, d in sorted(lifetime.items())],
            "a member's lifetime earned points",
        )
    return tx_ids


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
