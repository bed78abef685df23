"""shop/redact: every row of the shop, in every table that carries a shop id, deleted; another
shop untouched. The tables are read from the migrated database, so a table added without the
privacy code knowing it fails here."""

from __future__ import annotations

import httpx
from sqlalchemy import inspect, text

from app.privacy import tables
from app.state import AppState
from tests.conftest import fixture_json, make_shopify_shop
from tests.fakes.shopify import FakeShopify
from tests.payloads import dumps, shopify_order
from tests.privacy.scenario import build, deliver, ledger_problems, settle, vafa
from tests.signing import shopify_headers


async def _shop_tables_in_database(state: AppState) -> list[str]:
    """Tables with a shop_id column, as the migrations made them."""

    def read(conn: object) -> list[str]:
        inspector = inspect(conn)
        return sorted(
            name
            for name in inspector.get_table_names()
            if any(c["name"] == "shop_id" for c in inspector.get_columns(name))
        )

    async with state.db.writer.connect() as conn:
        return await conn.run_sync(read)


async def _rows(state: AppState, shop_id: int) -> dict[str, int]:
    counts = {}
    async with state.db.writer.connect() as conn:
        for name in await _shop_tables_in_database(state):
            query = text(f'SELECT count(*) FROM "{name}" WHERE shop_id = :s')
            counts[name] = int((await conn.execute(query, {"s": shop_id})).scalar_one())
        query = text("SELECT count(*) FROM shops WHERE id = :s")
        counts["shops"] = int((await conn.execute(query, {"s": shop_id})).scalar_one())
    return counts


async def test_every_table_with_a_shop_id_is_one_a_shop_redaction_deletes_from(
    state: AppState,
) -> None:
    in_database = set(await _shop_tables_in_database(state))
    deleted = {t.name for t in tables.shop_tables()}
    assert in_database - deleted == set(), "tables a shop redaction would leave behind"
    assert tables.shop_tables()[-1].name == "shops"  # the shop goes after its rows


class TestShopRedact:
    async def test_the_shops_rows_are_deleted_everywhere_and_another_shop_keeps_its_own(
        self, client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify
    ) -> None:
        s = await build(client, state, fake_shopify)
        other = await make_shopify_shop(state, domain="neighbour.myshopify.com")
        body = dumps(shopify_order(8001, customer_id=55, merchandise="40.00"))
        r = await client.post("/webhooks/shopify", content=body,
                              headers=other.headers(body, "orders/paid"))  # fmt: skip
        assert r.status_code == 200
        await deliver(
            client, s.shop, "app/uninstalled", fixture_json("shopify/app-uninstalled.json")
        )
        await settle(state)
        before = await _rows(state, s.shop.shop_id)
        populated = {name for name, n in before.items() if n}
        assert populated >= {"webhook_events", "members", "accounts", "ledger_transactions",
                             "postings", "point_lots", "orders", "order_refunds", "rewards",
                             "redemptions", "holds", "jobs", "shops"}  # fmt: skip
        theirs = await _rows(state, other.shop_id)
        assert theirs["ledger_transactions"] > 0

        await deliver(client, s.shop, "shop/redact", fixture_json("shopify/shop-redact.json"))
        await settle(state)

        assert {name: n for name, n in (await _rows(state, s.shop.shop_id)).items() if n} == {}
        assert await _rows(state, other.shop_id) == theirs
        assert await ledger_problems(state, other.shop_id) == []
        # The shop is gone: its deliveries are refused like any stranger's.
        body = dumps(shopify_order(9100, merchandise="10.00"))
        assert s.shop.domain is not None
        headers = shopify_headers(
            body, secret=s.shop.webhook_secret, topic="orders/paid", domain=s.shop.domain
        )
        r = await client.post("/webhooks/shopify", content=body, headers=headers)
        assert r.status_code == 401

    async def test_the_cli_deletes_a_shop_only_when_told_twice(
        self, client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify, env: str
    ) -> None:
        s = await build(client, state, fake_shopify)
        shop = str(s.shop.shop_id)
        refused = vafa("privacy", "delete-shop", "--shop", shop)
        assert refused.exit_code == 1
        assert "--yes" in refused.stderr
        assert (await _rows(state, s.shop.shop_id))["shops"] == 1
        done = vafa("privacy", "delete-shop", "--shop", shop, "--yes")
        assert done.exit_code == 0, done.output
        assert {name: n for name, n in (await _rows(state, s.shop.shop_id)).items() if n} == {}
        again = vafa("privacy", "delete-shop", "--shop", shop, "--yes")
        assert again.exit_code == 1
        assert f"no shop {shop}" in again.stderr
