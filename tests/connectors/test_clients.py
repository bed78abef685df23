"""``StoreClients``: a job reaches each shop's own store with the shop's sealed credentials."""

from __future__ import annotations

import asyncio

from app.connectors.clients import StoreClients
from app.shops import service as shops
from app.state import AppState
from tests.fakes.shopify import DEFAULT_TOKEN, FakeShopify
from tests.fakes.woocommerce import FakeWooCommerce


class TestStoreClients:
    async def test_each_shop_is_reached_on_its_own_store(
        self, state: AppState, fake_shopify: FakeShopify, woo_store: FakeWooCommerce
    ) -> None:
        woo_customer = woo_store.add_customer("sara@example.com")
        fake_shopify.add_customer(207119551)
        async with state.db.write() as session:
            shopify = await shops.add_shopify(
                session,
                state.vault,
                domain="clients.myshopify.com",
                access_token=DEFAULT_TOKEN,
                api_secret="webhook-secret",
                api_url=fake_shopify.base_url,
            )
            woo = await shops.add_woocommerce(
                session,
                state.vault,
                url=woo_store.url,
                consumer_key=woo_store.consumer_key,
                consumer_secret=woo_store.consumer_secret,
            )
        stores = StoreClients(state.db, state.vault)
        try:
            await (await stores.for_shop(shopify.shop_id)).set_balance("207119551", 181, "silver")
            await (await stores.for_shop(woo.shop_id)).set_balance(str(woo_customer["id"]), 7, None)
        finally:
            await stores.aclose()
        assert fake_shopify.metafield("207119551", "points")["value"] == "181"
        assert woo_store.meta(woo_customer["id"])["vafa_points"] == "7"

    async def test_a_shops_concurrent_calls_share_its_cost_bucket(
        self, state: AppState, fake_shopify: FakeShopify
    ) -> None:
        """Jobs of one shop each get a client of their own; the store's throttle is the app's
        on that store, so they wait their turn instead of being refused (THROTTLED) together."""
        for n in range(1, 7):
            fake_shopify.add_customer(n)
        async with state.db.write() as session:
            shop = await shops.add_shopify(
                session,
                state.vault,
                domain="bucket.myshopify.com",
                access_token=DEFAULT_TOKEN,
                api_secret="webhook-secret",
                api_url=fake_shopify.base_url,
            )
        stores = StoreClients(state.db, state.vault)
        try:
            await (await stores.for_shop(shop.shop_id)).set_balance("1", 1, None)
            [first] = fake_shopify.graphql_requests()
            assert first.cost is not None
            cost = float(first.cost["requestedQueryCost"])
            # Half a call's cost left, refilled at five calls a second; the answer to the next
            # call tells the client so.
            fake_shopify.set_bucket(maximum=1000, available=cost * 1.5, restore_rate=cost * 5)
            await (await stores.for_shop(shop.shop_id)).set_balance("1", 2, None)

            async def write(customer: int) -> None:
                await (await stores.for_shop(shop.shop_id)).set_balance(str(customer), 9, None)

            await asyncio.gather(*(write(n) for n in range(2, 7)))
        finally:
            await stores.aclose()
        answers = fake_shopify.graphql_requests()
        assert [a.throttled for a in answers] == [False] * 7
        assert all(fake_shopify.metafield(str(n), "points")["value"] == "9" for n in range(2, 7))
