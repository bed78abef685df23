from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    column,
    literal_column,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.expression import ColumnClause

from app.orm import Base, IdType, UTCDateTime, utcnow


class EventStatus:
    PENDING = "pending"  # accepted, waiting for the worker (or for a retry after next_attempt_at)
    PROCESSED = "processed"
    IGNORED = "ignored"  # a topic Vafa does not act on; kept for the record
    REJECTED = "rejected"  # signed, but the body is not what its topic promises
    FAILED = "failed"  # processing failed every attempt; parked for `vafa events replay`


# The worker's queue: the events still to process, in the order they came. A written-out
# literal, not a bound parameter, so that both databases can match it to the partial index
# below (a prepared statement with ``status = $1`` could not use it). Indexing only these rows
# keeps a claim's cost that of the batch it takes: with every event in the index, each claim
# walked past the events processed before it.
# Queries say ``WebhookEvent.status == PENDING_LITERAL`` (qualified by the table, so it stays
# unambiguous beside another table's status column); the index's predicate is the same literal.
PENDING_LITERAL: ColumnClause[str] = literal_column("'pending'")
PENDING_ONLY = column("status") == PENDING_LITERAL


class WebhookEvent(Base):
    """A raw delivery, kept forever: the source of truth that balances can be rebuilt from."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        UniqueConstraint("shop_id", "dedupe_key"),
        Index(
            "ix_webhook_events_pending",
            "id",
            postgresql_where=PENDING_ONLY,
            sqlite_where=PENDING_ONLY,
        ),
        Index("ix_webhook_events_shop_status", "shop_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    topic: Mapped[str] = mapped_column(String(128))
    dedupe_key: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default=EventStatus.PENDING)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    # The delivery headers that matter later (ids, times, API version), as JSON text.
    headers: Mapped[str] = mapped_column(Text, default="{}")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
