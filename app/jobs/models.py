from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    column,
    literal_column,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.expression import ColumnClause

from app.orm import Base, IdType, UTCDateTime, utcnow


class JobStatus:
    PENDING = "pending"  # waiting for its turn (``run_after``): new, or after a failed attempt
    RUNNING = "running"  # claimed by a runner until ``run_after`` (its lease)
    DONE = "done"
    FAILED = "failed"  # failed every attempt; parked for `vafa jobs retry`
    ALL = (PENDING, RUNNING, DONE, FAILED)


# The jobs a runner may claim: pending ones, and running ones whose lease ran out (the runner
# holding them died). Literals, not bound parameters, so that a prepared claim matches the
# partial index below (as for webhook events); queries use ``Job.status.in_(WAITING_LITERALS)``.
WAITING_LITERALS: tuple[ColumnClause[str], ...] = (
    literal_column("'pending'"),
    literal_column("'running'"),
)
WAITING = column("status").in_(WAITING_LITERALS)


class Job(Base):
    """One piece of work for a shop, done outside the transaction that asked for it.

    A job with a ``dedupe_key`` is the one job of its kind for that key: enqueueing the key
    again updates it (see :func:`app.jobs.service.enqueue`). ``revision`` counts those updates,
    so a runner finishing a job knows whether it ran the latest payload."""

    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("shop_id", "kind", "dedupe_key"),
        Index(
            "ix_jobs_waiting",
            "run_after",
            "id",
            postgresql_where=WAITING,
            sqlite_where=WAITING,
        ),
        Index("ix_jobs_shop_status", "shop_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(64))
    dedupe_key: Mapped[str | None] = mapped_column(String(255))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    # Not before this time (pending), or the end of the running claim's lease (running).
    run_after: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SchedulerTick(Base):
    """The last scheduler tick that ran the periodic tasks for a shop: the runners' claim, so
    that of several `vafa worker` processes ticking in the same interval, one does the shop's
    periodic work (the others would repeat it and wait on its locks)."""

    __tablename__ = "scheduler_ticks"
    __table_args__ = (UniqueConstraint("shop_id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    # The start of the interval the tick belongs to (now rounded down to the interval).
    tick_start: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
