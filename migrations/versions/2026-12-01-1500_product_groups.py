"""product groups: each shop's cache of its products' Shopify collections and product types or
WooCommerce categories, and the groups an order was judged with

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-01 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    # A plain ADD COLUMN (nullable, no default): SQLite needs no table copy for it.
    op.add_column("orders", sa.Column("product_groups", sa.JSON(), nullable=True))
    op.create_table(
        "product_groups",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("product_id", sa.String(length=64), nullable=False),
        sa.Column("groups", sa.JSON(), nullable=False),
        sa.Column("fetched_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_product_groups_shop_id_shops"),
            ondelete="CASCADE",
        ),  # fmt: skip
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_groups")),
        sa.UniqueConstraint(
            "shop_id", "product_id", name=op.f("uq_product_groups_shop_id_product_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("product_groups")
    op.drop_column("orders", "product_groups")
