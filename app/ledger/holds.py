"""Two-phase spending: :func:`hold` sets points aside (available → held), then :func:`capture`
spends them (held → redeemed) or :func:`void` gives them back (held → available), to lots
carrying the expiries of the lots the hold took them from. A hold neither captured nor voided
by its deadline is voided by :func:`void_expired_holds`.

Every operation on a hold locks its member's accounts first, then reads the hold: the member's
lock serialises them, so a hold is settled once. All three are idempotent: the hold by its key,
a capture or a void by the hold (``hold:<id>:capture``, ``hold:<id>:void``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Database
from app.errors import InvalidRequest
from app.ledger import locks
from app.ledger.errors import HoldNotFound, HoldSettled
from app.ledger.lots import Piece
from app.ledger.models import (
    SYSTEM_OWNER,
    AccountKind,
    Hold,
    HoldStatus,
    LotMovement,
    PointLot,
    TxKind,
)
from app.ledger.service import Entry, Leg, post
from app.logs import log_failure
from app.orm import table_of, utcnow

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class HoldResult:
    hold_id: int
    status: str
    points: int
    created: bool  # False: nothing was written (the key was held, or the hold settled, before)
    transaction_id: int  # the hold's, or the settling capture's or void's


async def hold(
    session: AsyncSession,
    shop_id: int,
    owner: str,
    points: int,
    *,
    key: str,
    reason: str,
    deadline: datetime,
    source_type: str = "redemption",
    source_id: str | None = None,
) -> HoldResult:
    """Set ``points`` of the member's available points aside, taken from the lots that expire
    first; refused with InsufficientPoints (nothing written) if they have fewer."""
    if points <= 0:
        raise InvalidRequest("points must be a positive whole number")
    posted = await post(
        session,
        shop_id,
        Entry(
            key=key,
            kind=TxKind.HOLD,
            owner=owner,
            legs=(Leg(owner, AccountKind.AVAILABLE, -points), Leg(owner, AccountKind.HELD, points)),
            reason=reason,
            source_type=source_type,
            source_id=source_id,
            no_overdraft=True,
        ),
    )
    if posted.created:
        holds = table_of(Hold)
        hold_id = await session.scalar(
            insert(holds)
            .values(
                shop_id=shop_id,
                owner=owner,
                points=points,
                status=HoldStatus.HELD,
                deadline=deadline,
                hold_transaction_id=posted.transaction_id,
            )
            .returning(holds.c.id)
        )
        assert hold_id is not None
        return HoldResult(hold_id, HoldStatus.HELD, points, True, posted.transaction_id)
    found = await session.scalar(
        select(Hold).where(
            Hold.shop_id == shop_id, Hold.hold_transaction_id == posted.transaction_id
        )
    )
    if found is None:  # the fingerprint names the kind, so only a hold can match
        raise RuntimeError(f"hold transaction {posted.transaction_id} has no hold")
    return HoldResult(found.id, found.status, found.points, False, found.hold_transaction_id)


async def _locked(session: AsyncSession, shop_id: int, hold_id: int) -> Hold:
    """The hold, read again once its member's accounts are locked."""
    owner = await session.scalar(
        select(Hold.owner).where(Hold.shop_id == shop_id, Hold.id == hold_id)
    )
    if owner is None:
        raise HoldNotFound(f"no hold {hold_id} in this shop")
    await locks.lock_accounts(session, shop_id, [(owner, k) for k in AccountKind.MEMBER])
    found = await session.scalar(
        select(Hold)
        .where(Hold.shop_id == shop_id, Hold.id == hold_id)
        .execution_options(populate_existing=True)
    )
    assert found is not None
    return found


def _settled(found: Hold) -> HoldResult:
    assert found.settle_transaction_id is not None
    return HoldResult(found.id, found.status, found.points, False, found.settle_transaction_id)


