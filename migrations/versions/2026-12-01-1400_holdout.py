"""the holdout: its share and salt per shop, and each customer's cohort

Revision ID: 0023
Revises: 0024
Create Date: 2026-12-01 14:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "holdout_settings",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("share_bp", sa.Integer(), nullable=False),
        sa.Column("salt", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_holdout_settings_shop_id_shops"),
            ondelete="CASCADE",
        ),  # fmt: skip
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holdout_settings")),
        sa.UniqueConstraint("shop_id", name=op.f("uq_holdout_settings_shop_id")),
    )
    op.create_table(
        "holdout_assignments",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("cohort", sa.String(length=16), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_holdout_assignments_shop_id_shops"),
            ondelete="CASCADE",
        ),  # fmt: skip
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holdout_assignments")),
        sa.UniqueConstraint(
            "shop_id", "customer_id", name=op.f("uq_holdout_assignments_shop_id_customer_id")
        ),
    )
    op.create_index("ix_holdout_assignments_cohort", "holdout_assignments", ["shop_id", "cohort"])


def downgrade() -> None:
    op.drop_index("ix_holdout_assignments_cohort", table_name="holdout_assignments")
    op.drop_table("holdout_assignments")
    op.drop_table("holdout_settings")
