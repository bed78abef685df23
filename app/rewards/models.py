from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.orm import Base, IdType, UTCDateTime, utcnow


class RewardKind:
    AMOUNT_OFF = "amount_off"
    PERCENT_OFF = "percent_off"
    FREE_SHIPPING = "free_shipping"
    FREE_PRODUCT = "free_product"
    POINTS_TO_MONEY = "points_to_money"
    ALL = (AMOUNT_OFF, PERCENT_OFF, FREE_SHIPPING, FREE_PRODUCT, POINTS_TO_MONEY)


class RedemptionStatus:
    PENDING = "pending"  # points held, the code not yet confirmed by the store
    ISSUED = "issued"  # the code exists on the store, the points are spent
    USED = "used"  # an order used the code
    FAILED = "failed"  # the store refused or never answered: the points were given back
    EXPIRED = "expired"  # the code ran out unused
    CANCELLED = "cancelled"
    ALL = (PENDING, ISSUED, USED, FAILED, EXPIRED, CANCELLED)


class Reward(Base):
    """What a member can spend points on. Never deleted once redeemed (redemptions refer to
    it); deactivated instead."""

    __tablename__ = "rewards"
    __table_args__ = (
        CheckConstraint("points_cost >= 1", name="points_cost_positive"),
        Index("ix_rewards_shop_id", "shop_id", "id"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(32))
    points_cost: Mapped[int] = mapped_column(BigInteger)
    value: Mapped[int | None] = mapped_column(BigInteger)
    min_order_minor: Mapped[int | None] = mapped_column(BigInteger)
    product_id: Mapped[str | None] = mapped_column(String(64))
    code_valid_days: Mapped[int | None] = mapped_column(Integer)
    min_points: Mapped[int | None] = mapped_column(BigInteger)
    max_points: Mapped[int | None] = mapped_column(BigInteger)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Redemption(Base):
    """A member's spend of points on a reward: points held when it is asked for, spent once
    the store has the code, given back if the store never does.

    ``code`` is derived from the redemption (see :func:`app.rewards.codes.code_for`) and stored
    when the redemption is created, so that every attempt of the job asks the store for the
    same code first and never makes a second one."""

    __tablename__ = "redemptions"
    __table_args__ = (
        UniqueConstraint("shop_id", "customer_id", "idempotency_key"),
        UniqueConstraint("shop_id", "code"),
        CheckConstraint("points >= 0", name="points_not_negative"),
        Index("ix_redemptions_member", "shop_id", "customer_id", "id"),
        Index("ix_redemptions_status", "shop_id", "status", "expires_at"),
        Index("ix_redemptions_order", "shop_id", "order_id"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    customer_id: Mapped[str] = mapped_column(String(64))
    reward_id: Mapped[int] = mapped_column(ForeignKey("rewards.id"))
    idempotency_key: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=RedemptionStatus.PENDING)
    points: Mapped[int] = mapped_column(BigInteger)
    # What the code takes off: minor units (amount_off, points_to_money) or a percentage.
    value: Mapped[int | None] = mapped_column(BigInteger)
    code: Mapped[str | None] = mapped_column(String(64))
    store_id: Mapped[str | None] = mapped_column(String(255))  # the store's id of the code
    hold_id: Mapped[int | None] = mapped_column(ForeignKey("holds.id"))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failure: Mapped[str | None] = mapped_column(Text)
    order_id: Mapped[str | None] = mapped_column(String(64))  # the order that used the code
    # Spent points given back since (a refund of that order, an expired code).
    points_returned: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
