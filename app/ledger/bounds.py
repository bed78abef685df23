"""Points stay inside the signed 64-bit range the databases store. PostgreSQL refuses a BIGINT
past it; SQLite silently turns the result of ``balance + delta`` into a REAL, so every relative
update of a balance goes through :func:`add_in_range`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Executable, bindparam, case, null
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.ledger.errors import PointsOutOfRange

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1


def in_range(value: int) -> bool:
    return INT64_MIN <= value <= INT64_MAX


def check(value: int, what: str) -> None:
    if not in_range(value):
        raise PointsOutOfRange(f"{what} would be {value} points, beyond what a balance can hold")


def add_in_range(column: ColumnElement[int] | Any) -> ColumnElement[Any]:
    """``column + :delta``, or NULL (refused by the NOT NULL column) when the sum would leave
    the range; bind ``delta``, ``low`` and ``high`` with :func:`delta_params`."""
    return case(
        (column.between(bindparam("low"), bindparam("high")), column + bindparam("delta")),
        else_=null(),
    )


def delta_params(delta: int) -> dict[str, int]:
    # The bounds the current value must lie within, computed here so SQL never overflows.
    if delta >= 0:
        return {"delta": delta, "low": INT64_MIN, "high": INT64_MAX - delta}
    return {"delta": delta, "low": INT64_MIN - delta, "high": INT64_MAX}


async def add_deltas(
    session: AsyncSession, statement: Executable, rows: Sequence[dict[str, Any]], what: str
) -> None:
    """Run an update made with :func:`add_in_range` for ``rows``; a sum out of range (the NOT
    NULL column refusing the NULL) becomes :class:`PointsOutOfRange` naming ``what``."""
    try:
        await session.execute(statement, rows)
    except IntegrityError as exc:
        raise PointsOutOfRange(f"{what} would leave the range a balance can hold") from exc
