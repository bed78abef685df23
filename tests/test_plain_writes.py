"""Bulk inserts on the driver (app.plain_writes), as group commit uses them, on both engines."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import select, text

from app.orm import table_of
from app.plain_writes import SqliteWriter
from app.state import AppState
from app.webhooks.group_commit import GroupWriter
from app.webhooks.models import EventStatus, WebhookEvent
from tests.conftest import USES_POSTGRES, ShopifyShop

TABLE = table_of(WebhookEvent)
CONFLICT = ("shop_id", "dedupe_key")
RETURNING = ("shop_id", "dedupe_key", "id")
WHEN = datetime(2026, 11, 24, 13, 5, 7, 123456, tzinfo=UTC)


def _row(shop_id: int, key: str, body: bytes = b'{"id": 1}') -> dict[str, Any]:
    return {
        "shop_id": shop_id,
        "topic": "orders/paid",
        "dedupe_key": key,
        "status": EventStatus.PENDING,
        "body": body,
        "headers": "{}",
        "received_at": WHEN,
        "attempts": 0,
        "last_error": None,
    }


async def _stored(state: AppState) -> list[WebhookEvent]:
    async with state.db.read() as session:
        return list((await session.scalars(select(WebhookEvent).order_by(WebhookEvent.id))).all())


async def test_rows_are_stored_as_the_orm_reads_them_and_conflicts_are_skipped(
    state: AppState, shopify_shop: ShopifyShop
) -> None:
    shop = shopify_shop.shop_id
    body = bytes(range(256)) * 40  # binary, and long enough to spill into overflow pages
    first = await state.db.insert_ignore_returning(
        TABLE, [_row(shop, "a", body), _row(shop, "b")], CONFLICT, RETURNING
    )
    assert sorted((s, k) for s, k, _ in first) == [(shop, "a"), (shop, "b")]

    # "a" is already stored: only "c" is inserted, and only "c" comes back.
    second = await state.db.insert_ignore_returning(
        TABLE, [_row(shop, "a"), _row(shop, "c")], CONFLICT, RETURNING
    )
    assert [(s, k) for s, k, _ in second] == [(shop, "c")]

    stored = await _stored(state)
    assert [(e.dedupe_key, e.id) for e in stored] == sorted(
        [(k, i) for _, k, i in first + second], key=lambda pair: pair[1]
    )
    assert stored[0].body == body  # read after the second insert: its "a" changed nothing
    assert {e.received_at for e in stored} == {WHEN}  # aware UTC, to the microsecond
    if USES_POSTGRES:  # migration 0002: bodies compressed with lz4 where the server has it
        async with state.db.read() as session:
            method = await session.scalar(
                text("SELECT pg_column_compression(body) FROM webhook_events WHERE id = :id"),
                {"id": stored[0].id},
            )
        assert method == "lz4"


async def test_a_failing_group_stores_none_of_its_rows_and_the_next_group_works(
    state: AppState, shopify_shop: ShopifyShop
) -> None:
    shop = shopify_shop.shop_id
    refused = asyncpg.ForeignKeyViolationError if USES_POSTGRES else sqlite3.IntegrityError
    with pytest.raises(refused) as failed:
        # The second row names no shop that exists: the foreign key refuses the statement.
        await state.db.insert_ignore_returning(
            TABLE, [_row(shop, "ok"), _row(shop + 1000, "orphan")], CONFLICT, RETURNING
        )
    assert "foreign key" in str(failed.value).lower()
    assert await _stored(state) == []

    again = await state.db.insert_ignore_returning(TABLE, [_row(shop, "ok")], CONFLICT, RETURNING)
    assert [(s, k) for s, k, _ in again] == [(shop, "ok")]


async def test_a_bulk_insert_beside_an_open_write_transaction(
    state: AppState, shopify_shop: ShopifyShop
) -> None:
    shop = shopify_shop.shop_id
    async with state.db.write() as session:
        session.add(WebhookEvent(**_row(shop, "from-the-orm")))
        await session.flush()
        bulk = asyncio.create_task(
            state.db.insert_ignore_returning(TABLE, [_row(shop, "bulk")], CONFLICT, RETURNING)
        )
        if USES_POSTGRES:
            # Written at once, beside the open transaction (a hang here fails the test).
            await asyncio.wait_for(asyncio.shield(bulk), timeout=30)
        else:
            # SQLite has one writer: the bulk insert waits until the transaction commits
            # (instead of failing "database is locked").
            await asyncio.sleep(0.05)
            assert not bulk.done()
    await bulk
    assert [e.dedupe_key for e in await _stored(state)] == ["from-the-orm", "bulk"]


def _as_the_engine_does(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA busy_timeout=30000")  # a writer waits up to 30 s for a lock


class TestSqliteWriter:
    """Where SQLite writes run: on the event loop while the disk keeps up, else on a thread."""

    @staticmethod
    def _writer(tmp_path: Path) -> SqliteWriter:
        path = tmp_path / "w.db"
        with sqlite3.connect(path) as setup:
            setup.execute("PRAGMA journal_mode=WAL")
            setup.execute("CREATE TABLE t (n INTEGER)")
        return SqliteWriter(str(path), configure=_as_the_engine_does)

    @staticmethod
    def _insert(n: int, ran_on: list[str]) -> Callable[[sqlite3.Connection], list[Any]]:
        def work(conn: sqlite3.Connection) -> list[Any]:
            conn.execute("BEGIN IMMEDIATE")
            ran_on.append(threading.current_thread().name)
            conn.execute("INSERT INTO t VALUES (?)", (n,))
            conn.execute("COMMIT")
            return [(n,)]

        return work

    async def test_a_quick_disk_writes_on_the_loop(self, tmp_path: Path) -> None:
        writer = self._writer(tmp_path)
        ticks = iter(itertools.count(0, 1e-6))  # every write "takes" 1 µs
        writer.clock = lambda: next(ticks)
        ran_on: list[str] = []
        for n in range(20):
            assert await writer.run(self._insert(n, ran_on)) == [(n,)]
        await writer.close()
        assert set(ran_on) == {threading.main_thread().name}

    async def test_a_slow_disk_sends_writes_to_the_thread_and_the_loop_tries_again(
        self, tmp_path: Path
    ) -> None:
        writer = self._writer(tmp_path)
        ticks = iter(itertools.count(0, 0.05))  # every write on the loop "takes" 50 ms
        writer.clock = lambda: next(ticks)
        ran_on: list[str] = []
        for n in range(SqliteWriter.THREAD_TURNS + 2):
            await writer.run(self._insert(n, ran_on))
        await writer.close()
        loop_thread = threading.main_thread().name
        # One slow write moves the average past the budget (50 ms × 0.1 > 2 ms) …
        assert ran_on[0] == loop_thread
        # … the next ones run on the thread, then the loop is tried again.
        assert set(ran_on[1 : SqliteWriter.THREAD_TURNS + 1]) == {"vafa-sqlite-write_0"}
        assert ran_on[SqliteWriter.THREAD_TURNS + 1] == loop_thread
        with sqlite3.connect(tmp_path / "w.db") as check:
            assert check.execute("SELECT count(*) FROM t").fetchone() == (len(ran_on),)

    async def test_a_database_locked_by_another_process_is_waited_for_off_the_loop(
        self, tmp_path: Path
    ) -> None:
        writer = self._writer(tmp_path)
        other = sqlite3.connect(tmp_path / "w.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # a `vafa` command in the middle of a write
        ran_on: list[str] = []
        started = time.monotonic()
        write = asyncio.create_task(writer.run(self._insert(1, ran_on)))
        for _ in range(5):  # the loop keeps running while the write waits for the lock …
            await asyncio.sleep(0.01)
        assert not write.done()
        # … instead of standing still in the busy timeout (30 s) of a write made on the loop.
        assert time.monotonic() - started < 10
        other.execute("COMMIT")
        assert await write == [(1,)]
        await writer.close()
        other.close()
        assert ran_on == ["vafa-sqlite-write_0"]

    async def test_closing_twice_is_harmless_and_a_closed_writer_refuses_work(
        self, tmp_path: Path
    ) -> None:
        writer = self._writer(tmp_path)
        await writer.run(self._insert(1, []))
        await writer.close()
        await writer.close()
        with pytest.raises(RuntimeError, match="closed"):
            await writer.run(self._insert(2, []))


async def test_two_groups_in_flight_with_the_same_keys_in_opposite_orders_never_deadlock(
    state: AppState, shopify_shop: ShopifyShop
) -> None:
    """Retried deliveries can land in both of the two groups PostgreSQL writes at once, in any
    order: both groups must succeed, each key stored once (in arrival order, PostgreSQL
    aborted one of such a pair in 52 of 300 tries with a deadlock)."""
    writer = GroupWriter(state.db, TABLE)
    shop = shopify_shop.shop_id
    for round_ in range(20):
        keys = [f"r{round_}-{n:03d}" for n in range(60)]
        forward = [_row(shop, key) for key in keys]
        backward = [_row(shop, key) for key in reversed(keys)]
        first, second = await asyncio.gather(writer._write(forward), writer._write(backward))
        # Every key was inserted by exactly one of the two groups.
        ids = [a if a is not None else b for a, b in zip(first, reversed(second), strict=True)]
        assert None not in ids
        assert sum(a is not None for a in first) + sum(b is not None for b in second) == 60
    stored = await _stored(state)
    assert len(stored) == 20 * 60
    assert len({e.dedupe_key for e in stored}) == 20 * 60
    await writer.close()
