from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.orm import Base, IdType, UTCDateTime, utcnow


class Member(Base):
    __tablename__ = "members"
    __table_args__ = (
        UniqueConstraint("shop_id", "customer_id"),
        Index("ix_members_created", "shop_id", "created_at"),  # the rollup's days
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    customer_id: Mapped[str] = mapped_column(String(64))  # the platform's customer id
    email: Mapped[str | None] = mapped_column(String(320))
    first_name: Mapped[str | None] = mapped_column(String(255))
    last_name: Mapped[str | None] = mapped_column(String(255))
    birthday: Mapped[date | None] = mapped_column(Date)
    accepts_marketing: Mapped[bool | None] = mapped_column(Boolean)
    tier: Mapped[str | None] = mapped_column(String(64))
    # The platform's updated_at of the profile applied, so an older snapshot never wins.
    profile_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
