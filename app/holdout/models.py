from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.orm import Base, IdType, UTCDateTime, utcnow


class Cohort:
    """Where a customer was placed when the holdout first saw them."""

    HOLDOUT = "holdout"  # hashed into the holdout: not enrolled, not shown the club
    MEMBER = "member"  # hashed into the club: the lift report's members
    # Had points already when first seen (a member before the holdout was on, or before the
    # share grew): stays in the club and is left out of the comparison (not chosen by chance).
    ENROLLED = "enrolled"
    COMPARED = (HOLDOUT, MEMBER)


class HoldoutSettings(Base):
    """One row per shop that ever turned the holdout on; no row, or a share of 0, is off."""

    __tablename__ = "holdout_settings"
    __table_args__ = (UniqueConstraint("shop_id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    # Basis points of new customers held out: 0 (off) to 5000 (50 %).
    share_bp: Mapped[int] = mapped_column(Integer, default=0)
    # Hashed with the customer id, so that two shops hold out different customers.
    salt: Mapped[str] = mapped_column(String(64))
    # When the share was first above 0: the lift report's default start.
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class HoldoutAssignment(Base):
    """A customer's cohort, decided once, the first time the holdout saw them (an order, an
    award, while its share was above 0), so that later changes of the share never move a
    member out of the club; a holdout customer is released (``released_at``) when the share
    shrinks below their bucket, and earns from then on."""

    __tablename__ = "holdout_assignments"
    __table_args__ = (
        UniqueConstraint("shop_id", "customer_id"),
        Index("ix_holdout_assignments_cohort", "shop_id", "cohort"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    customer_id: Mapped[str] = mapped_column(String(64))
    bucket: Mapped[int] = mapped_column(Integer)  # 0..9999, of the salt in force then
    cohort: Mapped[str] = mapped_column(String(16))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
