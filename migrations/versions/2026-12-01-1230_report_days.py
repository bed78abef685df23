"""the reports' daily rollup and its cursor

Revision ID: 0019
Revises: 0011
Create Date: 2026-12-01 12:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_COUNTS = (
    "members_joined", "points_issued", "points_adjusted", "points_redeemed", "points_expired",
    "orders_members", "orders_guests", "revenue_members_minor", "revenue_guests_minor",
    "orders_redeeming", "revenue_redeeming_minor",
)  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "report_days",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in _COUNTS),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_report_days_shop_id_shops"),
            ondelete="CASCADE",
        ),  # fmt: skip
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_days")),
        sa.UniqueConstraint("shop_id", "day", name=op.f("uq_report_days_shop_id_day")),
    )
    op.create_table(
        "report_cursors",
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("transaction_id", sa.BigInteger(), nullable=False),
        sa.Column("member_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_report_cursors_shop_id_shops"),
            ondelete="CASCADE",
        ),  # fmt: skip
        sa.PrimaryKeyConstraint("shop_id", name=op.f("pk_report_cursors")),
    )


def downgrade() -> None:
    op.drop_table("report_cursors")
    op.drop_table("report_days")
