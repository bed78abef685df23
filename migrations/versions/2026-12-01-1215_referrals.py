"""referrals: members' codes, referrals, and what orders say about them

``orders.referral_code`` is the order's ``vafa_ref`` attribute; ``orders.contact_keys`` the
buyer's contact details as hashes (app/referrals/contact.py), for the self-referral checks.
NULL for rows stored before.

Revision ID: 0015
Revises: 0012
Create Date: 2026-12-01 12:15:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _shop_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["shop_id"], ["shops.id"], name=op.f(f"fk_{table}_shop_id_shops"), ondelete="CASCADE"
    )


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("referral_code", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("contact_keys", sa.JSON(), nullable=True))
    op.create_table(
        "referral_codes",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _shop_fk("referral_codes"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_codes")),
        sa.UniqueConstraint("shop_id", "code", name=op.f("uq_referral_codes_shop_id_code")),
        sa.UniqueConstraint(
            "shop_id", "customer_id", name=op.f("uq_referral_codes_shop_id_customer_id")
        ),
    )
    op.create_table(
        "referrals",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("advocate_id", sa.String(length=64), nullable=False),
        sa.Column("friend_id", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("program_version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("approved", sa.Boolean(), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("release_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rewarded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failure", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        _shop_fk("referrals"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referrals")),
        sa.UniqueConstraint("shop_id", "friend_id", name=op.f("uq_referrals_shop_id_friend_id")),
    )
    op.create_index(
        "ix_referrals_advocate", "referrals", ["shop_id", "advocate_id", "paid_at"], unique=False
    )
    op.create_index("ix_referrals_order", "referrals", ["shop_id", "order_id"], unique=False)
    op.create_index(
        "ix_referrals_status", "referrals", ["shop_id", "status", "release_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_referrals_status", table_name="referrals")
    op.drop_index("ix_referrals_order", table_name="referrals")
    op.drop_index("ix_referrals_advocate", table_name="referrals")
    op.drop_table("referrals")
    op.drop_table("referral_codes")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("contact_keys")
        batch_op.drop_column("referral_code")
