"""The migration that moves ``lifetime_earned`` from ``members`` to the ledger's own record
keeps every member's figure, both ways."""

from __future__ import annotations

import asyncio

from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.migration_check import _config


def _sql(url: str, *statements: str) -> list[tuple[object, ...]]:
    async def run() -> list[tuple[object, ...]]:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                rows: list[tuple[object, ...]] = []
                for statement in statements:
                    result = await conn.execute(text(statement))
                    rows = [tuple(r) for r in result] if result.returns_rows else []
                return rows
        finally:
            await engine.dispose()

    return asyncio.run(run())


class TestLifetimeMigration:
    def test_lifetime_earned_moves_to_the_ledger_and_back(self, empty_database: str) -> None:
        config = _config(empty_database)
        command.upgrade(config, "0003")
        _sql(
            empty_database,
            "INSERT INTO shops (id, platform, domain, credentials, admin_key_hash, settings, "
            "status, created_at, updated_at) VALUES (1, 'shopify', 'd', 'x', 'h', '{}', "
            "'active', '2025-01-01', '2025-01-01')",
            "INSERT INTO members (shop_id, customer_id, lifetime_earned, created_at) "
            "VALUES (1, 'a', 42, '2025-01-01'), (1, 'b', 0, '2025-01-01')",
        )
        command.upgrade(config, "head")
        assert sorted(
            _sql(empty_database, "SELECT owner, lifetime_earned FROM ledger_members")
        ) == [("a", 42), ("b", 0)]

        command.downgrade(config, "0003")
        assert sorted(_sql(empty_database, "SELECT customer_id, lifetime_earned FROM members")) == [
            ("a", 42),
            ("b", 0),
        ]
