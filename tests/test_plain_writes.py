"""Bulk inserts on the driver (app.plain_writes), as group commit uses them, on both engines."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from sqlalchemy import select

from app.orm import table_of
from app.state import AppState
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
    assert stored[0].body == body
    assert stored[0].body != stored[2].body  # the skipped duplicate changed nothing
    assert {e.received_at for e in stored} == {WHEN}  # aware UTC, to the microsecond


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
        await asyncio.sleep(0.05)
        # SQLite has one writer: the bulk insert queues on the process's write lock (instead of
        # failing "database is locked"); PostgreSQL writes it at once, beside the transaction.
        assert bulk.done() is USES_POSTGRES
    await bulk
    assert [e.dedupe_key for e in await _stored(state)] == ["from-the-orm", "bulk"]
