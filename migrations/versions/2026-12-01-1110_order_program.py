"""the program an order is judged by: its version, the member's order number, the tier

When an order is first paid it records the program version in force then
(``program_version``), the member's sequence number of it (``member_seq``: 1 for the first
paid order, never renumbered), the member's tier then (``tier``) and the keys of the rules
whose one-time conditions it met (``program_rules``: time frames, caps, nth order, spend
goals), so later program edits and refunds judge it as it was judged.

Orders already earning (or that earned, by their ``order:<id>:earn`` transaction) are numbered
per member in order of payment; their version is set when they are next reconciled (version 1
is in force from the beginning, so that is the one).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 11:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("program_version", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("member_seq", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("tier", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("program_rules", sa.JSON(), nullable=True))
        batch_op.create_index(
            "ix_orders_member_seq", ["shop_id", "customer_id", "member_seq"], unique=False
        )
    # Number the orders that earn or earned, per member, oldest payment first.
    op.execute(
        sa.text(
            """
            UPDATE orders SET member_seq = (
                SELECT numbered.n FROM (
                    SELECT o.id AS id, ROW_NUMBER() OVER (
                        PARTITION BY o.shop_id, o.customer_id
                        ORDER BY COALESCE(o.paid_at, o.source_updated_at), o.id
                    ) AS n
                    FROM orders o
                    WHERE o.customer_id IS NOT NULL AND (
                        (o.known AND o.financial_state = 'paid' AND NOT o.cancelled
                         AND NOT o.deleted AND NOT o.backfilled)
                        OR EXISTS (
                            SELECT 1 FROM ledger_transactions t
                            WHERE t.shop_id = o.shop_id AND t.order_id = o.order_id
                              AND t.idempotency_key = 'order:' || o.order_id || ':' || 'earn'
                        )
                    )
                ) numbered
                WHERE numbered.id = orders.id
            )
            """
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_member_seq")
        batch_op.drop_column("program_rules")
        batch_op.drop_column("tier")
        batch_op.drop_column("member_seq")
        batch_op.drop_column("program_version")
