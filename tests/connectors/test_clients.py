"""``StoreClients``: a job reaches each shop's own store with the shop's sealed credentials."""

from __future__ import annotations

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