async def capture(
    session: AsyncSession, shop_id: int, hold_id: int, *, reason: str = "points spent"
) -> HoldResult:
    """Spend the held points. Capturing a captured hold again changes nothing; a voided hold
    cannot be captured (HoldSettled)."""

    async def spend(found: Hold) -> Entry:
        return Entry(
            key=f"hold:{found.id}:capture",
            kind=TxKind.CAPTURE,
            owner=found.owner,
            legs=(
                Leg(found.owner, AccountKind.HELD, -found.points),
                Leg(SYSTEM_OWNER, AccountKind.REDEEMED, found.points),
            ),
            reason=reason,
            source_type="hold",
            source_id=str(found.id),
        )

    return await _settle(session, shop_id, hold_id, HoldStatus.CAPTURED, spend)


async def void(
    session: AsyncSession, shop_id: int, hold_id: int, *, reason: str = "hold released"
) -> HoldResult:
    """Give the held points back to the member, each with the expiry of the lot it was taken
    from (an expiry already past makes them expire at the next expiry run). Voiding a voided
    hold again changes nothing; a captured hold cannot be voided (HoldSettled)."""

    async def give_back(found: Hold) -> Entry:
        return Entry(
            key=f"hold:{found.id}:void",
            kind=TxKind.VOID,
            owner=found.owner,
            legs=(
                Leg(found.owner, AccountKind.HELD, -found.points),
                Leg(found.owner, AccountKind.AVAILABLE, found.points),
            ),
            reason=reason,
            source_type="hold",
            source_id=str(found.id),
            restores=await _taken(session, shop_id, found.hold_transaction_id),
        )

    return await _settle(session, shop_id, hold_id, HoldStatus.VOIDED, give_back)


async def _taken(session: AsyncSession, shop_id: int, transaction_id: int) -> tuple[Piece, ...]:
    """What a hold took from lots, by the lots' expiry."""
    rows = await session.execute(
        select(PointLot.expires_at, func.sum(LotMovement.amount))
        .join(PointLot, PointLot.id == LotMovement.lot_id)
        .where(LotMovement.shop_id == shop_id, LotMovement.transaction_id == transaction_id)
        .group_by(PointLot.expires_at)
    )
    return tuple((expires_at, -int(amount)) for expires_at, amount in rows)


async def _settle(
    session: AsyncSession,
    shop_id: int,
    hold_id: int,
    status: str,
    entry_for: Callable[[Hold], Awaitable[Entry]],
) -> HoldResult:
    """Move an open hold to ``status`` by posting ``entry_for(hold)``, under its member's
    lock; a hold already there is returned as it is, one settled the other way is refused."""
    found = await _locked(session, shop_id, hold_id)
    if found.status == status:
        return _settled(found)
    if found.status != HoldStatus.HELD:
        raise HoldSettled(f"hold {hold_id} was {found.status}; it cannot be {status}")
    posted = await post(session, shop_id, await entry_for(found))
    found.status = status
    found.settle_transaction_id = posted.transaction_id
    found.settled_at = utcnow()
    await session.flush()
    return HoldResult(found.id, status, found.points, posted.created, posted.transaction_id)


async def void_expired_holds(db: Database, shop_id: int, now: datetime) -> int:
    """Void the shop's holds whose deadline has passed, each in its own short transaction;
    returns how many were voided. Run periodically by the scheduler."""
    async with db.read() as session:
        due = (
            await session.scalars(
                select(Hold.id)
                .where(
                    Hold.shop_id == shop_id,
                    Hold.status == HoldStatus.HELD,
                    Hold.deadline <= now,
                )
                .order_by(Hold.id)
            )
        ).all()
    voided = 0
    for hold_id in due:
        try:
            async with db.write() as session:
                result = await void(session, shop_id, hold_id, reason="hold deadline passed")
            voided += result.created
        except HoldSettled:
            pass  # captured since it was read: nothing to give back
        except Exception as exc:
            log_failure(
                log, "voiding an expired hold failed", exc, shop_id=shop_id, hold_id=hold_id
            )
    return voided
