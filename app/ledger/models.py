"""The ledger's tables. The invariants the database can hold are declared here (unique
idempotency keys, non-zero postings, lots within bounds, no negative pending or held balance); the
rest — postings of a transaction sum to zero, balances equal their postings — is enforced by
the one function that writes postings (:func:`app.ledger.service.post`) and checked by
``vafa ledger verify``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.orm import Base, IdType, UTCDateTime, utcnow

SYSTEM_OWNER = ""  # owner of a shop's system accounts; member accounts are owned by customer id


class AccountKind:
    # member accounts
    AVAILABLE = "available"
    PENDING = "pending"
    HELD = "held"  # set aside by a hold until it is captured (spent) or voided (given back)
    # shop system accounts: where points come from and go to
    ISSUED = "issued"
    REDEEMED = "redeemed"
    EXPIRED = "expired"
    ADJUSTED = "adjusted"

    MEMBER = (AVAILABLE, PENDING, HELD)
    SYSTEM = (ISSUED, REDEEMED, EXPIRED, ADJUSTED)


class TxKind:
    EARN = "earn"
    RELEASE = "release"
    REVERSE = "reverse"
    REDEEM = "redeem"
    ADJUST = "adjust"
    EXPIRE = "expire"
    HOLD = "hold"
    CAPTURE = "capture"
    VOID = "void"


class HoldStatus:
    HELD = "held"
    CAPTURED = "captured"
    VOIDED = "voided"


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (
        UniqueConstraint("shop_id", "owner", "kind"),
        CheckConstraint("kind <> 'pending' OR balance >= 0", name="pending_not_negative"),
        CheckConstraint("kind <> 'held' OR balance >= 0", name="held_not_negative"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    owner: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    balance: Mapped[int] = mapped_column(BigInteger, default=0)


class LedgerTransaction(Base):
    __tablename__ = "ledger_transactions"
    __table_args__ = (
        UniqueConstraint("shop_id", "idempotency_key"),
        Index("ix_ledger_transactions_member", "shop_id", "owner", "id"),
        Index("ix_ledger_transactions_order", "shop_id", "order_id"),
        Index("ix_ledger_transactions_created", "shop_id", "created_at"),  # the rollup's days
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    # sha256 of what the transaction does; the same key with another fingerprint is a conflict.
    fingerprint: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    owner: Mapped[str] = mapped_column(String(64))  # the member's customer id
    points: Mapped[int] = mapped_column(BigInteger)  # net effect on the member, for display
    # Points a reversal could not claw back because the shop forbids negative balances.
    uncollected: Mapped[int] = mapped_column(BigInteger, default=0)
    source_type: Mapped[str] = mapped_column(String(32))  # order, refund, manual, lot, ...
    source_id: Mapped[str | None] = mapped_column(String(64))
    order_id: Mapped[str | None] = mapped_column(String(64))
    rule: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_transactions.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Posting(Base):
    __tablename__ = "postings"
    __table_args__ = (
        CheckConstraint("amount <> 0", name="amount_not_zero"),
        Index("ix_postings_transaction", "shop_id", "transaction_id"),
        Index("ix_postings_account", "shop_id", "account_id"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    amount: Mapped[int] = mapped_column(BigInteger)


class PointLot(Base):
    """Points credited to a member's available account together, with one expiry."""

    __tablename__ = "point_lots"
    __table_args__ = (
        CheckConstraint("remaining >= 0 AND remaining <= points", name="remaining_in_bounds"),
        Index("ix_point_lots_member", "shop_id", "owner", "expires_at"),
        Index("ix_point_lots_expiry", "shop_id", "expires_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    owner: Mapped[str] = mapped_column(String(64))
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"))
    points: Mapped[int] = mapped_column(BigInteger)
    remaining: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LotMovement(Base):
    """What a transaction took from a lot; lots are rebuilt from these by ``ledger verify``."""

    __tablename__ = "lot_movements"
    __table_args__ = (
        CheckConstraint("amount < 0", name="amount_negative"),
        Index("ix_lot_movements_lot", "shop_id", "lot_id"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    lot_id: Mapped[int] = mapped_column(ForeignKey("point_lots.id"))
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"))
    amount: Mapped[int] = mapped_column(BigInteger)


class LedgerMember(Base):
    """The ledger's own record of a member: what it keeps per member besides balances."""

    __tablename__ = "ledger_members"
    __table_args__ = (UniqueConstraint("shop_id", "owner"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    owner: Mapped[str] = mapped_column(String(64))  # the member's customer id
    # Points earned from orders, net of their reversals; moved with the postings that change it.
    lifetime_earned: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Hold(Base):
    """Points set aside (available → held) for a spend not settled yet: captured, they are
    spent; voided, they return to the lots they came from, with those lots' expiries."""

    __tablename__ = "holds"
    __table_args__ = (
        CheckConstraint("points > 0", name="points_positive"),
        CheckConstraint("status IN ('held', 'captured', 'voided')", name="status_known"),
        UniqueConstraint("shop_id", "hold_transaction_id"),
        Index("ix_holds_owner", "shop_id", "owner", "status"),
        Index("ix_holds_deadline", "shop_id", "status", "deadline"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    owner: Mapped[str] = mapped_column(String(64))
    points: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default=HoldStatus.HELD)
    # Voided by the scheduler if neither captured nor voided by then.
    deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    hold_transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"))
    # The capture or the void that settled it.
    settle_transaction_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_transactions.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
