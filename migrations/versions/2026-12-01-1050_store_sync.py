"""shop pause reason, the reconciliation sweep's cursor, backfilled orders

``shops.status_reason`` / ``status_changed_at`` say why a shop is paused (the store refused its
credentials) and since when; ``store_sync`` keeps each shop's sweep cursor; ``orders.backfilled``
marks orders imported without points.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 10:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


# Plain ADD/DROP COLUMN, never a batch copy: on SQLite a batch recreates the table, and
# dropping the old ``shops`` would cascade to every row that references it.
_COLUMNS = (
    ("shops", sa.Column("status_reason", sa.Text(), nullable=True)),
    ("shops", sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=True)),
    ("orders", sa.Column("backfilled", sa.Boolean(), server_default=sa.false(), nullable=False)),
)


def upgrade() -> None:
    for table, column in _COLUMNS:
        op.add_column(table, column)
    op.create_table(
        "store_sync",
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("orders_cursor", sa.DateTime(timezone=True), nullable=True),
        sa.Column("swept_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_store_sync_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("shop_id", name=op.f("pk_store_sync")),
    )


def downgrade() -> None:
    op.drop_table("store_sync")
    for table, column in reversed(_COLUMNS):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column.name}")  # SQLite 3.35+
