"""Bulk inserts on the driver (app.plain_writes), as group commit uses them, on both engines."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable
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


@contextlib.asynccontextmanager
async def _ticking() -> AsyncIterator[Callable[[], int]]:
    """Counts the event loop's turns of 10 ms while the block runs: a loop stood still by a
    blocking call counts none."""
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        yield lambda: ticks
    finally:
        ticker.cancel()


class TestSqliteWriter:
    """Where SQLite writes run: the statements on the event loop, the COMMIT on a thread."""

    @staticmethod
    def _writer(
        tmp_path: Path, configure: Callable[[sqlite3.Connection], None] = _as_the_engine_does
    ) -> SqliteWriter:
        path = tmp_path / "w.db"
        with sqlite3.connect(path) as setup:
            setup.execute("PRAGMA journal_mode=WAL")
            setup.execute("CREATE TABLE t (n INTEGER)")
        return SqliteWriter(str(path), configure=configure)

    @staticmethod
    def _insert(n: int, ran_on: list[str]) -> Callable[[sqlite3.Connection], list[Any]]:
        def work(conn: sqlite3.Connection) -> list[Any]:
            ran_on.append(threading.current_thread().name)
            conn.execute("INSERT INTO t VALUES (?)", (n,))
            return [(n,)]

        return work

    @staticmethod
    def _slow_commits(seconds: float) -> Callable[[sqlite3.Connection], None]:
        """The engine's settings, and every COMMIT made slow, as on a slow disk."""

        def configure(conn: sqlite3.Connection) -> None:
            _as_the_engine_does(conn)
            conn.set_trace_callback(lambda sql: time.sleep(seconds) if sql == "COMMIT" else None)

        return configure

    @classmethod
    async def _cancelled_during_its_commit(cls, writer: SqliteWriter, n: int) -> asyncio.Task[Any]:
        """A write whose caller goes away while its (slow) COMMIT is under way on the thread."""
        write = asyncio.create_task(writer.run(cls._insert(n, [])))
        await asyncio.sleep(0.05)
        write.cancel()
        return write

    @staticmethod
    def _another_process_writing(tmp_path: Path) -> sqlite3.Connection:
        """A connection in the middle of a write transaction, as a `vafa` command would be."""
        other = sqlite3.connect(tmp_path / "w.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        return other

    @staticmethod
    def _stored(tmp_path: Path) -> list[int]:
        with sqlite3.connect(tmp_path / "w.db") as check:
            return [n for (n,) in check.execute("SELECT n FROM t ORDER BY n")]

    async def test_a_slow_commit_leaves_the_loop_running_and_is_durable_on_return(
        self, tmp_path: Path
    ) -> None:
        writer = self._writer(tmp_path, self._slow_commits(0.3))
        ran_on: list[str] = []
        async with _ticking() as ticks:
            assert await writer.run(self._insert(1, ran_on)) == [(1,)]
        # Committed before the caller heard of it: another connection sees the row.
        assert self._stored(tmp_path) == [1]
        # The statements ran on the loop; the loop went on for the 0.3 s the COMMIT took
        # (standing still, it would have ticked once at most).
        assert ran_on == [threading.main_thread().name]
        assert ticks() >= 10
        await writer.close()

    async def test_a_caller_gone_during_the_commit_leaves_the_next_write_working(
        self, tmp_path: Path
    ) -> None:
        writer = self._writer(tmp_path, self._slow_commits(0.2))
        first = await self._cancelled_during_its_commit(writer, 1)
        # The next write waits for that COMMIT, then runs as usual on the loop (rather than
        # beginning a transaction inside it, or on a connection in use on the thread); the
        # first row is stored regardless.
        ran_on: list[str] = []
        async with _ticking() as ticks:
            assert await writer.run(self._insert(2, ran_on)) == [(2,)]
        assert ran_on == [threading.main_thread().name]
        assert ticks() >= 5  # the loop ran on for the ~0.15 s left of that COMMIT
        assert first.cancelled()
        assert self._stored(tmp_path) == [1, 2]
        await writer.close()

    async def test_a_database_locked_by_another_process_is_waited_for_off_the_loop(
        self, tmp_path: Path
    ) -> None:
        writer = self._writer(tmp_path)
        other = self._another_process_writing(tmp_path)
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
        assert self._stored(tmp_path) == [1]

    async def test_closing_while_a_write_waits_for_a_commit_loses_nothing(
        self, tmp_path: Path
    ) -> None:
        writer = self._writer(tmp_path, self._slow_commits(0.2))
        await self._cancelled_during_its_commit(writer, 1)
        second = asyncio.create_task(writer.run(self._insert(2, [])))  # waits for it
        await asyncio.sleep(0.01)
        # Shutting down meanwhile: the write already waiting goes first, never on a
        # connection closed under it.
        await writer.close()
        assert await second == [(2,)]
        assert self._stored(tmp_path) == [1, 2]

    async def test_a_caller_gone_while_waiting_for_another_process_holds_up_no_one(
        self, tmp_path: Path
    ) -> None:
        writer = self._writer(tmp_path)
        other = self._another_process_writing(tmp_path)
        first = asyncio.create_task(writer.run(self._insert(1, [])))  # waits on the thread
        await asyncio.sleep(0.1)
        first.cancel()
        other.execute("COMMIT")
        other.close()
        # The next write waits for the first's transaction on the thread rather than taking
        # the database first and leaving the two to wait on each other until the busy timeout
        # gives up on the first (whose row was then lost).
        ran_on: list[str] = []
        assert await writer.run(self._insert(2, ran_on)) == [(2,)]
        assert ran_on == [threading.main_thread().name]
        assert self._stored(tmp_path) == [1, 2]
        await writer.close()

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
