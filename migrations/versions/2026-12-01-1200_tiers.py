"""tiers: each member's qualified tier and review time, tier changes, paid memberships

``members.tier`` (already there) stays the tier everything reads; ``member_tiers`` keeps what it
is derived from, ``tier_changes`` its history, ``tier_memberships`` the VIP terms orders bought.

Revision ID: 0011
Revises: 0018
Create Date: 2026-12-01 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _shop_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["shop_id"], ["shops.id"], name=op.f(f"fk_{table}_shop_id_shops"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "member_tiers",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("qualified", sa.String(length=64), nullable=True),
        sa.Column("review_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _shop_fk("member_tiers"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_tiers")),
        sa.UniqueConstraint(
            "shop_id", "customer_id", name=op.f("uq_member_tiers_shop_id_customer_id")
        ),
    )
    op.create_index("ix_member_tiers_review", "member_tiers", ["shop_id", "review_at"])
    op.create_table(
        "tier_changes",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("from_tier", sa.String(length=64), nullable=True),
        sa.Column("to_tier", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("program_version", sa.Integer(), nullable=False),
        _shop_fk("tier_changes"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tier_changes")),
    )
    op.create_index(
        "ix_tier_changes_member", "tier_changes", ["shop_id", "customer_id", "id"]
    )
    op.create_table(
        "tier_memberships",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("tier", sa.String(length=64), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _shop_fk("tier_memberships"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tier_memberships")),
        sa.UniqueConstraint(
            "shop_id", "order_id", name=op.f("uq_tier_memberships_shop_id_order_id")
        ),
    )
    op.create_index(
        "ix_tier_memberships_member", "tier_memberships", ["shop_id", "customer_id"]
    )


def downgrade() -> None:
    op.drop_table("tier_memberships")
    op.drop_table("tier_changes")
    op.drop_table("member_tiers")
