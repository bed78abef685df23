from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.orm import Base, IdType, UTCDateTime, utcnow


class ShopStatus:
    """A shop's status. ``paused``: Vafa stopped calling the store (it refused the
    credentials); webhooks and admin requests are still accepted and events processed, only
    jobs wait until ``vafa shop resume``. ``disabled``: turned off by the operator; webhooks and
    admin requests are refused (401). ``pending``: being connected (see PENDING)."""

    ACTIVE = "active"
    PAUSED = "paused"
    DISABLED = "disabled"
    # Being connected: a WooCommerce store whose keys have not arrived yet (app.woocommerce_app).
    # Nothing is accepted for it and no job runs until they do.
    PENDING = "pending"
    ALL = (ACTIVE, PAUSED, DISABLED, PENDING)
    # Shops whose webhooks and admin requests are accepted and whose events are processed.
    RECEIVING = (ACTIVE, PAUSED)
    # Shops whose jobs run (calls to the store).
    CALLING = (ACTIVE,)


class Shop(Base):
    """The tenant registry. Its own key *is* the ``shop_id`` every other table carries; the
    unique (platform, domain) is the one global lookup, made when a webhook names its shop."""

    __tablename__ = "shops"
    __table_args__ = (UniqueConstraint("platform", "domain"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(16))
    # Shopify: the myshopify domain. WooCommerce: the store URL without a trailing slash.
    domain: Mapped[str] = mapped_column(String(255))
    api_url: Mapped[str | None] = mapped_column(String(512))
    # Fernet token of a JSON object: access token, API secret(s), consumer key/secret, webhook
    # secret(s). Never stored or logged in clear.
    credentials: Mapped[str] = mapped_column(Text)
    # sha256 hex of the admin API key; the key itself is shown once, at creation.
    admin_key_hash: Mapped[str] = mapped_column(String(64))
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=ShopStatus.ACTIVE)
    # Why and since when the shop has its status (a pause says what the store answered).
    status_reason: Mapped[str | None] = mapped_column(Text)
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
