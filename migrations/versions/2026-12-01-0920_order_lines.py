"""order lines, discount codes and refunded lines with the order state

``orders.lines`` and ``orders.discount_codes`` hold the newest snapshot's lines and codes,
``order_refunds.lines`` a refund's lines, as JSON: what free-product rewards, product
multipliers, code-used detection and per-line refunds will read. NULL for rows stored before.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 09:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lines", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("discount_codes", sa.JSON(), nullable=True))
    with op.batch_alter_table("order_refunds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lines", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("order_refunds", schema=None) as batch_op:
        batch_op.drop_column("lines")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("discount_codes")
        batch_op.drop_column("lines")
