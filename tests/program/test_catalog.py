"""Collection and category multipliers and exclusions: a purchase rule naming Shopify
collections or WooCommerce categories, the product groups asked of the (fake) store outside the
batch's transaction, recorded on the order, and every balance computed by hand."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.connectors.clients import StoreClients
from app.orm import utcnow
from app.program import versions
from app.program.models import Order
from app.program.settings import ProgramSettings
from app.program.simulate import simulate
from app.shops import service as shops
from app.state import AppState
from app.sync import orders
from app.webhooks.models import WebhookEvent
from app.webhooks.processing import EventProcessor, replay
from tests.conftest import ShopifyShop, WooShop
from tests.fakes.shopify import DEFAULT_TOKEN, FakeShopify
from tests.fakes.woocommerce import FakeWooCommerce
from tests.payloads import dumps, shopify_refund
from tests.program.club import Club, paid_shopify_order, toman_order

CUSTOMER = 7_001
PAID = "2027-02-01T10:00:00Z"
GROUPS_OPERATION = "VafaProductGroups"
SHOPIFY_DOMAIN = "summer.myshopify.com"

# 1 point per whole dollar; lines in the summer collection count twice, gift cards not at all.
SHOPIFY_PROGRAM = {
    "rules": [
        {
            "key": "purchase",
            "type": "purchase",
            "points": 1,
            "multipliers": [{"match": {"collections": ["summer"]}, "multiplier": "2"}],
            "exclusions": [{"collections": ["gift-cards"]}],
        }
    ]
}


def _money(amount: str) -> dict[str, Any]:
    bag = {"amount": amount, "currency_code": "USD"}
    return {"shop_money": bag, "presentment_money": dict(bag)}


def lines_order(order_id: int, lines: list[tuple[int, int, str]], **changes: Any) -> dict[str, Any]:
    """A paid Shopify order of ``(line id, product id, price)`` lines, one of each."""
    total = f"{sum(float(price) for _, _, price in lines):.2f}"
    order = paid_shopify_order(order_id, total, PAID, customer_id=CUSTOMER, **changes)
    template = order["line_items"][0]
    order["line_items"] = [
        {**copy.deepcopy(template), "id": line_id, "product_id": product, "sku": f"SKU-{product}",
         "variant_id": product * 100, "price": price, "price_set": _money(price)}
        for line_id, product, price in lines
    ]  # fmt: skip
    return order


def line_refund(refund_id: int, order_id: int, line_id: int, amount: str) -> dict[str, Any]:
    refund = shopify_refund(refund_id, order_id, merchandise=amount,
                            created_at="2027-02-03T10:00:00Z")  # fmt: skip
    refund["refund_line_items"][0]["line_item_id"] = line_id
    refund["refund_line_items"][0]["quantity"] = 1
    return refund


@pytest.fixture
async def shopify_club(
    client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify
) -> Club:
    fake_shopify.add_customer(CUSTOMER)
    fake_shopify.add_product(11, product_type="Shirts", collections=("summer",))
    fake_shopify.add_product(12, product_type="Mugs")
    fake_shopify.add_product(13, collections=("gift-cards",))
    async with state.db.write() as session:
        new = await shops.add_shopify(
            session, state.vault, domain=SHOPIFY_DOMAIN, access_token=DEFAULT_TOKEN,
            api_secret="hush", api_url=fake_shopify.base_url,
        )  # fmt: skip
    return Club(client, state, ShopifyShop(new.shop_id, new.admin_api_key, SHOPIFY_DOMAIN, "hush"))


def _processor(state: AppState) -> EventProcessor:
    processor = state.worker.sources[0]
    assert isinstance(processor, EventProcessor)
    return processor


async def _groups_recorded(state: AppState, shop_id: int, order_id: str) -> Any:
    async with state.db.read() as session:
        return await session.scalar(
            select(Order.product_groups).where(Order.shop_id == shop_id, Order.order_id == order_id)
        )


# The order of the Shopify scenarios, by hand: a 40.00 summer T-shirt (×2: 80.00 counted), a
# 25.50 mug (25.50) and a 10.00 gift card (excluded): 105.50 counted, 105 points.
ORDER = [(1, 11, "40.00"), (2, 12, "25.50"), (3, 13, "10.00")]
EARN_LINE = (
    105,
    "105 points: 75.50 USD spent on order #5001 (105.50 USD counted after the rule's product "
    "multipliers and exclusions) (rule purchase, program v2)",
)


class TestShopifyCollections:
    async def test_a_summer_line_counts_twice_and_a_gift_card_not_at_all(
        self, shopify_club: Club, fake_shopify: FakeShopify
    ) -> None:
        assert await shopify_club.set(SHOPIFY_PROGRAM) == 2
        await shopify_club.deliver("orders/paid", lines_order(5001, ORDER))

        assert (await shopify_club.points(CUSTOMER))["available"] == 105
        assert await shopify_club.lines(CUSTOMER) == [EARN_LINE]
        # One batched call for the three products; delivered again, nothing is asked again.
        [asked] = fake_shopify.graphql_requests(GROUPS_OPERATION)
        assert sorted(asked.variables["ids"]) == [
            "gid://shopify/Product/11", "gid://shopify/Product/12", "gid://shopify/Product/13"
        ]  # fmt: skip
        await shopify_club.deliver("orders/updated", lines_order(5001, ORDER))
        assert len(fake_shopify.graphql_requests(GROUPS_OPERATION)) == 1
        assert (await shopify_club.points(CUSTOMER))["available"] == 105
        await shopify_club.verify()

    async def test_refunding_the_summer_line_takes_back_what_it_earned(
        self, shopify_club: Club
    ) -> None:
        await shopify_club.set(SHOPIFY_PROGRAM)
        await shopify_club.deliver("orders/paid", lines_order(5001, ORDER))
        # The T-shirt refunded: 25.50 counted is left, 25 points; it earned 80 of the 105.
        await shopify_club.deliver("refunds/create", line_refund(901, 5001, 1, "40.00"))

        assert (await shopify_club.points(CUSTOMER))["available"] == 25
        lines = await shopify_club.lines(CUSTOMER)
        assert lines[0] == EARN_LINE
        assert [points for points, _ in lines[1:]] == [-80]
        await shopify_club.verify()

    async def test_a_campaign_on_top_is_taken_back_as_the_line_was(
        self, shopify_club: Club
    ) -> None:
        campaign = {
            "key": "double",
            "type": "campaign",
            "multiplier": "2",
            "starts_at": "2027-01-01T00:00:00Z",
            "ends_at": "2027-03-01T00:00:00Z",
        }
        await shopify_club.set({"rules": [*SHOPIFY_PROGRAM["rules"], campaign]})  # fmt: skip
        await shopify_club.deliver("orders/paid", lines_order(5001, ORDER))
        # 105 purchase points, and the campaign adds 105 × 2 − 105 = 105.
        assert (await shopify_club.points(CUSTOMER))["available"] == 210
        # The T-shirt refunded: each keeps 105 × 25.50 / 105.50, rounded down: 25.
        await shopify_club.deliver("refunds/create", line_refund(901, 5001, 1, "40.00"))
        assert (await shopify_club.points(CUSTOMER))["available"] == 50
        assert [p for p, _ in await shopify_club.lines(CUSTOMER)] == [105, 105, -80, -80]
        await shopify_club.verify()

    async def test_a_store_error_fails_the_event_which_retries_and_never_earns_without_it(
        self, shopify_club: Club, fake_shopify: FakeShopify, state: AppState
    ) -> None:
        await shopify_club.set(SHOPIFY_PROGRAM)
        fake_shopify.fail_next(1, status=503)
        body_order = lines_order(5001, ORDER)
        body = dumps(body_order)
        headers = shopify_club.shop.headers(body, "orders/paid", event_id="evt-5xx")
        r = await shopify_club.client.post("/webhooks/shopify", content=body, headers=headers)
        assert r.status_code == 200, r.text

        await _processor(state).run_once()
        # The store answered 503: nothing applied (not even the member), the event waits for
        # its next attempt.
        r = await shopify_club.client.get(
            f"/api/v1/members/{CUSTOMER}", headers=shopify_club.shop.auth
        )
        assert r.status_code == 404, r.text
        async with state.db.read() as session:
            event = (await session.execute(select(WebhookEvent))).scalars().one()
        assert (event.status, event.attempts) == ("pending", 1)
        assert "503" in (event.last_error or "")
        assert [r.status for r in fake_shopify.graphql_requests(GROUPS_OPERATION)] == [503]

        await state.worker.drain()
        assert (await shopify_club.points(CUSTOMER))["available"] == 105
        assert await shopify_club.lines(CUSTOMER) == [EARN_LINE]
        assert [r.status for r in fake_shopify.graphql_requests(GROUPS_OPERATION)] == [503, 200]

    async def test_a_catalog_changed_later_changes_nothing_judged(
        self, shopify_club: Club, fake_shopify: FakeShopify, state: AppState
    ) -> None:
        await shopify_club.set(SHOPIFY_PROGRAM)
        await shopify_club.deliver("orders/paid", lines_order(5001, ORDER))
        shop_id = shopify_club.shop.shop_id
        recorded = await _groups_recorded(state, shop_id, "5001")
        assert recorded == {
            "11": ["collection:1000001", "collection:summer", "type:shirts"],
            "12": ["type:mugs"],
            "13": ["collection:1000002", "collection:gift-cards"],
        }
        # The merchant moves the T-shirt out of summer and the mug into it.
        fake_shopify.add_product(11, product_type="Shirts")
        fake_shopify.add_product(12, product_type="Mugs", collections=("summer",))
        asked = len(fake_shopify.graphql_requests(GROUPS_OPERATION))

        # Every event replayed, and the order sent again later: judged as it was.
        assert await replay(state.db, shop_id=shop_id, event_ids=[], status="processed") == 1
        await state.worker.drain()
        await shopify_club.deliver(
            "orders/updated", lines_order(5001, ORDER, updated_at="2027-02-02T10:00:00Z")
        )
        assert await shopify_club.lines(CUSTOMER) == [EARN_LINE]
        assert await _groups_recorded(state, shop_id, "5001") == recorded
        # And the ledger rebuilt from the stored events, under the shop's own program.
        async with state.db.read() as session:
            document = (await versions.load(session, shop_id)).latest.document
        report = await simulate(state.db, shop_id, document, now=utcnow())
        assert report.live.points_issued == report.draft.points_issued == 105
        assert len(fake_shopify.graphql_requests(GROUPS_OPERATION)) == asked

    async def test_a_program_without_collections_asks_the_store_nothing(
        self, shopify_club: Club, fake_shopify: FakeShopify
    ) -> None:
        await shopify_club.set({"rules": [{
            "key": "purchase", "type": "purchase", "points": 1,
            "multipliers": [{"match": {"product_ids": ["11"]}, "multiplier": "2"}],
        }]})  # fmt: skip
        await shopify_club.deliver("orders/paid", lines_order(5001, ORDER))
        # 40.00 × 2 + 25.50 + 10.00 = 115.50 counted: 115 points.
        assert (await shopify_club.points(CUSTOMER))["available"] == 115
        assert fake_shopify.graphql_requests(GROUPS_OPERATION) == []


# -- WooCommerce --------------------------------------------------------------------------------


# 1 point per 10,000 Toman; hats count three times, the sale category (named by its id) not.
def woo_program(sale_id: int) -> dict[str, Any]:
    return {
        "currency": "IRT",
        "rules": [{
            "key": "purchase", "type": "purchase", "points": 1, "per_minor": 10_000,
            "multipliers": [{"match": {"categories": ["hats"]}, "multiplier": "3"}],
            "exclusions": [{"categories": [str(sale_id)]}],
        }],
    }  # fmt: skip


@pytest.fixture
async def woo_club(client: httpx.AsyncClient, state: AppState, woo_store: FakeWooCommerce) -> Club:
    async with state.db.write() as session:
        new = await shops.add_woocommerce(
            session, state.vault, url=woo_store.url, consumer_key=woo_store.consumer_key,
            consumer_secret=woo_store.consumer_secret, settings=ProgramSettings(currency="IRT"),
        )  # fmt: skip
    assert new.webhook_secret is not None
    assert new.webhook_url is not None
    return Club(
        client, state, WooShop(new.shop_id, new.admin_api_key, new.webhook_secret, new.webhook_url)
    )


def woo_lines_order(
    order_id: int, customer: int, refunds: list[tuple[int, str]] | None = None
) -> dict[str, Any]:
    """A hat bought as a variation (200,000), a scarf (150,000), a sale item (100,000)."""
    order = toman_order(
        order_id, customer, [("200000", "HAT-RED"), ("150000", None), ("100000", None)],
        paid="2027-02-01T09:30:00", refunds=refunds,
    )  # fmt: skip
    for line, (product, variation) in zip(
        order["line_items"], [(21, 2101), (22, 0), (23, 0)], strict=True
    ):
        line["product_id"], line["variation_id"] = product, variation
    return order


def woo_catalog_calls(store: FakeWooCommerce) -> list[dict[str, str]]:
    return [r.query for r in store.requests if r.path.endswith("/products")]


class TestWooCommerceCategories:
    async def test_hats_count_three_times_and_the_sale_not_at_all(
        self, woo_club: Club, woo_store: FakeWooCommerce, state: AppState
    ) -> None:
        customer = woo_store.add_customer("maryam@example.com")["id"]
        woo_store.add_product(21, categories=("hats",))
        woo_store.add_product(22, categories=("scarves",))
        sale = woo_store.add_product(23, categories=("sale",))["categories"][0]["id"]
        await woo_club.set(woo_program(sale))
        await woo_club.deliver("order.updated", woo_lines_order(1042, customer))

        # 200,000 × 3 + 150,000 = 750,000 counted: 75 points.
        assert await woo_club.lines(customer) == [(
            75, "75 points: 450,000 Toman spent on order #1042 (750,000 Toman counted after "
            "the rule's product multipliers and exclusions) (rule purchase, program v2)",
        )]  # fmt: skip
        [asked] = woo_catalog_calls(woo_store)
        assert sorted(asked["include"].split(",")) == ["21", "22", "23"]

        # 200,000 Toman refunded (WooCommerce's order gives refund totals, not lines): the
        # order keeps 75 × 250,000 / 450,000, rounded down: 41.
        refunded = woo_lines_order(1042, customer, refunds=[(1100, "-200000")])
        refunded["date_modified_gmt"] = "2027-02-03T08:00:00"
        await woo_club.deliver("order.updated", refunded)
        assert (await woo_club.points(customer))["available"] == 41
        assert [p for p, _ in await woo_club.lines(customer)] == [75, -34]
        await woo_club.verify()

    async def test_a_store_error_retries_and_a_changed_catalog_changes_nothing_judged(
        self, woo_club: Club, woo_store: FakeWooCommerce, state: AppState
    ) -> None:
        customer = woo_store.add_customer("sara@example.com")["id"]
        woo_store.add_product(21, categories=("hats",))
        woo_store.add_product(22, categories=("scarves",))
        sale = woo_store.add_product(23, categories=("sale",))["categories"][0]["id"]
        await woo_club.set(woo_program(sale))
        woo_store.fail_next(1, status=502)

        await woo_club.deliver("order.updated", woo_lines_order(1042, customer))
        assert (await woo_club.points(customer))["available"] == 75
        assert [r.status for r in woo_store.requests if r.path.endswith("/products")] == [
            502, 200
        ]  # fmt: skip
        async with state.db.read() as session:
            attempts = await session.scalar(select(WebhookEvent.attempts))
        assert attempts == 2  # the failed one, then the one that applied it

        # Scarves become hats; the order, replayed, keeps what it earned.
        woo_store.add_product(22, categories=("hats",))
        shop_id = woo_club.shop.shop_id
        assert await replay(state.db, shop_id=shop_id, event_ids=[], status="processed") == 1
        await state.worker.drain()
        assert (await woo_club.points(customer))["available"] == 75
        assert len(woo_catalog_calls(woo_store)) == 2

    async def test_a_program_without_categories_asks_the_store_nothing(
        self, woo_club: Club, woo_store: FakeWooCommerce
    ) -> None:
        customer = woo_store.add_customer("reza@example.com")["id"]
        plain = {"key": "purchase", "type": "purchase", "points": 1, "per_minor": 10_000}
        await woo_club.set({"currency": "IRT", "rules": [plain]})
        await woo_club.deliver("order.updated", woo_lines_order(1042, customer))
        assert (await woo_club.points(customer))["available"] == 45
        assert woo_catalog_calls(woo_store) == []

    async def test_an_order_the_sweep_finds_earns_with_its_categories(
        self, woo_club: Club, woo_store: FakeWooCommerce, state: AppState
    ) -> None:
        customer = woo_store.add_customer("nima@example.com")["id"]
        woo_store.add_product(21, categories=("hats",))
        woo_store.add_product(22, categories=("scarves",))
        sale = woo_store.add_product(23, categories=("sale",))["categories"][0]["id"]
        await woo_club.set(woo_program(sale))
        # Never delivered: the reconciliation sweep reads it from the store.
        woo_store.add_order(woo_lines_order(1042, customer), modified=utcnow())
        shop = await state.shops.by_id(woo_club.shop.shop_id)
        assert shop is not None
        stores = StoreClients(state.db, state.vault)
        try:
            await orders.sweep(state.db, stores, shop, timedelta(minutes=5))
        finally:
            await stores.aclose()
        assert (await woo_club.points(customer))["available"] == 75
        assert len(woo_catalog_calls(woo_store)) == 1
