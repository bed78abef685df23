"""The catalog calls on their own, over real HTTP against the fake stores: Shopify's products in
batches with every page of their collections, WooCommerce's products ``include``-d a page of
100 at a time, and the stores' refusals as the typed errors the event queue retries on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from app.connectors.shopify.client import ShopifyClient
from app.connectors.shopify.tokens import FixedToken
from app.connectors.store import MissingScope, StoreRejected, StoreUnauthorized, StoreUnavailable
from app.connectors.woocommerce.client import WooCommerceClient
from app.orm import utcnow
from app.program.settings import ProgramSettings
from app.shops import service as shops
from app.state import AppState
from app.webhooks.models import WebhookEvent
from app.webhooks.processing import EventProcessor
from tests.conftest import WooShop
from tests.fakes.shopify import DEFAULT_TOKEN, FakeShopify
from tests.fakes.woocommerce import FakeWooCommerce
from tests.payloads import dumps
from tests.program.club import Club
from tests.program.test_catalog import woo_catalog_calls, woo_lines_order, woo_program


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(5.0)) as client:
        yield client


class TestShopify:
    async def test_a_product_in_many_collections_has_every_page_read(
        self, fake_shopify: FakeShopify, http: httpx.AsyncClient
    ) -> None:
        handles = tuple(f"c{n:02d}" for n in range(60))
        fake_shopify.add_product(1, product_type="Tea", collections=handles)
        for n in range(2, 13):
            fake_shopify.add_product(n)
        store = ShopifyClient(http, api_url=fake_shopify.base_url, tokens=FixedToken(DEFAULT_TOKEN))

        found = await store.product_groups([str(n) for n in range(1, 14)])

        # 60 collections by handle and id, and the type; 13 is not on the store.
        assert len(found["1"]) == 121
        assert {f"collection:{h}" for h in handles} | {"type:tea"} <= found["1"]
        assert found["2"] == set()
        assert "13" not in found
        # 13 ids in batches of 10, and the first product's collections past the first 50.
        batches = fake_shopify.graphql_requests("VafaProductGroups")
        assert [len(r.variables["ids"]) for r in batches] == [10, 3]
        assert all(r.cost and r.cost["requestedQueryCost"] <= 1000 for r in batches)
        [more] = fake_shopify.graphql_requests("VafaProductCollections")
        assert more.variables["id"] == "gid://shopify/Product/1"

    async def test_a_revoked_token_and_a_5xx_are_typed(
        self, fake_shopify: FakeShopify, http: httpx.AsyncClient
    ) -> None:
        fake_shopify.add_product(1)
        revoked = ShopifyClient(http, api_url=fake_shopify.base_url, tokens=FixedToken("nope"))
        with pytest.raises(StoreUnauthorized):
            await revoked.product_groups(["1"])
        fake_shopify.fail_next(1, status=500)
        store = ShopifyClient(http, api_url=fake_shopify.base_url, tokens=FixedToken(DEFAULT_TOKEN))
        with pytest.raises(StoreUnavailable):
            await store.product_groups(["1"])

    async def test_a_token_without_read_products_is_a_missing_scope_not_a_revoked_token(
        self, fake_shopify: FakeShopify, http: httpx.AsyncClient
    ) -> None:
        fake_shopify.add_product(1, collections=("summer",))
        fake_shopify.set_scopes(DEFAULT_TOKEN, "read_orders,write_customers,write_discounts")
        store = ShopifyClient(http, api_url=fake_shopify.base_url, tokens=FixedToken(DEFAULT_TOKEN))
        with pytest.raises(MissingScope) as denied:
            await store.product_groups(["1"])
        assert not isinstance(denied.value, StoreUnauthorized)
        assert denied.value.scopes == ("read_products",)
        assert "approve" in denied.value.message
        # write_products grants reading them too.
        fake_shopify.set_scopes(DEFAULT_TOKEN, "read_orders,write_products")
        assert "collection:summer" in (await store.product_groups(["1"]))["1"]

    def test_the_fake_refuses_what_shopify_refuses(self, fake_shopify: FakeShopify) -> None:
        query = "query Q($ids: [ID!]!) { nodes(ids: $ids) { id } }"
        too_many = [f"gid://shopify/Product/{n}" for n in range(251)]
        for ids, message in (
            (too_many, "greater than the maximum allowed of 250"),
            (["42"], "Invalid global id '42'"),
        ):
            status, answer, _ = fake_shopify._run(query, {"ids": ids}, "Q")
            assert status == 200
            assert message in answer["errors"][0]["message"]


class TestWooCommerce:
    async def test_products_are_read_a_hundred_at_a_time(
        self, woo_store: FakeWooCommerce, http: httpx.AsyncClient
    ) -> None:
        hats = woo_store.add_product(1, categories=("hats", "%d8%b3%d8%b1"))["categories"]
        for n in range(2, 151):
            woo_store.add_product(n)
        woo = WooCommerceClient(
            http, url=woo_store.url, consumer_key=woo_store.consumer_key,
            consumer_secret=woo_store.consumer_secret, webhook_secret="s",
        )  # fmt: skip

        found = await woo.product_groups([str(n) for n in range(1, 152)] + ["x"])

        ids = {f"category:{c['id']}" for c in hats}
        assert found["1"] == ids | {"category:hats", "category:سر"}  # the slug decoded
        assert found["150"] == set()
        assert "151" not in found  # not on the store; "x" cannot be a WooCommerce id
        calls = woo_catalog_calls(woo_store)
        assert [len(c["include"].split(",")) for c in calls] == [100, 51]

    async def test_wrong_keys_and_an_include_that_is_not_ids_are_refused(
        self, woo_store: FakeWooCommerce, http: httpx.AsyncClient
    ) -> None:
        woo = WooCommerceClient(
            http, url=woo_store.url, consumer_key=woo_store.consumer_key,
            consumer_secret="cs_wrong", webhook_secret="s",
        )  # fmt: skip
        with pytest.raises(StoreUnauthorized):
            await woo.product_groups(["1"])
        r = await http.get(f"{woo_store.url}/wp-json/wc/v3/products", params={"include": "1"})
        assert r.status_code == 401  # no credentials at all
        assert r.json()["code"] == "woocommerce_rest_cannot_view"
        signed = WooCommerceClient(
            http, url=woo_store.url, consumer_key=woo_store.consumer_key,
            consumer_secret=woo_store.consumer_secret, webhook_secret="s",
        )  # fmt: skip
        with pytest.raises(StoreRejected) as refused:
            await signed._request("GET", "/products", params={"include": "1,a"})
        assert refused.value.code == "rest_invalid_param"

    async def test_a_throttled_store_is_not_asked_again_before_it_said(
        self, client: httpx.AsyncClient, state: AppState, woo_store: FakeWooCommerce
    ) -> None:
        async with state.db.write() as session:
            new = await shops.add_woocommerce(
                session, state.vault, url=woo_store.url, consumer_key=woo_store.consumer_key,
                consumer_secret=woo_store.consumer_secret,
                settings=ProgramSettings(currency="IRT"),
            )  # fmt: skip
        assert new.webhook_secret is not None
        assert new.webhook_url is not None
        club = Club(
            client, state, WooShop(new.shop_id, new.admin_api_key, new.webhook_secret,
                                   new.webhook_url),
        )  # fmt: skip
        customer = woo_store.add_customer("sara@example.com")["id"]
        for product, category in ((21, "hats"), (22, "scarves"), (23, "sale")):
            woo_store.add_product(product, categories=(category,))
        await club.set(woo_program(999))
        woo_store.throttle_next(1, retry_after="30")
        body = dumps(woo_lines_order(1042, customer))
        r = await client.post(
            club.shop.webhook_url, content=body, headers=club.shop.headers(body, "order.updated")
        )
        assert r.status_code == 200, r.text
        processor = state.worker.sources[0]
        assert isinstance(processor, EventProcessor)
        before = utcnow()
        await processor.run_once()

        async with state.db.read() as session:
            event = (await session.execute(select(WebhookEvent))).scalars().one()
        assert event.status == "pending"
        assert event.attempts == 1
        assert event.next_attempt_at is not None
        assert event.next_attempt_at >= before + timedelta(seconds=29)
        assert [c.get("include") for c in woo_catalog_calls(woo_store)] == ["21,22,23"]
