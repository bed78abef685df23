from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.orm import Base, IdType, UTCDateTime, utcnow


class ReferralStatus:
    PENDING = "pending"  # attributed, waiting for the order's hold period to end
    REVIEW = "review"  # a fraud check found something: the store owner decides
    REWARDED = "rewarded"  # both sides paid as the rule says
    REJECTED = "rejected"  # not a referral (a check that is a fact, or the owner's decision)
    VOID = "void"  # the order was refunded, cancelled or deleted before it was past the hold
    ALL = (PENDING, REVIEW, REWARDED, REJECTED, VOID)
    OPEN = (PENDING, REVIEW)
    # Referrals that count toward an advocate's daily limit.
    COUNTED = (PENDING, REVIEW, REWARDED)


class ReferralCode(Base):
    """A member's referral code, derived from the shop and the customer under the app's secret
    key (service.code_for) and stored the first time it is shown, so an order's code is found
    by one indexed lookup."""

    __tablename__ = "referral_codes"
    __table_args__ = (
        UniqueConstraint("shop_id", "customer_id"),
        UniqueConstraint("shop_id", "code"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    customer_id: Mapped[str] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(32))  # upper case
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Referral(Base):
    """One friend referred by one advocate: a friend is referred once, by their first paid
    order."""

    __tablename__ = "referrals"
    __table_args__ = (
        UniqueConstraint("shop_id", "friend_id"),
        Index("ix_referrals_status", "shop_id", "status", "release_at"),
        Index("ix_referrals_advocate", "shop_id", "advocate_id", "paid_at"),
        Index("ix_referrals_order", "shop_id", "order_id"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    advocate_id: Mapped[str] = mapped_column(String(64))
    friend_id: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[str] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(32))
    # How the order named the code: "discount_code" or "attribute".
    via: Mapped[str] = mapped_column(String(16))
    # The rule and the program version in force when the order was paid: what is paid out.
    rule: Mapped[str] = mapped_column(String(32))
    program_version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    # What the fraud checks found (machine-readable: "same_email", "velocity", …).
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Why it was rejected or voided, in a sentence (the owner's reason on a rejection).
    note: Mapped[str | None] = mapped_column(Text)
    # The owner approved it after review: the checks are not made again at payout.
    approved: Mapped[bool] = mapped_column(Boolean, default=False)
    paid_at: Mapped[datetime] = mapped_column(UTCDateTime)
    release_at: Mapped[datetime] = mapped_column(UTCDateTime)
    rewarded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A reward grant that could not be made (the reward deactivated, say); the points were paid.
    failure: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
