"""ledger holds, and the ledger's own per-member record

- ``holds``: points set aside for a spend not settled yet (two-phase spending); a member's
  ``held`` account carries them, never negative.
- ``ledger_members``: the ledger keeps ``lifetime_earned`` itself (moved from ``members``), so
  the ledger never writes the members domain's table.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 09:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ledger_members",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("lifetime_earned", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_ledger_members_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_members")),
        sa.UniqueConstraint("shop_id", "owner", name=op.f("uq_ledger_members_shop_id_owner")),
    )  # fmt: skip
    op.execute(
        "INSERT INTO ledger_members (shop_id, owner, lifetime_earned, created_at) "
        "SELECT shop_id, customer_id, lifetime_earned, created_at FROM members"
    )
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_column("lifetime_earned")

    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.create_check_constraint(
            op.f("ck_accounts_held_not_negative"), "kind <> 'held' OR balance >= 0"
        )

    op.create_table(
        "holds",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hold_transaction_id", _ID, nullable=False),
        sa.Column("settle_transaction_id", _ID, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("points > 0", name=op.f("ck_holds_points_positive")),
        sa.CheckConstraint(
            "status IN ('held', 'captured', 'voided')", name=op.f("ck_holds_status_known")
        ),
        sa.ForeignKeyConstraint(
            ["hold_transaction_id"], ["ledger_transactions.id"],
            name=op.f("fk_holds_hold_transaction_id_ledger_transactions"),
        ),
        sa.ForeignKeyConstraint(
            ["settle_transaction_id"], ["ledger_transactions.id"],
            name=op.f("fk_holds_settle_transaction_id_ledger_transactions"),
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_holds_shop_id_shops"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holds")),
        sa.UniqueConstraint(
            "shop_id", "hold_transaction_id", name=op.f("uq_holds_shop_id_hold_transaction_id")
        ),
    )  # fmt: skip
    with op.batch_alter_table("holds", schema=None) as batch_op:
        batch_op.create_index("ix_holds_owner", ["shop_id", "owner", "status"], unique=False)
        batch_op.create_index(
            "ix_holds_deadline", ["shop_id", "status", "deadline"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("holds", schema=None) as batch_op:
        batch_op.drop_index("ix_holds_deadline")
        batch_op.drop_index("ix_holds_owner")
    op.drop_table("holds")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_accounts_held_not_negative"), type_="check")
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("lifetime_earned", sa.BigInteger(), nullable=False, server_default="0")
        )
    op.execute(
        "UPDATE members SET lifetime_earned = COALESCE((SELECT l.lifetime_earned "
        "FROM ledger_members l WHERE l.shop_id = members.shop_id "
        "AND l.owner = members.customer_id), 0)"
    )
    op.drop_table("ledger_members")
