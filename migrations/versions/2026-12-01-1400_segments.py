"""segments: the shop's own definitions, membership spans, RFM scores, the last refresh; the
segments a member was in when an order was paid

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-01 14:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = sa.DateTime(timezone=True)


def _shop_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["shop_id"], ["shops.id"], name=op.f(f"fk_{table}_shop_id_shops"), ondelete="CASCADE"
    )


def upgrade() -> None:
    # A plain ADD COLUMN (nullable, no default): SQLite needs no table copy for it.
    op.add_column("orders", sa.Column("segments", sa.JSON(), nullable=True))
    op.create_table(
        "segment_definitions",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("names", sa.JSON(), nullable=False),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        _shop_fk("segment_definitions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segment_definitions")),
        sa.UniqueConstraint("shop_id", "key", name=op.f("uq_segment_definitions_shop_id_key")),
    )
    op.create_table(
        "segment_spans",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("segment_key", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("entered_at", _TIME, nullable=False),
        sa.Column("left_at", _TIME, nullable=True),
        _shop_fk("segment_spans"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segment_spans")),
        sa.UniqueConstraint(
            "shop_id",
            "segment_key",
            "customer_id",
            "entered_at",
            name=op.f("uq_segment_spans_shop_id_segment_key_customer_id_entered_at"),
        ),  # fmt: skip
    )
    op.create_index(
        "ix_segment_spans_member", "segment_spans", ["shop_id", "customer_id", "entered_at"]
    )
    op.create_table(
        "member_rfm",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("recency_days", sa.Integer(), nullable=False),
        sa.Column("frequency", sa.Integer(), nullable=False),
        sa.Column("monetary_minor", sa.BigInteger(), nullable=False),
        sa.Column("r", sa.Integer(), nullable=False),
        sa.Column("f", sa.Integer(), nullable=False),
        sa.Column("m", sa.Integer(), nullable=False),
        sa.Column("segment", sa.String(length=32), nullable=True),
        sa.Column("computed_at", _TIME, nullable=False),
        _shop_fk("member_rfm"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_rfm")),
        sa.UniqueConstraint(
            "shop_id", "customer_id", name=op.f("uq_member_rfm_shop_id_customer_id")
        ),
    )
    op.create_table(
        "segment_refreshes",
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("refreshed_at", _TIME, nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        _shop_fk("segment_refreshes"),
        sa.PrimaryKeyConstraint("shop_id", name=op.f("pk_segment_refreshes")),
    )


def downgrade() -> None:
    op.drop_table("segment_refreshes")
    op.drop_table("member_rfm")
    op.drop_index("ix_segment_spans_member", table_name="segment_spans")
    op.drop_table("segment_spans")
    op.drop_table("segment_definitions")
    op.drop_column("orders", "segments")
