from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.orm import Base, IdType, UTCDateTime, utcnow


class SegmentDefinition(Base):
    """A shop's own segment: its key, labels and the conditions a member meets to be in it
    (``app/segments/rules.py`` validates and evaluates them)."""

    __tablename__ = "segment_definitions"
    __table_args__ = (UniqueConstraint("shop_id", "key"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(32))
    names: Mapped[dict[str, Any]] = mapped_column(JSON)
    conditions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SegmentSpan(Base):
    """A member's time in a segment (an RFM segment or a shop's own): from the refresh that put
    them in to the one that took them out (``left_at`` NULL: in it now). Spans are never
    deleted, so "in the segment at time T" has one answer however late it is asked."""

    __tablename__ = "segment_spans"
    __table_args__ = (
        UniqueConstraint("shop_id", "segment_key", "customer_id", "entered_at"),
        # Judging: one member's spans around the time an order was paid.
        Index("ix_segment_spans_member", "shop_id", "customer_id", "entered_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    segment_key: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[str] = mapped_column(String(64))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MemberRfm(Base):
    """A member's RFM figures and scores as the last refresh computed them (``rfm.py``)."""

    __tablename__ = "member_rfm"
    __table_args__ = (UniqueConstraint("shop_id", "customer_id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    customer_id: Mapped[str] = mapped_column(String(64))
    recency_days: Mapped[int] = mapped_column(Integer)
    frequency: Mapped[int] = mapped_column(Integer)
    monetary_minor: Mapped[int] = mapped_column(BigInteger)
    r: Mapped[int] = mapped_column(Integer)
    f: Mapped[int] = mapped_column(Integer)
    m: Mapped[int] = mapped_column(Integer)
    segment: Mapped[str | None] = mapped_column(String(32))
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SegmentRefresh(Base):
    """When the shop's segments were last refreshed (the daily task reads it)."""

    __tablename__ = "segment_refreshes"

    shop_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True
    )
    refreshed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    members: Mapped[int] = mapped_column(Integer, default=0)
