"""`vafa shop backfill`: past orders imported through the same reconciliation, with points
only when the owner asks (``--award``); otherwise recorded, so that a later refund of one takes
back nothing it never gave."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from sqlalchemy import select

from app.connectors.clients import StoreClients
from app.program.models import Order
from app.state import AppState
from app.sync import orders
from tests.fakes.woocommerce import FakeWooCommerce
from tests.payloads import woo_order
from tests.signing import woocommerce_headers
from tests.sync.helpers import adjust, balance, transactions, woo_on

SINCE = datetime(2025, 1, 1, tzinfo=UTC)
PAST = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
WOO_POINTS = 29


async def _backfill(state: AppState, stores: StoreClients, shop_id: int, *, award: bool) -> int:
    shop = await state.shops.by_id(shop_id)
    assert shop is not None
    imported = 0
    async for page in orders.import_since(state.db, stores, shop, SINCE, award=award):
        imported += len(page)
    return imported


async def _order(state: AppState, shop_id: int, order_id: str) -> Order:
    async with state.db.read() as session:
        found = await session.scalar(
            select(Order).where(Order.shop_id == shop_id, Order.order_id == order_id)
        )
    assert found is not None
    return found


async def _deliver(
    client: httpx.AsyncClient, shop_url: str, secret: str | None, order: dict[str, object]
) -> None:
    assert secret is not None
    body = httpx.Request("POST", "/", json=order).content
    headers = woocommerce_headers(body, secret=secret, topic="order.updated")
    response = await client.post(shop_url, content=body, headers=headers)
    assert response.status_code == 200


class TestWithoutAward:
    async def test_past_orders_are_recorded_without_points(
        self, state: AppState, stores: StoreClients, woo_store: FakeWooCommerce
    ) -> None:
        customer = woo_store.add_customer("sara@example.com")["id"]
        shop = await woo_on(state, woo_store)
        woo_store.add_order(woo_order(501, customer_id=customer), modified=PAST)
        woo_store.add_order(woo_order(502, customer_id=customer), modified=PAST)
        woo_store.add_order(
            woo_order(400, customer_id=customer), modified=datetime(2024, 6, 1, tzinfo=UTC)
        )
        assert await _backfill(state, stores, shop.shop_id, award=False) == 2
        recorded = await _order(state, shop.shop_id, "501")
        assert (recorded.known, recorded.backfilled, recorded.merchandise_minor) == (
            True,
            True,
            2900,
        )
        assert await transactions(state, shop.shop_id) == 0

    async def test_a_later_refund_of_one_takes_back_nothing(
        self,
        client: httpx.AsyncClient,
        state: AppState,
        stores: StoreClients,
        woo_store: FakeWooCommerce,
    ) -> None:
        customer = woo_store.add_customer("sara@example.com")["id"]
        shop = await woo_on(state, woo_store)
        await adjust(state, shop.shop_id, 100, str(customer))  # points from elsewhere
        woo_store.add_order(woo_order(501, customer_id=customer), modified=PAST)
        await _backfill(state, stores, shop.shop_id, award=False)
        refunded = woo_order(
            501, customer_id=customer, refunds=[(9001, "-9.00")], modified_gmt="2025-03-02T10:00:00"
        )
        await _deliver(client, shop.webhook_url, shop.webhook_secret, refunded)
        await state.worker.drain()
        assert (await balance(state, shop.shop_id, str(customer))).available == 100
        assert await transactions(state, shop.shop_id) == 1  # the adjustment only

    async def test_an_order_vafa_already_knew_keeps_what_it_earned(
        self,
        client: httpx.AsyncClient,
        state: AppState,
        stores: StoreClients,
        woo_store: FakeWooCommerce,
    ) -> None:
        customer = woo_store.add_customer("sara@example.com")["id"]
        shop = await woo_on(state, woo_store)
        order = woo_store.add_order(woo_order(501, customer_id=customer), modified=PAST)
        await _deliver(client, shop.webhook_url, shop.webhook_secret, order)
        await state.worker.drain()
        assert (await balance(state, shop.shop_id, str(customer))).available == WOO_POINTS
        await _backfill(state, stores, shop.shop_id, award=False)
        assert (await balance(state, shop.shop_id, str(customer))).available == WOO_POINTS
        assert (await _order(state, shop.shop_id, "501")).backfilled is False


class TestWithAward:
    async def test_past_orders_earn_their_points_once(
        self, state: AppState, stores: StoreClients, woo_store: FakeWooCommerce
    ) -> None:
        customer = woo_store.add_customer("sara@example.com")["id"]
        shop = await woo_on(state, woo_store)
        woo_store.add_order(woo_order(501, customer_id=customer), modified=PAST)
        woo_store.add_order(woo_order(502, customer_id=customer), modified=PAST)
        assert await _backfill(state, stores, shop.shop_id, award=True) == 2
        assert (await balance(state, shop.shop_id, str(customer))).available == 2 * WOO_POINTS
        posted = await transactions(state, shop.shop_id)
        await _backfill(state, stores, shop.shop_id, award=True)
        assert await transactions(state, shop.shop_id) == posted
        assert (await _order(state, shop.shop_id, "501")).backfilled is False
