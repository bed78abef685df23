"""When every database connection is in use, a request is answered 503 with Retry-After."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.db import Database
from app.main import create_app
from app.state import AppState
from tests.conftest import ShopifyShop, make_shopify_shop


@pytest.fixture
async def small_db(settings: Settings, db: Database) -> AsyncIterator[Database]:
    # The same (emptied) database as ``db``; one connection per pool on PostgreSQL, while
    # SQLite's pools keep their fixed sizes.
    database = Database(settings.database_url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    yield database
    await database.dispose()


@pytest.fixture
def small_state(settings: Settings, small_db: Database) -> AppState:
    # Keys checked once are remembered, so that only the route's own session needs the pool.
    return AppState.build(settings.model_copy(update={"shop_cache_seconds": 60.0}), small_db)


@pytest.fixture
async def small(settings: Settings, small_state: AppState) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(settings, small_state))
    async with httpx.AsyncClient(transport=transport, base_url="http://vafa.test") as c:
        yield c


@contextlib.asynccontextmanager
async def _every_connection_of(engine: AsyncEngine) -> AsyncIterator[None]:
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(engine.pool.size()):  # type: ignore[attr-defined]
            await stack.enter_async_context(engine.connect())
        yield


async def _shop(client: httpx.AsyncClient, state: AppState) -> ShopifyShop:
    shop = await make_shopify_shop(state)
    r = await client.get("/api/v1/members/1/entries", headers=shop.auth)
    assert r.status_code == 404  # served, and the key is now remembered
    return shop


class TestPoolExhausted:
    async def test_a_read_while_every_reader_connection_is_held_is_a_503(
        self, small: httpx.AsyncClient, small_state: AppState, small_db: Database
    ) -> None:
        shop = await _shop(small, small_state)
        async with _every_connection_of(small_db.reader):
            r = await small.get("/api/v1/members/1/entries", headers=shop.auth)
        assert r.status_code == 503
        assert r.headers["retry-after"] == "2"
        assert r.json()["error"]["code"] == "database_busy"
        r = await small.get("/api/v1/members/1/entries", headers=shop.auth)
        assert r.status_code == 404  # served again once the connections are back

    async def test_an_adjustment_while_every_writer_connection_is_held_is_a_503(
        self, small: httpx.AsyncClient, small_state: AppState, small_db: Database
    ) -> None:
        shop = await _shop(small, small_state)
        body = {"points": 5, "reason": "goodwill", "idempotency_key": "busy"}
        async with _every_connection_of(small_db.writer):
            r = await small.post("/api/v1/members/1/adjustments", json=body, headers=shop.auth)
        assert r.status_code == 503
        assert int(r.headers["retry-after"]) > 0
        assert r.json()["error"]["code"] == "database_busy"
        # Nothing was posted: the retry is the first adjustment.
        r = await small.post("/api/v1/members/1/adjustments", json=body, headers=shop.auth)
        assert r.status_code == 201
        assert r.json()["member"]["points"]["available"] == 5
