"""Vafa subscribes the store's webhooks itself, at {VAFA_PUBLIC_URL}/webhooks/…: one
subscription per topic however often it runs, and a job for it when a shop is added."""

from __future__ import annotations

import pytest

from app.connectors.base import Platform
from app.connectors.clients import StoreClients
from app.jobs.models import JobStatus
from app.state import AppState
from app.sync import tasks, webhooks
from tests.fakes.shopify import FakeShopify
from tests.fakes.woocommerce import FakeWooCommerce
from tests.sync.helpers import jobs_of, run_due_jobs, shopify_on, woo_on

SHOPIFY_TOPICS = ["ORDERS_CREATE", "ORDERS_PAID", "ORDERS_UPDATED", "ORDERS_CANCELLED",
                  "REFUNDS_CREATE", "CUSTOMERS_CREATE", "CUSTOMERS_UPDATE"]  # fmt: skip
WOO_TOPICS = ["order.created", "order.updated", "order.deleted", "order.restored",
              "customer.created", "customer.updated"]  # fmt: skip


class TestSyncWebhooks:
    async def test_shopify_gets_one_subscription_per_topic_however_often_it_runs(
        self,
        state: AppState,
        stores: StoreClients,
        fake_shopify: FakeShopify,
        public_url: str,
    ) -> None:
        shop_id = await shopify_on(state, fake_shopify)
        for _ in range(2):
            await webhooks.sync_webhooks(stores, shop_id, Platform.SHOPIFY, public_url)
        assert sorted(h["topic"] for h in fake_shopify.webhooks) == sorted(SHOPIFY_TOPICS)
        assert {h["uri"] for h in fake_shopify.webhooks} == {f"{public_url}/webhooks/shopify"}

    async def test_woocommerce_gets_its_shops_own_address_and_secret(
        self,
        state: AppState,
        stores: StoreClients,
        woo_store: FakeWooCommerce,
        public_url: str,
    ) -> None:
        shop = await woo_on(state, woo_store)
        for _ in range(2):
            await webhooks.sync_webhooks(stores, shop.shop_id, Platform.WOOCOMMERCE, public_url)
        hooks = woo_store.webhooks
        assert sorted(h["topic"] for h in hooks) == sorted(WOO_TOPICS)
        address = f"{public_url}/webhooks/woocommerce/{shop.shop_id}"
        assert {(h["delivery_url"], h["status"]) for h in hooks} == {(address, "active")}
        assert {woo_store.webhook_secret(h["id"]) for h in hooks} == {shop.webhook_secret}

    async def test_without_a_public_url_it_says_what_to_set(
        self, state: AppState, stores: StoreClients, woo_store: FakeWooCommerce
    ) -> None:
        shop = await woo_on(state, woo_store)
        with pytest.raises(webhooks.NoPublicURL, match="VAFA_PUBLIC_URL") as raised:
            await webhooks.sync_webhooks(stores, shop.shop_id, Platform.WOOCOMMERCE, None)
        assert f"/webhooks/woocommerce/{shop.shop_id}" in str(raised.value)
        assert woo_store.webhooks == []


class TestSyncJob:
    async def test_the_job_a_new_shop_asks_for_makes_its_subscriptions(
        self, state: AppState, woo_store: FakeWooCommerce, public_url: str
    ) -> None:
        shop = await woo_on(state, woo_store)
        async with state.db.write() as session:
            await tasks.enqueue_webhook_sync(session, shop.shop_id)
        await run_due_jobs(state)
        assert sorted(h["topic"] for h in woo_store.webhooks) == sorted(WOO_TOPICS)
        [job] = await jobs_of(state, shop.shop_id, webhooks.WEBHOOKS_SYNC)
        assert job.status == JobStatus.DONE

    async def test_the_job_without_a_public_url_finishes_without_calling_the_store(
        self, state: AppState, woo_store: FakeWooCommerce
    ) -> None:
        shop = await woo_on(state, woo_store)
        async with state.db.write() as session:
            await tasks.enqueue_webhook_sync(session, shop.shop_id)
        await run_due_jobs(state)
        [job] = await jobs_of(state, shop.shop_id, webhooks.WEBHOOKS_SYNC)
        assert (job.status, job.attempts) == (JobStatus.DONE, 1)
        assert woo_store.requests == []
