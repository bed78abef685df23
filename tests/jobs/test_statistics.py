"""The worker keeps planner statistics fresh when PostgreSQL's autovacuum is off."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest
from sqlalchemy import text

from app.db import Database
from app.jobs import statistics
from app.jobs.statistics import StatisticsKeeper


async def _autovacuum(db: Database) -> str | None:
    if db.dialect != "postgresql":
        return None
    async with db.reader.connect() as conn:
        return str(await conn.scalar(text("SELECT current_setting('autovacuum')")))


async def _last_analyzed(db: Database) -> datetime | None:
    async with db.reader.connect() as conn:
        value = await conn.scalar(
            text("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'postings'")
        )
    return value if isinstance(value, datetime) else None


async def test_tables_are_analyzed_as_they_grow_only_when_autovacuum_is_off(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(statistics, "MIN_GROWTH", 50)
    keeper = StatisticsKeeper(db)
    autovacuum = await _autovacuum(db)
    if autovacuum != "off":
        # SQLite has no planner statistics to keep; with autovacuum on, PostgreSQL keeps them.
        for _ in range(3):
            await keeper.after_batch(100)
        assert keeper._enabled is False
        return

    async with db.reader.connect() as conn:  # analyzed before: counting starts from here
        await conn.execute(text("ANALYZE ledger_transactions"))
    before = await _last_analyzed(db)
    await keeper.after_batch(30)  # 30 < 50 events: not yet
    await asyncio.sleep(0.3)
    assert await _last_analyzed(db) == before
    await keeper.after_batch(30)  # 60 ≥ 50: analyzed, beside the worker
    first = await _analyzed_after(db, before)
    await keeper.after_batch(49)  # the ledger is empty: the next is after MIN_GROWTH again
    await asyncio.sleep(0.3)
    assert await _last_analyzed(db) == first
    await keeper.after_batch(1)
    await _analyzed_after(db, first)
    await keeper.close()


async def _analyzed_after(db: Database, previous: datetime | None) -> datetime:
    for _ in range(100):
        value = await _last_analyzed(db)
        if value is not None and (previous is None or value > previous):
            return value
        await asyncio.sleep(0.05)
    raise AssertionError("the tables were not analyzed")


async def test_a_ledger_never_analyzed_is_analyzed_at_the_first_batch(db: Database) -> None:
    if await _autovacuum(db) != "off":  # SQLite, or autovacuum on: nothing for the keeper
        keeper = StatisticsKeeper(db)
        await keeper.after_batch(1)
        assert keeper._enabled is False
        return
    # As a restored or bulk-loaded database is: no statistics at all (PostgreSQL's -1).
    async with db.reader.connect() as conn:
        await conn.execute(
            text("UPDATE pg_class SET reltuples = -1 WHERE oid = 'ledger_transactions'::regclass")
        )
    before = await _last_analyzed(db)
    keeper = StatisticsKeeper(db)
    await keeper.after_batch(1)
    await _analyzed_after(db, before)
    await keeper.close()


async def test_a_worker_started_on_a_large_ledger_waits_for_it_to_double(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(statistics, "MIN_GROWTH", 50)
    if await _autovacuum(db) != "off":  # SQLite, or autovacuum on: nothing for the keeper
        return
    # Statistics that say the ledger holds 300 transactions, as a large one's would.
    async with db.reader.connect() as conn:
        await conn.execute(text("ANALYZE ledger_transactions"))
        await conn.execute(
            text("UPDATE pg_class SET reltuples = 300 WHERE oid = 'ledger_transactions'::regclass")
        )
    before = await _last_analyzed(db)
    keeper = StatisticsKeeper(db)
    await keeper.after_batch(60)  # past MIN_GROWTH, but the ledger has not doubled
    await keeper.after_batch(200)
    assert keeper._task is None  # no ANALYZE started
    await keeper.after_batch(40)  # 300 events: it has
    await _analyzed_after(db, before)
    await keeper.close()
