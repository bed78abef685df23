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
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.orm import Base, IdType, UTCDateTime, utcnow


class Order(Base):
    """The newest known state of a platform order, which the ledger is reconciled against.

    A row can exist before its order is known (``known`` false) when a refund arrives first."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("shop_id", "order_id"),
        Index("ix_orders_member_seq", "shop_id", "customer_id", "member_seq"),
        Index("ix_orders_paid", "shop_id", "paid_at"),  # the rollup's days
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    order_id: Mapped[str] = mapped_column(String(64))
    known: Mapped[bool] = mapped_column(Boolean, default=False)
    name: Mapped[str | None] = mapped_column(String(64))
    customer_id: Mapped[str | None] = mapped_column(String(64))
    currency: Mapped[str | None] = mapped_column(String(3))
    exponent: Mapped[int] = mapped_column(Integer, default=2)
    merchandise_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    shipping_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    tax_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    financial_state: Mapped[str] = mapped_column(String(16), default="pending")
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When pending points become available (paid_at + the shop's hold days).
    release_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    source_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The newest snapshot's lines and discount codes (app/program/lines.py reads them back);
    # NULL for an order stored before Vafa kept them, or not known yet.
    lines: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    discount_codes: Mapped[list[str] | None] = mapped_column(JSON)
    # What app/referrals reads: the order's ``vafa_ref`` attribute and the buyer's contact
    # details as comparison keys (hashes, app/referrals/contact.py).
    referral_code: Mapped[str | None] = mapped_column(String(255))
    contact_keys: Mapped[list[str] | None] = mapped_column(JSON)
    # Imported by `vafa shop backfill` without --award: recorded, earning nothing, so that a
    # later refund of it takes back no points it never gave.
    backfilled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Recorded when the order is first paid (app/program/judging.py), never changed after: the
    # program version in force then, the member's number of this paid order (1: the first), the
    # member's tier then and the keys of the rules whose one-time conditions it met.
    program_version: Mapped[int | None] = mapped_column(Integer)
    member_seq: Mapped[int | None] = mapped_column(Integer)
    tier: Mapped[str | None] = mapped_column(String(64))
    program_rules: Mapped[list[str] | None] = mapped_column(JSON)
    # The keys of the segments the member was in when the order was paid (app/segments), read
    # from their spans when it is judged: what a segment's campaign is decided by.
    segments: Mapped[list[str] | None] = mapped_column(JSON)
    # The groups of the order's products it was judged with (app/program/catalog.py), by product
    # id: recorded once per product when a program that matches collections or categories
    # first needs it, so a replay or a refund later judges the lines as they were judged.
    # NULL: judged without groups or line weights (a program without line multipliers or
    # exclusions, or before Vafa kept them; its refunds then take back their money's share).
    product_groups: Mapped[dict[str, list[str]] | None] = mapped_column(JSON(none_as_null=True))


class ProductGroups(Base):
    """What the store last said of one product's groups (its Shopify collections and product
    type, or its WooCommerce categories), as ``catalog.group_key`` writes them; a product the
    store no longer has is kept with none. Re-fetched when older than ``catalog.FRESH_FOR``."""

    __tablename__ = "product_groups"
    __table_args__ = (UniqueConstraint("shop_id", "product_id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    product_id: Mapped[str] = mapped_column(String(64))
    groups: Mapped[list[str]] = mapped_column(JSON)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OrderRefund(Base):
    __tablename__ = "order_refunds"
    __table_args__ = (UniqueConstraint("shop_id", "order_id", "refund_id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    order_id: Mapped[str] = mapped_column(String(64))
    refund_id: Mapped[str] = mapped_column(String(64))
    merchandise_minor: Mapped[int] = mapped_column(BigInteger)
    shipping_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    refunded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The refunded lines where the platform gives them (app/program/lines.py).
    lines: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)


class ProgramVersion(Base):
    """One version of a shop's program document (app/program/versions.py); never updated."""

    __tablename__ = "program_versions"
    __table_args__ = (UniqueConstraint("shop_id", "version"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
