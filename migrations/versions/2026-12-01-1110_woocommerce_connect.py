"""WooCommerce key exchange: connect attempts, the first backfill's progress

Revision ID: 0017
Revises: 0009
Create Date: 2026-12-01 11:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# Plain ADD/DROP COLUMN, never a batch copy (see 0008).
_COLUMNS = (
    ("store_sync", sa.Column("backfill_imported", sa.Integer(), nullable=True)),
    ("store_sync", sa.Column("backfill_finished_at", sa.DateTime(timezone=True), nullable=True)),
)


def upgrade() -> None:
    for table, column in _COLUMNS:
        op.add_column(table, column)
    op.create_table(
        "woocommerce_connects",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("nonce_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reveal", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_woocommerce_connects_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_woocommerce_connects")),
        sa.UniqueConstraint(
            "shop_id", "nonce_hash", name=op.f("uq_woocommerce_connects_shop_id_nonce_hash")
        ),
    )


def downgrade() -> None:
    op.drop_table("woocommerce_connects")
    for table, column in reversed(_COLUMNS):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column.name}")  # SQLite 3.35+
