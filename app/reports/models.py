from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Date, ForeignKey, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.orm import Base, IdType


class ReportDay(Base):
    """One shop's day (in its time zone): what moved, made again from the ledger and the orders
    whenever that day changes (app/reports/rollup.py)."""

    __tablename__ = "report_days"
    __table_args__ = (UniqueConstraint("shop_id", "day"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    members_joined: Mapped[int] = mapped_column(BigInteger, default=0)
    points_issued: Mapped[int] = mapped_column(BigInteger, default=0)  # earned, net of reversals
    points_adjusted: Mapped[int] = mapped_column(BigInteger, default=0)  # by hand or imported
    points_redeemed: Mapped[int] = mapped_column(BigInteger, default=0)  # net of give-backs
    points_expired: Mapped[int] = mapped_column(BigInteger, default=0)
    orders_members: Mapped[int] = mapped_column(BigInteger, default=0)  # paid that day
    orders_guests: Mapped[int] = mapped_column(BigInteger, default=0)
    revenue_members_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    revenue_guests_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    orders_redeeming: Mapped[int] = mapped_column(BigInteger, default=0)  # used a Vafa code
    revenue_redeeming_minor: Mapped[int] = mapped_column(BigInteger, default=0)


class ReportCursor(Base):
    """The newest ledger transaction and member the rollup has seen, per shop."""

    __tablename__ = "report_cursors"

    shop_id: Mapped[int] = mapped_column(
        IdType, ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True
    )
    transaction_id: Mapped[int] = mapped_column(BigInteger, default=0)
    member_id: Mapped[int] = mapped_column(BigInteger, default=0)
