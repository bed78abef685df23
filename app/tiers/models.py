"""The tiers' tables. ``members.tier`` is the member's tier as everything else reads it (the
member document, the write-back); these keep what it is derived from and its history."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.orm import Base, IdType, UTCDateTime, utcnow


class MemberTier(Base):
    """A member's qualified tier and when it is next reviewed."""

    __tablename__ = "member_tiers"
    __table_args__ = (
        UniqueConstraint("shop_id", "customer_id"),
        Index("ix_member_tiers_review", "shop_id", "review_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    customer_id: Mapped[str] = mapped_column(String(64))
    # The level the member's earning or spending gives (a paid membership aside).
    qualified: Mapped[str | None] = mapped_column(String(64))
    # The periodic review looks at the member again then: the qualified tier may fall, or the
    # membership end (None: nothing to review).
    review_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TierChange(Base):
    """One change of a member's tier; never updated. ``from_tier`` None: the member's first."""

    __tablename__ = "tier_changes"
    __table_args__ = (Index("ix_tier_changes_member", "shop_id", "customer_id", "id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    customer_id: Mapped[str] = mapped_column(String(64))
    from_tier: Mapped[str | None] = mapped_column(String(64))
    to_tier: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    program_version: Mapped[int] = mapped_column(Integer)


class TierMembership(Base):
    """A paid order's membership: ``days`` of the VIP tier, from its payment or from the end of
    the member's previous membership, whichever is later (so a renewal extends)."""

    __tablename__ = "tier_memberships"
    __table_args__ = (
        UniqueConstraint("shop_id", "order_id"),
        Index("ix_tier_memberships_member", "shop_id", "customer_id"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    order_id: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[str] = mapped_column(String(64))
    tier: Mapped[str] = mapped_column(String(64))
    paid_at: Mapped[datetime] = mapped_column(UTCDateTime)
    days: Mapped[int] = mapped_column(Integer)
    # False once the order is refunded, cancelled or deleted: it gives no membership.
    active: Mapped[bool] = mapped_column(Boolean)
