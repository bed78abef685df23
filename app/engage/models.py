"""The engagement tables: members' events, what each rule awarded whom (caps count these), and
the member preferences the club keeps itself (birthday given through the API, leaderboard
opt-in)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.orm import Base, IdType, UTCDateTime, utcnow


class MemberEvent(Base):
    """A non-purchase action of a member (``POST …/events``), kept once per idempotency key
    with what the program awarded for it, so that the same key again answers the same."""

    __tablename__ = "member_events"
    __table_args__ = (
        UniqueConstraint("shop_id", "customer_id", "idempotency_key"),
        Index("ix_member_events_member", "shop_id", "customer_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    customer_id: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(32))
    idempotency_key: Mapped[str] = mapped_column(String(150))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    program_version: Mapped[int] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(BigInteger, default=0)
    # What each rule did with the event (awarded, capped, outside its time frame ...).
    outcome: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RuleAward(Base):
    """One award of a rule to a member (points or a reward): a rule's caps count these rows,
    by member and by the time of what was awarded. ``key`` is the award's idempotency key
    (the ledger key for points)."""

    __tablename__ = "rule_awards"
    __table_args__ = (
        UniqueConstraint("shop_id", "key"),
        Index("ix_rule_awards_member_rule", "shop_id", "customer_id", "rule", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    customer_id: Mapped[str] = mapped_column(String(64))
    rule: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(255))
    source_type: Mapped[str] = mapped_column(String(16))  # event, signup, birthday, badge
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    program_version: Mapped[int] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(BigInteger, default=0)
    reward_id: Mapped[int | None] = mapped_column(BigInteger)
    redemption_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EngageMember(Base):
    """What the club keeps of a member beside the platform's profile: a birthday given through
    the API (the platform's customer record may have none, and a customers/update webhook
    rewrites ``members.birthday``), and the leaderboard opt-in."""

    __tablename__ = "engage_members"
    __table_args__ = (UniqueConstraint("shop_id", "customer_id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    customer_id: Mapped[str] = mapped_column(String(64))
    birthday_month: Mapped[int | None] = mapped_column(SmallInteger)
    birthday_day: Mapped[int | None] = mapped_column(SmallInteger)
    leaderboard_opt_in: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
