from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.orm import Base, IdType, UTCDateTime, utcnow


class AdminUser(Base):
    """A person who signs in to a shop's admin with an e-mail and a password (argon2id)."""

    __tablename__ = "admin_users"
    __table_args__ = (UniqueConstraint("shop_id", "email"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))  # lower-cased
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    signed_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AdminLink(Base):
    """A one-time sign-in link (`vafa admin link`): only its hash is kept; used once."""

    __tablename__ = "admin_links"
    __table_args__ = (UniqueConstraint("shop_id", "token_hash"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AdminSessionRecord(Base):
    """A signed-in admin session: the cookie names it by a random id (only its hash is kept),
    and a session is honoured only while its row is here, unexpired and not revoked — so
    signing out, a password change or ``vafa admin sign-out-all`` ends a copied cookie too."""

    __tablename__ = "admin_sessions"
    __table_args__ = (
        UniqueConstraint("shop_id", "sid_hash"),
        Index("ix_admin_sessions_who", "shop_id", "who"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    sid_hash: Mapped[str] = mapped_column(String(64))
    who: Mapped[str] = mapped_column(String(64))  # "user:<id>" or "link:<id>"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
