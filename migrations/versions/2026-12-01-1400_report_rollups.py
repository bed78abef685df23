"""the reports' monthly, cohort, tier and campaign rollups

Revision ID: 0024
Revises: 0022
Create Date: 2026-12-01 14:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _table(name: str, *columns: sa.Column[object], unique: tuple[str, ...]) -> None:
    op.create_table(
        name,
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("shop_id", _ID, nullable=False),
        *columns,
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f(f"fk_{name}_shop_id_shops"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
        sa.UniqueConstraint(*unique, name=op.f(f"uq_{name}_{'_'.join(unique)}")),
    )


def _counts(*names: str) -> list[sa.Column[object]]:
    return [sa.Column(name, sa.BigInteger(), nullable=False) for name in names]


def upgrade() -> None:
    _table(
        "report_customer_months",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("customer", sa.String(80), nullable=False),
        sa.Column("member", sa.Boolean(), nullable=False),
        sa.Column("joined", sa.Date(), nullable=True),
        *_counts("orders", "revenue_minor"),
        unique=("shop_id", "month", "customer"),
    )
    op.create_index(
        "ix_report_customer_months_customer",
        "report_customer_months",
        ["shop_id", "customer", "month"],
    )
    _table(
        "report_months",
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("member", sa.Boolean(), nullable=False),
        *_counts("customers", "repeat_customers", "orders", "revenue_minor"),
        unique=("shop_id", "month", "member"),
    )
    _table(
        "report_cohorts",
        sa.Column("cohort", sa.Date(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        *_counts("retained"),
        unique=("shop_id", "cohort", "month"),
    )
    _table(
        "report_tiers",
        sa.Column("tier", sa.String(64), nullable=False),
        *_counts("members", "revenue_minor"),
        sa.Column("made_at", sa.DateTime(timezone=True), nullable=False),
        unique=("shop_id", "tier"),
    )
    _table(
        "report_campaign_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        *_counts("orders", "points", "revenue_minor"),
        unique=("shop_id", "day", "rule"),
    )


def downgrade() -> None:
    for name in ("report_campaign_days", "report_tiers", "report_cohorts", "report_months"):
        op.drop_table(name)
    op.drop_index("ix_report_customer_months_customer", table_name="report_customer_months")
    op.drop_table("report_customer_months")
