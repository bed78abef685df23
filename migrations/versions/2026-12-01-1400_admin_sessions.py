"""admin sessions kept server-side, so signing out (or a password change) revokes a cookie

Revision ID: 0025
Revises: 0023
Create Date: 2026-12-01 14:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "admin_sessions",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("sid_hash", sa.String(length=64), nullable=False),
        sa.Column("who", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_admin_sessions_shop_id_shops"),
            ondelete="CASCADE",
        ),  # fmt: skip
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_sessions")),
        sa.UniqueConstraint(
            "shop_id", "sid_hash", name=op.f("uq_admin_sessions_shop_id_sid_hash")
        ),
    )
    op.create_index("ix_admin_sessions_who", "admin_sessions", ["shop_id", "who"])


def downgrade() -> None:
    op.drop_index("ix_admin_sessions_who", table_name="admin_sessions")
    op.drop_table("admin_sessions")
