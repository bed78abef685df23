"""The worker warns at start when PostgreSQL's autovacuum is off: nothing else keeps the
planner statistics its lookups by lists of keys depend on."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import text

from app.db import Database
from app.jobs import statistics
from app.jobs.runner import Runner
from app.jobs.statistics import AUTOVACUUM_OFF
from app.state import AppState
from tests.conftest import make_shopify_shop


class _Recorded:
    """Stands in for the module's logger (structlog's may be cached by an earlier test's
    configuration, out of reach of ``capture_logs``)."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def __getattr__(self, level: str) -> Any:
        return lambda event, **_: self.lines.append((level, event))


async def _autovacuum(db: Database) -> str | None:
    if db.dialect != "postgresql":
        return None
    async with db.reader.connect() as conn:
        return str(await conn.scalar(text("SELECT current_setting('autovacuum')")))


class TestAutovacuumWarning:
    async def test_worker_start_warns_only_when_autovacuum_is_off(
        self, state: AppState, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        recorded = _Recorded()
        monkeypatch.setattr(statistics, "log", recorded)
        runner = Runner(state.db, state.shops, state.settings, sources=[], periodic=[])
        stop = asyncio.Event()
        task = asyncio.create_task(runner.run_forever(stop))
        await asyncio.sleep(0.2)
        stop.set()
        await asyncio.wait_for(task, 5)
        # SQLite has no autovacuum; PostgreSQL warns once when the server runs without it.
        off = await _autovacuum(state.db) == "off"
        assert recorded.lines == ([("warning", AUTOVACUUM_OFF)] if off else [])


_CHANGED = text("SELECT n_mod_since_analyze FROM pg_stat_user_tables WHERE relname = 'members'")


async def _members_plan(db: Database, shop_id: int) -> str:
    """The plan of a batch's lookup of members by a list of customer ids."""
    async with db.reader.connect() as conn:
        rows = await conn.execute(
            text(
                "EXPLAIN SELECT id FROM members WHERE shop_id = :s "
                "AND customer_id IN ('c1', 'c2', 'c3', 'c4', 'c5')"
            ),
            {"s": shop_id},
        )
        return "\n".join(str(r[0]) for r in rows)


async def _fill_after_an_empty_analyze(db: Database, shop_id: int, rows: int) -> None:
    """A new install: ``members`` analyzed while empty, then ``rows`` members arrive."""
    async with db.reader.connect() as conn:
        await conn.execute(text("ANALYZE members"))
        await conn.execute(
            text(
                "INSERT INTO members (shop_id, customer_id, created_at) "
                "SELECT :s, 'c' || g, now() FROM generate_series(1, :n) g"
            ),
            {"s": shop_id, "n": rows},
        )
        await conn.commit()
        # The server's activity counts arrive within a second; here, at once.
        await conn.execute(text("SELECT pg_stat_force_next_flush()"))
        await conn.commit()
        for _ in range(50):
            changed = await conn.scalar(_CHANGED)
            await conn.commit()
            if changed is not None and changed >= rows:
                return
            await asyncio.sleep(0.1)
    raise AssertionError("the server never counted the new members")


class TestStaleStatistics:
    async def test_a_table_filled_after_an_empty_analyze_is_analyzed_and_looked_up_by_key(
        self, state: AppState
    ) -> None:
        if state.db.dialect != "postgresql":
            # SQLite plans a key lookup on its index without statistics: nothing to keep.
            assert await statistics.analyze_stale(state.db) == []
            return
        shop = await make_shopify_shop(state)
        await _fill_after_an_empty_analyze(state.db, shop.shop_id, 5_000)
        # Planned as if the table were still empty: the shop's rows read and compared.
        before = await _members_plan(state.db, shop.shop_id)
        assert "customer_id" not in _index_conditions(before), before

        assert "members" in await statistics.analyze_stale(state.db)
        after = await _members_plan(state.db, shop.shop_id)
        assert "customer_id" in _index_conditions(after), after
        # Analyzed now: the next check leaves it alone.
        assert "members" not in await statistics.analyze_stale(state.db)

    async def test_the_worker_loop_analyzes_a_stale_table(self, state: AppState) -> None:
        if state.db.dialect != "postgresql":
            return  # the loop's check is PostgreSQL's only (the test above)
        shop = await make_shopify_shop(state)
        await _fill_after_an_empty_analyze(state.db, shop.shop_id, 1_000)
        runner = Runner(state.db, state.shops, state.settings, sources=[], periodic=[])
        stop = asyncio.Event()
        task = asyncio.create_task(runner.run_forever(stop))
        try:
            for _ in range(50):
                await asyncio.sleep(0.1)
                if "customer_id" in _index_conditions(await _members_plan(state.db, shop.shop_id)):
                    break
            else:
                raise AssertionError("the worker left members planned as empty")
        finally:
            stop.set()
            await asyncio.wait_for(task, 5)


def _index_conditions(plan: str) -> str:
    return "\n".join(line for line in plan.splitlines() if "Index Cond" in line)
