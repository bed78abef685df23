"""The reconciliation sweep: orders the store changed since the last sweep, read back and fed
through the webhooks' own reconciliation, so a lost webhook is made good within one interval,
and what was already applied posts nothing new."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select

from app.connectors.clients import StoreClients
from app.jobs.models import JobStatus
from app.ledger.models import LedgerTransaction
from app.orm import utcnow
from app.state import AppState
from app.sync import orders, tasks
from app.sync.models import StoreSync
from tests.fakes.shopify import FakeShopify
from tests.fakes.shopify_orders import order_from_webhook
from tests.fakes.woocommerce import FakeWooCommerce, wc_time
from tests.payloads import shopify_order, woo_order
from tests.signing import woocommerce_headers
from tests.sync.helpers import balance, jobs_of, shopify_on, transactions, woo_on

# woo_order's lines: 9.00 + 20.00 of merchandise, one point per whole unit by default.
WOO_POINTS = 29


INTERVAL = timedelta(minutes=10)  # the default


async def _sweep_now(state: AppState, shop_id: int) -> None:
    """What the scheduler does once the interval has passed, and the worker then."""
    shop = await state.shops.by_id(shop_id)
    assert shop is not None
    later = utcnow() + INTERVAL + timedelta(seconds=1)
    assert await tasks.schedule_sweep(state.db, shop, later) == 1
    await state.worker.drain(now=later)
    [job] = await jobs_of(state, shop_id, tasks.SWEEP)
    assert job.status == JobStatus.DONE, job.last_error


async def _earns(state: AppState, shop_id: int) -> list[str]:
    async with state.db.read() as session:
        keys = await session.scalars(
            select(LedgerTransaction.idempotency_key).where(
                LedgerTransaction.shop_id == shop_id, LedgerTransaction.kind == "earn"
            )
        )
        return sorted(keys)


class TestLostWebhooks:
    async def test_a_woocommerce_order_never_delivered_is_made_good(
        self, state: AppState, woo_store: FakeWooCommerce
    ) -> None:
        customer = woo_store.add_customer("sara@example.com")["id"]
        shop = await woo_on(state, woo_store)
        woo_store.add_order(woo_order(501, customer_id=customer), modified=utcnow())
        await _sweep_now(state, shop.shop_id)
        assert (await balance(state, shop.shop_id, str(customer))).available == WOO_POINTS
        assert await _earns(state, shop.shop_id) == ["order:501:earn"]

    async def test_a_shopify_order_never_delivered_is_made_good(
        self, state: AppState, fake_shopify: FakeShopify
    ) -> None:
        shop_id = await shopify_on(state, fake_shopify)
        fake_shopify.add_customer(1073339475)
        stamp = utcnow().isoformat(timespec="seconds")
        rest = shopify_order(1001, customer_id=1073339475, merchandise="181.09", updated_at=stamp)
        fake_shopify.add_order(order_from_webhook(rest))
        await _sweep_now(state, shop_id)
        assert (await balance(state, shop_id, "1073339475")).available == 181

    async def test_sweeping_again_posts_nothing_new(
        self, state: AppState, stores: StoreClients, woo_store: FakeWooCommerce
    ) -> None:
        customer = woo_store.add_customer("sara@example.com")["id"]
        shop = await woo_on(state, woo_store)
        woo_store.add_order(woo_order(501, customer_id=customer), modified=utcnow())
        await _sweep_now(state, shop.shop_id)
        posted = await transactions(state, shop.shop_id)
        shop_context = await state.shops.by_id(shop.shop_id)
        assert shop_context is not None
        await orders.sweep(state.db, stores, shop_context, timedelta(minutes=5))
        assert await transactions(state, shop.shop_id) == posted
        assert (await balance(state, shop.shop_id, str(customer))).available == WOO_POINTS

    async def test_an_order_its_webhook_delivered_posts_nothing_when_swept(
        self, client: httpx.AsyncClient, state: AppState, woo_store: FakeWooCommerce
    ) -> None:
        customer = woo_store.add_customer("sara@example.com")["id"]
        shop = await woo_on(state, woo_store)
        order = woo_store.add_order(woo_order(501, customer_id=customer), modified=utcnow())
        body = httpx.Request("POST", "/", json=order).content
        assert shop.webhook_secret is not None
        headers = woocommerce_headers(body, secret=shop.webhook_secret, topic="order.updated")
        response = await client.post(shop.webhook_url, content=body, headers=headers)
        assert response.status_code == 200
        await state.worker.drain()
        posted = await transactions(state, shop.shop_id)
        assert posted > 0
        await _sweep_now(state, shop.shop_id)
        assert await transactions(state, shop.shop_id) == posted

    async def test_orders_from_before_the_shop_was_added_are_left_to_the_backfill(
        self, state: AppState, woo_store: FakeWooCommerce
    ) -> None:
        customer = woo_store.add_customer("sara@example.com")["id"]
        shop = await woo_on(state, woo_store)
        woo_store.add_order(
            woo_order(77, customer_id=customer), modified=datetime(2024, 1, 1, tzinfo=UTC)
        )
        await _sweep_now(state, shop.shop_id)
        assert await transactions(state, shop.shop_id) == 0


class TestCursor:
    async def test_the_next_sweep_asks_from_the_newest_change_read_less_the_overlap(
        self, state: AppState, stores: StoreClients, woo_store: FakeWooCommerce
    ) -> None:
        customer = woo_store.add_customer("sara@example.com")["id"]
        shop = await woo_on(state, woo_store)
        changed = utcnow().replace(microsecond=0) + timedelta(minutes=1)
        woo_store.add_order(woo_order(501, customer_id=customer), modified=changed)
        await _sweep_now(state, shop.shop_id)
        async with state.db.read() as session:
            row = await session.get(StoreSync, shop.shop_id)
        assert row is not None
        assert row.orders_cursor == changed
        shop_context = await state.shops.by_id(shop.shop_id)
        assert shop_context is not None
        await orders.sweep(state.db, stores, shop_context, timedelta(minutes=5))
        asked = woo_store.requests_to("GET", "/orders")[-1].query["modified_after"]
        # The client asks from a second before (WooCommerce's whole seconds).
        assert asked == wc_time(changed - timedelta(minutes=5, seconds=1))


class TestSchedule:
    async def test_one_sweep_per_interval_and_never_two_waiting(
        self, state: AppState, woo_store: FakeWooCommerce
    ) -> None:
        shop = await woo_on(state, woo_store)
        context = await state.shops.by_id(shop.shop_id)
        assert context is not None
        # The first sweep reads from when the shop was added, one interval later.
        assert await tasks.schedule_sweep(state.db, context, utcnow()) == 0
        later = utcnow() + INTERVAL + timedelta(seconds=1)
        assert await tasks.schedule_sweep(state.db, context, later) == 1
        assert await tasks.schedule_sweep(state.db, context, later) == 0  # one is waiting
        await state.worker.drain(now=later)
        assert await tasks.schedule_sweep(state.db, context, utcnow()) == 0  # swept just now
        later = utcnow() + INTERVAL + timedelta(seconds=1)
        assert await tasks.schedule_sweep(state.db, context, later) == 1
        assert len(await jobs_of(state, shop.shop_id, tasks.SWEEP)) == 1  # the one job, again

    async def test_the_scheduler_tick_asks_for_the_sweep(
        self, state: AppState, woo_store: FakeWooCommerce
    ) -> None:
        shop = await woo_on(state, woo_store)
        assert (await state.worker.run_scheduled())["sweeps"] == 0  # added just now
        ran = await state.worker.run_scheduled(now=utcnow() + INTERVAL + timedelta(seconds=1))
        assert ran["sweeps"] == 1
        [job] = await jobs_of(state, shop.shop_id, tasks.SWEEP)
        assert job.status == JobStatus.PENDING


class TestWebhooksMadeGood:
    async def test_a_webhook_woocommerce_disabled_is_enabled_again_by_the_sweep(
        self, state: AppState, woo_store: FakeWooCommerce, public_url: str
    ) -> None:
        shop = await woo_on(state, woo_store)
        address = f"{public_url}/webhooks/woocommerce/{shop.shop_id}"
        hook = woo_store.add_webhook("order.updated", address)
        woo_store.disable_webhook(hook["id"])  # after five failed deliveries
        await _sweep_now(state, shop.shop_id)
        statuses = {h["topic"]: h["status"] for h in woo_store.webhooks}
        assert statuses["order.updated"] == "active"
        assert len(woo_store.webhooks) == 6  # and every other topic Vafa needs
        assert woo_store.webhook_secret(hook["id"]) == shop.webhook_secret
