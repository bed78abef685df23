"""program versions: each shop's program document, versioned

Every shop's settings become version 1 of its program, in force from the beginning (so every
order already judged keeps the judgment it had).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 11:00:00
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from app.program.document import from_settings
from app.program.settings import ProgramSettings

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    versions = op.create_table(
        "program_versions",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("shop_id", _ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_program_versions_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_program_versions")),
        sa.UniqueConstraint(
            "shop_id", "version", name=op.f("uq_program_versions_shop_id_version")
        ),
    )
    shops = op.get_bind().execute(sa.text("SELECT id, settings FROM shops")).all()
    now = datetime.now(UTC)
    sqlite = op.get_bind().dialect.name == "sqlite"
    beginning = datetime(1970, 1, 1, tzinfo=None if sqlite else UTC)
    rows = []
    for shop_id, settings in shops:
        if isinstance(settings, str):
            settings = json.loads(settings)
        document = from_settings(ProgramSettings.from_json(settings)).to_json()
        rows.append({"shop_id": shop_id, "version": 1, "effective_at": beginning,
                     "document": document, "created_at": now.replace(tzinfo=None) if sqlite else now})  # fmt: skip
    if rows:
        op.bulk_insert(versions, rows)


def downgrade() -> None:
    op.drop_table("program_versions")
