"""the opening balance imported for each member, 0 included

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-01 12:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "member_imports",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_member_imports_shop_id_shops"),
            ondelete="CASCADE",
        ),  # fmt: skip
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_imports")),
        sa.UniqueConstraint(
            "shop_id", "customer_id", name=op.f("uq_member_imports_shop_id_customer_id")
        ),
    )
    # Opening balances imported before this table: each one's ledger line says it.
    op.execute(
        "INSERT INTO member_imports (shop_id, customer_id, points, imported_at) "
        "SELECT shop_id, owner, points, created_at FROM ledger_transactions "
        "WHERE idempotency_key LIKE 'import:opening:%'"
    )


def downgrade() -> None:
    op.drop_table("member_imports")
