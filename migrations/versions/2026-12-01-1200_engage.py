"""engagement: members' events, rule awards, the club's own member preferences

``member_events`` keeps each non-purchase event once per idempotency key with what it earned;
``rule_awards`` is every award of a rule to a member (caps count them); ``engage_members``
holds a birthday given through the API and the leaderboard opt-in.

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-01 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _shop(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["shop_id"], ["shops.id"], name=op.f(f"fk_{table}_shop_id_shops"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "member_events",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("idempotency_key", sa.String(150), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("program_version", sa.Integer(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("outcome", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _shop("member_events"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_events")),
        sa.UniqueConstraint(
            "shop_id", "customer_id", "idempotency_key",
            name=op.f("uq_member_events_shop_id_customer_id_idempotency_key"),
        ),  # fmt: skip
    )
    op.create_index(
        "ix_member_events_member", "member_events", ["shop_id", "customer_id", "occurred_at"]
    )
    op.create_table(
        "rule_awards",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("rule", sa.String(32), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("source_type", sa.String(16), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("program_version", sa.Integer(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("reward_id", sa.BigInteger(), nullable=True),
        sa.Column("redemption_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _shop("rule_awards"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rule_awards")),
        sa.UniqueConstraint("shop_id", "key", name=op.f("uq_rule_awards_shop_id_key")),
    )
    op.create_index(
        "ix_rule_awards_member_rule",
        "rule_awards",
        ["shop_id", "customer_id", "rule", "occurred_at"],
    )
    op.create_table(
        "engage_members",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=False),
        sa.Column("birthday_month", sa.SmallInteger(), nullable=True),
        sa.Column("birthday_day", sa.SmallInteger(), nullable=True),
        sa.Column("leaderboard_opt_in", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _shop("engage_members"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_engage_members")),
        sa.UniqueConstraint(
            "shop_id", "customer_id", name=op.f("uq_engage_members_shop_id_customer_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("engage_members")
    op.drop_index("ix_rule_awards_member_rule", table_name="rule_awards")
    op.drop_table("rule_awards")
    op.drop_index("ix_member_events_member", table_name="member_events")
    op.drop_table("member_events")
