from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.orm import Base, IdType, UTCDateTime, utcnow


class RequestKind:
    EXPORT = "export"  # everything Vafa holds on one customer, for the store owner
    REDACT_CUSTOMER = "redact_customer"  # a member's personal data anonymised
    REDACT_SHOP = "redact_shop"  # every row of the shop deleted
    ALL = (EXPORT, REDACT_CUSTOMER, REDACT_SHOP)


class RequestStatus:
    PENDING = "pending"  # recorded (a webhook's), carried out at the next scheduler tick
    DONE = "done"
    FAILED = "failed"  # failed every attempt; `vafa privacy list` shows the error
    ERASED = "erased"  # an export whose document a later redaction of its customer removed


class PrivacyRequest(Base):
    """One privacy request and what came of it: an export's document is kept here for the store
    owner (``GET /api/v1/privacy/exports/{id}``) until the customer is redacted."""

    __tablename__ = "privacy_requests"
    __table_args__ = (
        Index("ix_privacy_requests_shop_kind", "shop_id", "kind", "id"),
        Index("ix_privacy_requests_shop_status", "shop_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16))  # webhook | api | cli
    event_id: Mapped[int | None] = mapped_column(IdType)  # the webhook event that asked
    # What the platform said besides the customer (its request id, the order ids) and, until
    # the request is carried out, the e-mail addresses a redaction must also find.
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=RequestStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # An export's document; a redaction's counts of what it changed.
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PrivacySettings(Base):
    """A shop's privacy settings (absent: the defaults). Its own table rather than the program's
    settings: they are not the loyalty program's, and they are read by the retention task only."""

    __tablename__ = "privacy_settings"

    shop_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True
    )
    # Days a processed event's raw body is kept; None keeps it (replay and simulation need it).
    webhook_body_retention_days: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
