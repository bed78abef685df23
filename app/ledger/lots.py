"""Expiry by lot: every credit of available points is a lot; debits take from the lots that
expire first. What remains of all a member's lots always equals max(available balance, 0).

A batch of postings works on the lots in memory (:class:`LotBook`) and writes them with a few
bulk statements at the end; the members whose lots it touches are locked by then."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.ledger.models import LotMovement, PointLot
from app.orm import table_of

_NEW = 1 << 62  # lots created in this batch sort after every stored lot of the same expiry

Piece = tuple[datetime | None, int]  # points credited as one lot, with its expiry


@dataclass(slots=True)
class _Lot:
    key: int  # the stored id, or _NEW + n for a lot this batch creates
    remaining: int
    expires_at: datetime | None

    def order(self) -> tuple[bool, datetime | None, int]:
        return (self.expires_at is None, self.expires_at, self.key)


@dataclass(slots=True)
class _NewLot:
    owner: str
    tx: int  # index of the transaction row that credits it
    points: int
    remaining: int
    expires_at: datetime | None


@dataclass(slots=True)
class LotBook:
    shop_id: int
    _by_owner: dict[str, list[_Lot]] = field(default_factory=dict)
    _new: list[_NewLot] = field(default_factory=list)  # to insert; key _NEW + index
    _changed: dict[int, _Lot] = field(default_factory=dict)  # stored lots whose remaining moved
    _movements: list[tuple[int, int, int]] = field(default_factory=list)  # lot key, tx, amount

    async def load(self, session: AsyncSession, owners: set[str]) -> None:
        """Read the open lots of members the batch will debit."""
        wanted = sorted(owners - self._by_owner.keys())
        if not wanted:
            return
        for owner in wanted:
            self._by_owner[owner] = []
        rows = await session.execute(
            select(PointLot.id, PointLot.owner, PointLot.remaining, PointLot.expires_at).where(
                PointLot.shop_id == self.shop_id,
                PointLot.owner.in_(wanted),
                PointLot.remaining > 0,
            )
        )
        for lot_id, owner, remaining, expires_at in rows:
            self._by_owner[owner].append(_Lot(lot_id, remaining, expires_at))

    def credit(self, owner: str, tx: int, pieces: Sequence[Piece], balance_before: int) -> None:
        """One new lot per piece: a credit is one piece, a void gives back each lot its hold
        took, with that lot's expiry."""
        # A member in debt first pays it off (from the earliest expiry, like any debit): only
        # what exceeds the debt stays spendable.
        debt = max(-balance_before, 0)
        for expires_at, points in sorted(pieces, key=lambda p: (p[0] is None, p[0])):
            paid = min(debt, points)
            debt -= paid
            remaining = points - paid
            key = _NEW + len(self._new)
            self._new.append(_NewLot(owner, tx, points, remaining, expires_at))
            if paid:
                self._movements.append((key, tx, -paid))
            if owner in self._by_owner and remaining > 0:
                self._by_owner[owner].append(_Lot(key, remaining, expires_at))

    def debit(
        self, owner: str, tx: int, points: int, balance_before: int, only_lot: int | None
    ) -> None:
        """Take ``points`` from the owner's lots, earliest expiry first (or from one lot)."""
        need = min(points, max(balance_before, 0))  # beyond what lots hold it becomes debt
        if need <= 0:
            return
        lots = sorted(
            (lot for lot in self._by_owner[owner] if lot.remaining > 0),
            key=_Lot.order,
        )
        for lot in lots:
            if only_lot is not None and lot.key != only_lot:
                continue
            take = min(need, lot.remaining)
            lot.remaining -= take
            need -= take
            self._movements.append((lot.key, tx, -take))
            if lot.key >= _NEW:
                self._new[lot.key - _NEW].remaining = lot.remaining
            else:
                self._changed[lot.key] = lot
            if need == 0:
                return
        raise RuntimeError(
            f"ledger invariant broken: lots of member {owner} in shop {self.shop_id} hold less "
            "than the available balance; run `vafa ledger verify`"
        )

    async def flush(self, session: AsyncSession, tx_ids: list[int]) -> None:
        new_ids: list[int] = []
        if self._new:
            result = await session.execute(
                insert(table_of(PointLot)).returning(
                    table_of(PointLot).c.id, sort_by_parameter_order=True
                ),
                [
                    {
                        "shop_id": self.shop_id,
                        "owner": lot.owner,
                        "transaction_id": tx_ids[lot.tx],
                        "points": lot.points,
                        "remaining": lot.remaining,
                        "expires_at": lot.expires_at,
                    }
                    for lot in self._new
                ],
            )
            new_ids = list(result.scalars())
        if self._changed:
            lots = table_of(PointLot)
            await session.execute(
                update(lots)
                .where(lots.c.id == bindparam("lot_id"))
                .values(remaining=bindparam("left")),
                [{"lot_id": key, "left": lot.remaining} for key, lot in self._changed.items()],
            )
        if self._movements:
            await session.execute(
                insert(table_of(LotMovement)),
                [
                    {
                        "shop_id": self.shop_id,
                        "lot_id": new_ids[key - _NEW] if key >= _NEW else key,
                        "transaction_id": tx_ids[tx],
                        "amount": amount,
                    }
                    for key, tx, amount in self._movements
                ],
            )
