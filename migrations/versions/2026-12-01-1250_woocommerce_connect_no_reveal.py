"""WooCommerce connect attempts keep no secrets: the return page shows none any more (the
plugin's settings are pushed to the store), so the sealed ``reveal`` column goes, and with it
any admin key or storefront secret an unshown attempt still held

Revision ID: 0020
Revises: 0015
Create Date: 2026-12-01 12:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain DROP COLUMN, never a batch copy (see 0008); SQLite 3.35+.
    op.execute("ALTER TABLE woocommerce_connects DROP COLUMN reveal")


def downgrade() -> None:
    op.add_column("woocommerce_connects", sa.Column("reveal", sa.Text(), nullable=True))
