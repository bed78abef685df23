"""Queue mechanics shared by every table that is worked through as a queue: the jobs table and
the stored webhook events.

A :class:`Queue` names a table's columns; the functions here claim its due rows (``FOR UPDATE
SKIP LOCKED`` on PostgreSQL, so any number of runners share it; on SQLite every claim runs in
the process's single write transaction, ``BEGIN IMMEDIATE``, which another process cannot enter
at the same time), record a failed attempt (capped exponential backoff with jitter, parked as
``failed`` after ``max_attempts``) and queue rows again (replay). Rows of a shop outside the
queue's ``shop_statuses`` are never claimed: they wait, as they are, burning no attempts (a
paused shop's stored events are still processed, its jobs, which call the store, wait).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.config import Settings
from app.shops.models import Shop, ShopStatus

ACTIVE = ShopStatus.ACTIVE
ERROR_LIMIT = 2000


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """When a failed row is tried again: ``base · 2^(attempts−1)`` seconds, at most ``cap``,
    less a random part of up to ``jitter`` of it (so rows that failed together spread out);
    parked after ``max_attempts``."""

    max_attempts: int
    base_seconds: float
    cap_seconds: float
    jitter: float = 0.5
    rand: Callable[[], float] = field(default=random.random, compare=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(
            max_attempts=settings.worker_max_attempts,
            base_seconds=settings.worker_backoff_base_seconds,
            cap_seconds=settings.worker_backoff_max_seconds,
            jitter=settings.worker_backoff_jitter,
        )

    def delay(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th failed attempt."""
        exponent = min(max(attempts - 1, 0), 62)  # past the cap long before; no float overflow
        ceiling = min(self.cap_seconds, self.base_seconds * 2.0**exponent)
        return timedelta(seconds=ceiling * (1.0 - self.jitter * self.rand()))

    def parks(self, attempts: int) -> bool:
        return attempts >= self.max_attempts


@dataclass(frozen=True, slots=True)
class Queue:
    """The columns a table keeps its queue state in."""

    id: InstrumentedAttribute[int]
    shop_id: InstrumentedAttribute[int]
    status: InstrumentedAttribute[str]
    attempts: InstrumentedAttribute[int]
    due: InstrumentedAttribute[Any]  # not before (NULL: at once)
    last_error: InstrumentedAttribute[str | None]
    # Rows waiting for a turn, written as the table's partial index is (see its model).
    waiting: ColumnElement[bool]
    order_by: tuple[InstrumentedAttribute[Any], ...]
    pending: str = "pending"
    failed: str = "failed"
    # The statuses of the shops whose rows are claimed; the others' rows wait.
    shop_statuses: tuple[str, ...] = ShopStatus.RECEIVING


def active_shop(queue: Queue) -> ColumnElement[bool]:
    """The row's shop is one whose rows this queue works on (a disabled shop's rows wait; so
    do a paused shop's jobs)."""
    return queue.shop_id.in_(select(Shop.id).where(Shop.status.in_(queue.shop_statuses)))


def claimable(queue: Queue, now: datetime) -> ColumnElement[bool]:
    return and_(queue.waiting, or_(queue.due.is_(None), queue.due <= now), active_shop(queue))


def claim(
    queue: Queue, columns: Sequence[Any], now: datetime, limit: int, *where: ColumnElement[bool]
) -> Select[Any]:
    """The due rows of active shops, oldest first, locked for this transaction; rows another
    transaction holds are skipped, not waited for."""
    return (
        select(*columns)
        .where(claimable(queue, now), *where)
        .order_by(*queue.order_by)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


async def record_failure(
    session: AsyncSession,
    queue: Queue,
    row_id: int,
    attempts: int,
    error: str,
    policy: RetryPolicy,
    now: datetime,
    *still_ours: ColumnElement[bool],
    not_before: datetime | None = None,
) -> bool:
    """Record the ``attempts``-th failed attempt of a row: due again after the backoff (and
    not before ``not_before``), or parked. ``still_ours`` guards against a row another runner
    has settled since. Returns whether it was parked."""
    parked = policy.parks(attempts)
    due = now + policy.delay(attempts)
    if not_before is not None:
        due = max(due, not_before)
    await session.execute(
        update(queue.id.class_)
        .where(queue.id == row_id, *still_ours)
        .values(
            {
                queue.attempts: attempts,
                queue.status: queue.failed if parked else queue.pending,
                queue.due: due,
                queue.last_error: error[:ERROR_LIMIT],
            }
        )
    )
    return parked


async def requeue(
    session: AsyncSession,
    queue: Queue,
    due: datetime | None,
    where: Sequence[ColumnElement[bool]],
    also: Mapping[InstrumentedAttribute[Any], Any] | None = None,
) -> int:
    """Queue the chosen rows again, with a fresh count of attempts; returns how many."""
    result = await session.execute(
        update(queue.id.class_)
        .where(*where)
        .values({queue.status: queue.pending, queue.due: due, queue.attempts: 0, **(also or {})})
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
