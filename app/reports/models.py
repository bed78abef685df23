from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.orm import Base, IdType, UTCDateTime


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


# The rollups behind the reports beyond the daily one (app/reports/monthly.py, clv.py,
# campaigns.py), kept by the same periodic task.


class ReportCustomerMonth(Base):
    """One customer's paid orders in one month (the shop's time zone): a member by customer id,
    a guest by the hash of their e-mail on the order (else the order alone)."""

    __tablename__ = "report_customer_months"
    __table_args__ = (
        UniqueConstraint("shop_id", "month", "customer"),
        Index("ix_report_customer_months_customer", "shop_id", "customer", "month"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    month: Mapped[date] = mapped_column(Date)  # its first day
    customer: Mapped[str] = mapped_column(String(80))
    member: Mapped[bool] = mapped_column(Boolean)
    joined: Mapped[date | None] = mapped_column(Date)  # a member's join month
    orders: Mapped[int] = mapped_column(BigInteger)
    revenue_minor: Mapped[int] = mapped_column(BigInteger)


class ReportMonth(Base):
    """A month's buying customers, members apart from non-members: how many, how many of them
    had bought before or bought twice in it, their orders and revenue."""

    __tablename__ = "report_months"
    __table_args__ = (UniqueConstraint("shop_id", "month", "member"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    month: Mapped[date] = mapped_column(Date)
    member: Mapped[bool] = mapped_column(Boolean)
    customers: Mapped[int] = mapped_column(BigInteger)
    repeat_customers: Mapped[int] = mapped_column(BigInteger)
    orders: Mapped[int] = mapped_column(BigInteger)
    revenue_minor: Mapped[int] = mapped_column(BigInteger)


class ReportCohort(Base):
    """How many of the members who joined in ``cohort`` had a paid order in ``month``."""

    __tablename__ = "report_cohorts"
    __table_args__ = (UniqueConstraint("shop_id", "cohort", "month"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    cohort: Mapped[date] = mapped_column(Date)
    month: Mapped[date] = mapped_column(Date)
    retained: Mapped[int] = mapped_column(BigInteger)


class ReportTier(Base):
    """Members by their current tier ("" for none) and all the revenue of their paid orders."""

    __tablename__ = "report_tiers"
    __table_args__ = (UniqueConstraint("shop_id", "tier"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    tier: Mapped[str] = mapped_column(String(64))
    members: Mapped[int] = mapped_column(BigInteger)
    revenue_minor: Mapped[int] = mapped_column(BigInteger)
    made_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReportCampaignDay(Base):
    """Members' paid orders of a day that a campaign rule's ledger lines name (``rule``), or
    that none does (``rule`` ""): how many, the points they carry, their revenue."""

    __tablename__ = "report_campaign_days"
    __table_args__ = (UniqueConstraint("shop_id", "day", "rule"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    rule: Mapped[str] = mapped_column(String(64))
    orders: Mapped[int] = mapped_column(BigInteger)
    points: Mapped[int] = mapped_column(BigInteger)
    revenue_minor: Mapped[int] = mapped_column(BigInteger)
