"""Bulk inserts on the driver (app.plain_sql), as group commit uses them, on both engines."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from sqlalchemy import select, text

from app.db import _sqlite_pragmas
from app.orm import table_of
from app.plain_sql import PlainWrites
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


class _OtherProcess:
    """Another process's connection in the middle of a write transaction that stored ``key``
    (a `vafa` command, a second `vafa serve`)."""

    def __init__(self, state: AppState) -> None:
        self.url = state.db.writer.url
        self._sqlite: sqlite3.Connection | None = None
        self._pg: asyncpg.Connection | None = None

    async def begin_storing(self, row: dict[str, Any]) -> None:
        columns = ", ".join(row)
        if USES_POSTGRES:
            self._pg = await asyncpg.connect(
                self.url.set(drivername="postgresql").render_as_string(hide_password=False)
            )
            await self._pg.execute("BEGIN")
            marks = ", ".join(f"${i}" for i in range(1, len(row) + 1))
            await self._pg.execute(
                f"INSERT INTO webhook_events ({columns}) VALUES ({marks})", *row.values()
            )
        else:
            assert self.url.database is not None
            self._sqlite = sqlite3.connect(self.url.database, isolation_level=None)
            self._sqlite.execute("BEGIN IMMEDIATE")
            marks = ", ".join("?" * len(row))
            values = [v.isoformat(" ") if isinstance(v, datetime) else v for v in row.values()]
            self._sqlite.execute(f"INSERT INTO webhook_events ({columns}) VALUES ({marks})", values)

    async def commit(self) -> None:
        if self._pg is not None:
            await self._pg.execute("COMMIT")
            await self._pg.close()
        if self._sqlite is not None:
            self._sqlite.execute("COMMIT")
            self._sqlite.close()


async def test_an_insert_waits_for_another_process_writing_and_the_loop_runs_on(
    state: AppState, shopify_shop: ShopifyShop
) -> None:
    """On SQLite the bulk insert runs on the event loop with no busy timeout: when another
    process holds the write lock it goes through the engine, which waits on its own thread. On
    PostgreSQL the insert waits for the other transaction's key. Either way the loop runs on,
    and the other process's row is stored once."""
    shop = shopify_shop.shop_id
    other = _OtherProcess(state)
    await other.begin_storing(_row(shop, "k"))
    insert = asyncio.create_task(
        state.db.insert_ignore_returning(
            TABLE, [_row(shop, "k"), _row(shop, "m")], CONFLICT, RETURNING
        )
    )
    started = time.monotonic()
    for _ in range(20):  # the loop keeps turning while the insert waits
        await asyncio.sleep(0.01)
    assert time.monotonic() - started < 5
    assert not insert.done()
    await other.commit()
    inserted = await asyncio.wait_for(insert, 30)
    assert [(s, k) for s, k, _ in inserted] == [(shop, "m")]  # "k" was the other's
    # And the next insert runs as before.
    again = await state.db.insert_ignore_returning(
        TABLE, [_row(shop, "m"), _row(shop, "n")], CONFLICT, RETURNING
    )
    assert [(s, k) for s, k, _ in again] == [(shop, "n")]
    assert sorted(e.dedupe_key for e in await _stored(state)) == ["k", "m", "n"]


def _slow_commits(seconds: float) -> Callable[[sqlite3.Connection], None]:
    """The engine's settings, and every COMMIT made slow, as on a slow disk."""

    def configure(conn: sqlite3.Connection) -> None:
        _sqlite_pragmas(conn)
        conn.set_trace_callback(lambda sql: time.sleep(seconds) if sql == "COMMIT" else None)

    return configure


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


class TestSqliteCommitOnAThread:
    """On a SQLite file the statements run on the event loop and the COMMIT (the fsync) on a
    thread, so that a slow disk never stands the loop still."""

    @staticmethod
    def _writes(state: AppState, seconds: float) -> PlainWrites:
        return PlainWrites(state.db.writer, configure_sqlite=_slow_commits(seconds))

    async def test_a_slow_commit_leaves_the_loop_running_and_is_durable_on_return(
        self, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        if USES_POSTGRES:  # one statement in autocommit: no COMMIT of its own to move
            assert not PlainWrites(state.db.writer, _sqlite_pragmas)._sqlite_path
            return
        writes = self._writes(state, 0.3)
        shop = shopify_shop.shop_id
        async with _ticking() as ticks:
            inserted = await writes.insert_ignore_returning(
                TABLE, [_row(shop, "a")], CONFLICT, RETURNING
            )
        assert [(s, k) for s, k, _ in inserted] == [(shop, "a")]
        # Committed before the caller heard of it: another connection sees the row.
        assert [e.dedupe_key for e in await _stored(state)] == ["a"]
        assert ticks() >= 10  # standing still for 0.3 s, the loop would have ticked once
        await writes.close()

    async def test_a_caller_gone_during_the_commit_leaves_the_next_write_working(
        self, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        if USES_POSTGRES:
            return
        writes = self._writes(state, 0.2)
        shop = shopify_shop.shop_id
        first = asyncio.create_task(
            writes.insert_ignore_returning(TABLE, [_row(shop, "a")], CONFLICT, RETURNING)
        )
        await asyncio.sleep(0.05)  # its COMMIT is under way on the thread
        first.cancel()
        # The next write waits for that COMMIT, then runs (rather than beginning a transaction
        # inside it); the first row is stored regardless.
        second = await writes.insert_ignore_returning(TABLE, [_row(shop, "b")], CONFLICT, RETURNING)
        assert [(s, k) for s, k, _ in second] == [(shop, "b")]
        assert first.cancelled()
        await writes.close()
        assert [e.dedupe_key for e in await _stored(state)] == ["a", "b"]


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
