"""scheduler ticks: the last tick that ran a shop's periodic tasks, claimed by one runner

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-02 02:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "scheduler_ticks",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("tick_start", _TIME, nullable=False),
        sa.Column("claimed_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"], ["shops.id"], name=op.f("fk_scheduler_ticks_shop_id_shops"),
            ondelete="CASCADE",
        ),  # fmt: skip
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduler_ticks")),
        sa.UniqueConstraint("shop_id", name=op.f("uq_scheduler_ticks_shop_id")),
    )


def downgrade() -> None:
    op.drop_table("scheduler_ticks")
