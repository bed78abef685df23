"""Balance reads on the hot path: run on the driver, batched on PostgreSQL, never mixed up."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, text

from app.db import Database
from app.ledger.models import LedgerMember
from app.main import create_app
from app.plain_sql import PlainReads
from app.state import AppState
from tests.conftest import ShopifyShop, make_shopify_shop
from tests.payloads import dumps, shopify_order


async def _give(client: httpx.AsyncClient, shop: ShopifyShop, customer: str, points: int) -> None:
    r = await client.post(
        f"/api/v1/members/{customer}/adjustments",
        json={"points": points, "reason": "welcome gift", "idempotency_key": f"gift-{customer}"},
        headers=shop.auth,
    )
    assert r.status_code == 201, r.text


async def test_many_concurrent_reads_each_get_their_own_member_of_their_own_shop(
    client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
) -> None:
    other = await make_shopify_shop(state, domain="other-shop.myshopify.com")
    for n in range(1, 21):
        await _give(client, shopify_shop, str(n), n)
        await _give(client, other, str(n), 1000 + n)  # same customer ids, another shop
    asks = [(shop, str(n)) for n in range(1, 23) for shop in (shopify_shop, other)]

    answers = await asyncio.gather(
        *[client.get(f"/api/v1/members/{customer}", headers=shop.auth) for shop, customer in asks]
    )

    for (shop, customer), answer in zip(asks, answers, strict=True):
        if int(customer) > 20:
            assert answer.status_code == 404
            assert answer.json()["error"]["code"] == "member_not_found"
            continue
        expected = int(customer) + (1000 if shop is other else 0)
        assert answer.status_code == 200
        assert answer.json()["customer_id"] == customer
        assert answer.json()["points"]["available"] == expected


async def test_a_read_after_an_adjustment_sees_it(
    client: httpx.AsyncClient, shopify_shop: ShopifyShop
) -> None:
    for n in range(5):
        await _give(client, shopify_shop, "77", 1) if n == 0 else None
        r = await client.post(
            "/api/v1/members/77/adjustments",
            json={"points": 3, "reason": "bonus", "idempotency_key": f"bonus-{n}"},
            headers=shopify_shop.auth,
        )
        assert r.status_code == 201
        reads = await asyncio.gather(
            *[client.get("/api/v1/members/77", headers=shopify_shop.auth) for _ in range(5)]
        )
        assert {r.json()["points"]["available"] for r in reads} == {1 + 3 * (n + 1)}


def _sqlite_file(tmp_path: Path) -> Path:
    path = tmp_path / "plain.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(
        "CREATE TABLE ledger_members (id INTEGER PRIMARY KEY, shop_id INTEGER, owner TEXT,"
        " lifetime_earned INTEGER, created_at TIMESTAMP)"
    )
    conn.execute("INSERT INTO ledger_members (shop_id, owner, lifetime_earned) VALUES (1, 'a', 5)")
    conn.commit()
    conn.close()
    return path


_LIFETIME = select(LedgerMember.lifetime_earned).where(
    LedgerMember.shop_id == 1, LedgerMember.owner == "a"
)


async def test_sqlite_read_waits_through_the_engine_when_the_file_is_locked(
    tmp_path: Path,
) -> None:
    # A writer in exclusive locking mode makes every other connection's read SQLITE_BUSY. The
    # read on the event loop must not fail (nor block the loop): it goes through the engine's
    # own thread, which waits for the lock.
    path = _sqlite_file(tmp_path)
    locked = threading.Event()
    unlock = threading.Event()

    def hold_exclusive_lock() -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA locking_mode=EXCLUSIVE")
        conn.execute("BEGIN EXCLUSIVE")
        conn.execute("UPDATE ledger_members SET lifetime_earned = 6")
        locked.set()
        unlock.wait(10)
        conn.execute("COMMIT")
        conn.close()

    holder = threading.Thread(target=hold_exclusive_lock)
    holder.start()
    db = Database(f"sqlite+aiosqlite:///{path}")
    try:
        assert await asyncio.to_thread(locked.wait, 10)
        with pytest.raises(sqlite3.OperationalError, match="locked"):  # what the fast path meets
            sqlite3.connect(path, timeout=0).execute("SELECT 1 FROM ledger_members").fetchall()
        read = asyncio.create_task(db.fetch_plain(_LIFETIME, {}))
        await asyncio.sleep(0.3)
        assert not read.done()  # waiting in the engine's thread while the loop runs on
        unlock.set()
        assert await asyncio.wait_for(read, 10) == [(6,)]
        assert await db.fetch_plain(_LIFETIME, {}) == [(6,)]  # and the fast path again
    finally:
        unlock.set()
        await asyncio.to_thread(holder.join)
        await db.dispose()


async def test_a_statement_needing_type_conversion_is_refused(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{_sqlite_file(tmp_path)}")
    try:
        with pytest.raises(TypeError, match="not a plain read"):
            await PlainReads(db.reader).fetch(select(LedgerMember.created_at), {})
    finally:
        await db.dispose()


async def test_a_customer_id_no_database_could_hold_is_a_422_and_harms_no_other_read(
    client: httpx.AsyncClient, shopify_shop: ShopifyShop
) -> None:
    await _give(client, shopify_shop, "5", 50)
    answers = await asyncio.gather(
        client.get("/api/v1/members/%00", headers=shopify_shop.auth),
        client.get("/api/v1/members/" + "9" * 65, headers=shopify_shop.auth),
        *[client.get("/api/v1/members/5", headers=shopify_shop.auth) for _ in range(5)],
    )
    assert [a.status_code for a in answers] == [422, 422] + [200] * 5
    assert answers[0].json()["error"]["code"] == "validation_error"
    assert {a.json()["points"]["available"] for a in answers[2:]} == {50}


async def test_one_failing_key_in_a_batch_fails_only_its_own_request(
    client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
) -> None:
    # Whatever makes a lookup fail (here a key the driver refuses, past the API's checks), the
    # other requests that shared its batch get their answers.
    await _give(client, shopify_shop, "5", 50)
    reader = state.balances
    answers = await asyncio.gather(
        reader.get(shopify_shop.shop_id, "5"),
        reader.get(shopify_shop.shop_id, "bad\x00key"),
        reader.get(shopify_shop.shop_id, "5"),
        return_exceptions=True,
    )
    assert [type(a).__name__ for a in answers] == [
        "Balance",
        "MemberNotFound" if state.db.dialect == "sqlite" else "CharacterNotInRepertoireError",
        "Balance",
    ]


async def test_reads_and_intake_recover_when_the_server_drops_every_connection(
    state: AppState, shopify_shop: ShopifyShop
) -> None:
    transport = httpx.ASGITransport(
        app=create_app(state.settings, state), raise_app_exceptions=False
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://vafa.test") as client:
        await _recover_after_a_restart(client, state, shopify_shop)


async def _recover_after_a_restart(
    client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
) -> None:
    # A database restart or failover: every pooled connection is dead. A request may fail
    # once while the pool finds out (the platform retries a delivery; SQLAlchemy's own paths,
    # such as the shop lookup, behave so too), and then everything works again: no dead
    # connection goes on being handed out.
    await _give(client, shopify_shop, "5", 50)
    await asyncio.gather(
        *[client.get("/api/v1/members/5", headers=shopify_shop.auth) for _ in range(3)]
    )
    if state.db.dialect == "postgresql":
        async with state.db.reader.connect() as conn:
            killed = await conn.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        assert killed
    else:  # SQLite's nearest equivalent: every pooled connection closed underneath
        await state.db.reader.dispose()
    reads = [
        (await client.get("/api/v1/members/5", headers=shopify_shop.auth)).status_code
        for _ in range(6)
    ]
    assert reads[2:] == [200] * 4, reads
    assert reads.count(500) <= 1, reads
    stored = []
    for i in range(6):
        body = dumps(shopify_order(9100 + i))
        r = await client.post(
            "/webhooks/shopify",
            content=body,
            headers=shopify_shop.headers(body, "orders/paid", event_id=f"after-{i}"),
        )
        stored.append(r.status_code)
    assert stored[2:] == [200] * 4, stored
    assert stored.count(500) <= 1, stored


async def test_sqlite_busy_recovery_also_goes_through_the_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Python reports SQLite's extended codes: a WAL recovery in progress is
    # SQLITE_BUSY_RECOVERY (261), not SQLITE_BUSY (5). Either way the read must not fail.
    class Recovering:
        def execute(self, *_: object) -> None:
            error = sqlite3.OperationalError("database is locked")
            error.sqlite_errorcode = 261
            raise error

    db = Database(f"sqlite+aiosqlite:///{_sqlite_file(tmp_path)}")
    try:
        monkeypatch.setattr(db._plain, "_sqlite_connection", Recovering)
        assert await db.fetch_plain(_LIFETIME, {}) == [(5,)]
    finally:
        await db.dispose()
