"""indexes on the times the daily rollup reads by: a day's ledger transactions, members who
joined and orders paid, found by range instead of a scan of the shop's whole history

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-01 14:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_ledger_transactions_created", "ledger_transactions", ["shop_id", "created_at"]),
    ("ix_members_created", "members", ["shop_id", "created_at"]),
    ("ix_orders_paid", "orders", ["shop_id", "paid_at"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
