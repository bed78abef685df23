"""The Shopify store client against the fake Shopify Admin, over real HTTP: codes, balances,
customers, webhooks, the order sweep, failures, the cost throttle and expiring tokens."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from graphql import get_operation_ast, parse
from sqlalchemy import select

from app.connectors.base import FinancialState, OrderSnapshot
from app.connectors.shopify.client import ShopifyClient, client_for_shop
from app.connectors.shopify.graphql_orders import ORDERS_QUERY, parse_graphql_order
from app.connectors.shopify.parse import parse_order
from app.connectors.shopify.tokens import ClientCredentials, FixedToken
from app.connectors.store import (
    CodeAlreadyExists,
    DiscountKind,
    DiscountSpec,
    StoreNotFound,
    StoreRejected,
    StoreThrottled,
    StoreUnauthorized,
    StoreUnavailable,
)
from app.db import Database
from app.errors import InvalidRequest
from app.shops import service as shops
from app.shops.models import Shop
from app.state import AppState
from tests.conftest import fixture_json
from tests.fakes.graphql_cost import MAX_QUERY_COST, query_cost
from tests.fakes.shopify import (
    CLIENT_ID,
    CLIENT_SECRET,
    DEFAULT_TOKEN,
    FakeShopify,
    RecordedRequest,
)
from tests.fakes.shopify_orders import gid, order_from_webhook

MEMBER = "207119551"
ADDRESS = "https://vafa.example/webhooks/shopify"
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    # Generous: the fake answers from a thread of this process, which a busy CI machine can
    # stall past 2 s (seen once); the test of a store that does not answer has its own client.
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0)) as client:
        yield client


@pytest.fixture
def store(fake_shopify: FakeShopify, http: httpx.AsyncClient) -> ShopifyClient:
    fake_shopify.add_customer(MEMBER)
    return ShopifyClient(http, api_url=fake_shopify.base_url, tokens=FixedToken(DEFAULT_TOKEN))


def spec(kind: DiscountKind = DiscountKind.AMOUNT_OFF, **changes: Any) -> DiscountSpec:
    fields: dict[str, Any] = {
        "code": "VAFA-7K2M-QX9P",
        "title": "Vafa reward",
        "kind": kind,
        "value": 500,
        "currency": "USD",
        "exponent": 2,
        "customer_id": MEMBER,
        "customer_email": None,
        "starts_at": NOW,
        "ends_at": NOW + timedelta(days=30),
    }
    fields.update(changes)
    return DiscountSpec(**fields)


def when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def refill_time(answer: RecordedRequest, cost: float) -> float:
    """How long after ``answer`` the bucket it reported could pay ``cost``."""
    assert answer.cost is not None
    status = answer.cost["throttleStatus"]
    return max(cost - status["currentlyAvailable"], 0) / status["restoreRate"]


class TestDiscountCodes:
    async def test_amount_off_is_single_use_for_the_member_until_it_expires(
        self, store: ShopifyClient, fake_shopify: FakeShopify
    ) -> None:
        made = await store.create_discount(spec(value=500))
        held = fake_shopify.discount("VAFA-7K2M-QX9P")
        assert held is not None
        assert made.store_id == held["id"]
        assert made.code == "VAFA-7K2M-QX9P"
        assert held["customerGets"]["value"] == {
            "discountAmount": {"amount": "5.00", "appliesOnEachItem": False}
        }
        assert held["customerGets"]["items"]["all"] is True
        assert held["customers"] == [gid("Customer", MEMBER)]
        assert held["usageLimit"] == 1
        assert held["appliesOncePerCustomer"] is True
        assert when(held["endsAt"]) == NOW + timedelta(days=30)
        assert when(held["startsAt"]) == NOW
        assert made.ends_at == NOW + timedelta(days=30)

    async def test_amounts_are_written_in_the_shop_currencys_units(
        self, store: ShopifyClient, fake_shopify: FakeShopify
    ) -> None:
        await store.create_discount(spec(value=500_000, currency="IRR", exponent=0))
        held = fake_shopify.discount("VAFA-7K2M-QX9P")
        assert held is not None
        assert held["customerGets"]["value"]["discountAmount"]["amount"] == "500000"

    async def test_percent_off(self, store: ShopifyClient, fake_shopify: FakeShopify) -> None:
        await store.create_discount(spec(DiscountKind.PERCENT_OFF, value=15))
        held = fake_shopify.discount("VAFA-7K2M-QX9P")
        assert held is not None
        assert held["customerGets"]["value"] == {"percentage": 0.15}

    async def test_free_product_is_the_whole_price_of_that_product_only(
        self, store: ShopifyClient, fake_shopify: FakeShopify
    ) -> None:
        product = fake_shopify.add_product(632910392)
        await store.create_discount(
            spec(DiscountKind.FREE_PRODUCT, value=None, product_id="632910392")
        )
        held = fake_shopify.discount("VAFA-7K2M-QX9P")
        assert held is not None
        assert held["customerGets"]["value"] == {"percentage": 1.0}
        assert held["customerGets"]["items"] == {"all": False, "products": [product]}

    async def test_free_shipping(self, store: ShopifyClient, fake_shopify: FakeShopify) -> None:
        made = await store.create_discount(spec(DiscountKind.FREE_SHIPPING, value=None))
        held = fake_shopify.discount("VAFA-7K2M-QX9P")
        assert held is not None
        assert held["__typename"] == "DiscountCodeFreeShipping"
        assert held["destination"] == {"all": True}
        assert held["customers"] == [gid("Customer", MEMBER)]
        assert held["usageLimit"] == 1
        assert made.store_id == held["id"]

    async def test_minimum_order_and_combining_follow_the_spec(
        self, store: ShopifyClient, fake_shopify: FakeShopify
    ) -> None:
        await store.create_discount(spec(min_order_minor=5000, combines=True))
        held = fake_shopify.discount("VAFA-7K2M-QX9P")
        assert held is not None
        assert held["minimumRequirement"] == "50.00"
        assert held["combinesWith"] == dict.fromkeys(
            ("orderDiscounts", "productDiscounts", "shippingDiscounts"), True
        )
        await store.create_discount(spec(code="VAFA-SECOND"))
        alone = fake_shopify.discount("VAFA-SECOND")
        assert alone is not None
        assert set(alone["combinesWith"].values()) == {False}
        assert alone["minimumRequirement"] is None

    async def test_a_taken_code_is_already_exists_not_a_retry(
        self, store: ShopifyClient, fake_shopify: FakeShopify
    ) -> None:
        await store.create_discount(spec())
        with pytest.raises(CodeAlreadyExists, match="must be unique"):
            await store.create_discount(spec(value=900))
        held = fake_shopify.discount("VAFA-7K2M-QX9P")
        assert held is not None
        assert held["customerGets"]["value"]["discountAmount"]["amount"] == "5.00"

    async def test_found_by_its_text(self, store: ShopifyClient, fake_shopify: FakeShopify) -> None:
        made = await store.create_discount(spec())
        found = await store.find_discount("VAFA-7K2M-QX9P")
        assert found == made
        assert found is not None
        assert found.usage_count == 0
        assert await store.find_discount("VAFA-NEVER-MADE") is None

    async def test_inputs_travel_as_variables_never_in_the_query(
        self, store: ShopifyClient, fake_shopify: FakeShopify
    ) -> None:
        await store.create_discount(spec(code='VAFA-"}) { x }'))
        await store.find_discount('VAFA-"}) { x }')
        for request in fake_shopify.graphql_requests():
            assert "VAFA-" not in request.query
            assert MEMBER not in request.query
        [create] = fake_shopify.graphql_requests("VafaDiscountBasicCreate")
        assert create.variables["input"]["code"] == 'VAFA-"}) { x }'

    async def test_a_customer_the_store_lacks_is_refused_with_the_field(
        self, store: ShopifyClient, fake_shopify: FakeShopify
    ) -> None:
        with pytest.raises(StoreRejected, match=r"context\.customers\.add") as refused:
            await store.create_discount(spec(customer_id="999"))
        assert not isinstance(refused.value, CodeAlreadyExists)
        assert fake_shopify.discounts == {}

    @pytest.mark.parametrize(
        ("kind", "value", "product"),
        [
            (DiscountKind.PERCENT_OFF, 0, None),
            (DiscountKind.PERCENT_OFF, 101, None),
            (DiscountKind.AMOUNT_OFF, 0, None),
            (DiscountKind.FREE_PRODUCT, None, None),
        ],
    )
    async def test_an_impossible_reward_is_refused_before_any_request(
        self,
        store: ShopifyClient,
        fake_shopify: FakeShopify,
        kind: DiscountKind,
        value: int | None,
        product: str | None,
    ) -> None:
        with pytest.raises(StoreRejected):
            await store.create_discount(spec(kind, value=value, product_id=product))
        assert fake_shopify.graphql_requests() == []


class TestBalance:
    async def test_set_balance_writes_points_and_tier(
        self, store: ShopifyClient, fake_shopify: FakeShopify
    ) -> None:
        await store.set_balance(MEMBER, 1250, "silver")
        points = fake_shopify.metafield(MEMBER, "points")
        tier = fake_shopify.metafield(MEMBER, "tier")
        assert (points["value"], points["type"]) == ("1250", "number_integer")
        assert (tier["value"], tier["type"]) == ("silver", "single_line_text_field")

    async def test_no_tier_removes_the_one_written_before_in_the_same_request(
        self, store: ShopifyClient, fake_shopify: FakeShopify
    ) -> None:
        await store.set_balance(MEMBER, 1250, "silver")
        await store.set_balance(MEMBER, 40, None)
        assert fake_shopify.metafield(MEMBER, "points")["value"] == "40"
        assert fake_shopify.metafield(MEMBER, "tier") is None
        assert len(fake_shopify.graphql_requests()) == 2

    async def test_a_customer_the_store_lacks_is_not_found(
        self, store: ShopifyClient, fake_shopify: FakeShopify
    ) -> None:
        with pytest.raises(StoreNotFound, match="ownerId"):
            await store.set_balance("999", 10, "bronze")
        assert fake_shopify.metafields == {}


class TestCustomers:
    async def test_read_a_customer(self, store: ShopifyClient) -> None:
        customer = await store.get_customer(MEMBER)
        assert customer is not None
        assert customer.customer_id == MEMBER
        assert customer.email == "member@example.com"
        assert (customer.first_name, customer.last_name) == ("Sara", "Ahmadi")
        assert customer.accepts_marketing is False

    async def test_an_unknown_customer_is_none(self, store: ShopifyClient) -> None:
        assert await store.get_customer("999") is None


class TestWebhooks:
    async def test_ensure_twice_gives_one_subscription_per_topic(
        self, store: ShopifyClient, fake_shopify: FakeShopify
    ) -> None:
        topics = ["orders/create", "orders/updated", "refunds/create", "orders/create"]
        first = await store.ensure_webhooks(ADDRESS, topics)
        second = await store.ensure_webhooks(ADDRESS, topics)
        assert [h.topic for h in first] == ["orders/create", "orders/updated", "refunds/create"]
        assert second == first
        assert sorted(h["topic"] for h in fake_shopify.webhooks) == [
            "ORDERS_CREATE",
            "ORDERS_UPDATED",
            "REFUNDS_CREATE",
        ]
        assert {h["uri"] for h in fake_shopify.webhooks} == {ADDRESS}
        assert len(fake_shopify.graphql_requests("VafaWebhookCreate")) == 3

    async def test_a_subscription_the_store_dropped_is_made_again_others_left_alone(
        self, store: ShopifyClient, fake_shopify: FakeShopify
    ) -> None:
        await store.ensure_webhooks("https://old.example/hooks", ["orders/create"])
        await store.ensure_webhooks(ADDRESS, ["orders/create", "orders/updated"])
        fake_shopify.webhooks = [h for h in fake_shopify.webhooks if h["topic"] != "ORDERS_UPDATED"]
        await store.ensure_webhooks(ADDRESS, ["orders/create", "orders/updated"])
        listed = await store.list_webhooks()
        assert sorted((h.topic, h.address) for h in listed) == [
            ("orders/create", "https://old.example/hooks"),
            ("orders/create", ADDRESS),
            ("orders/updated", ADDRESS),
        ]


def _order(number: int, updated_at: datetime, lines: int = 1) -> dict[str, Any]:
    rest = copy.deepcopy(fixture_json("shopify/orders-create.json"))
    rest["id"] = number
    rest["name"] = f"#{number}"
    rest["updated_at"] = updated_at.isoformat()
    template = rest["line_items"][0]
    rest["line_items"] = [{**copy.deepcopy(template), "id": number * 100 + i} for i in range(lines)]
    return rest


def _as_swept(webhook: OrderSnapshot) -> OrderSnapshot:
    """The sweep does not read the buyer's contact details (Shopify's protected customer data)
    nor the order's attributes; absorbing its snapshot keeps those a webhook gave."""
    return dataclasses.replace(webhook, referral_code=None, contact_keys=())


async def _sweep(store: ShopifyClient, since: datetime) -> list[list[OrderSnapshot]]:
    return [page async for page in store.orders_modified_since(since)]


class TestOrderSweep:
    @pytest.mark.parametrize("fixture", ["order-with-refund.json", "orders-create.json"])
    async def test_a_graphql_order_and_its_webhook_give_the_same_snapshot(
        self, store: ShopifyClient, fake_shopify: FakeShopify, fixture: str
    ) -> None:
        rest = fixture_json(f"shopify/{fixture}")
        fake_shopify.add_order(order_from_webhook(rest))
        [[swept]] = await _sweep(store, datetime(2000, 1, 1, tzinfo=UTC))
        webhook = parse_order(rest, {})
        assert webhook.contact_keys  # the sample order has an email, phones and addresses
        assert swept == _as_swept(webhook)
        # the fields points are computed from, spelled out
        assert swept.merchandise_minor == webhook.merchandise_minor > 0
        assert swept.customer_id == webhook.customer_id is not None
        assert swept.financial_state == webhook.financial_state
        assert swept.lines == webhook.lines
        assert swept.refunds == webhook.refunds

    async def test_pages_through_every_order_changed_since(
        self, store: ShopifyClient, fake_shopify: FakeShopify
    ) -> None:
        since = NOW - timedelta(hours=1)
        for n in range(1, 14):  # 3 before `since`, 10 after
            fake_shopify.add_order(order_from_webhook(_order(n, since + timedelta(minutes=n - 3))))
        pages = await _sweep(store, since)
        assert len(pages) >= 2
        assert [o.order_id for page in pages for o in page] == [str(n) for n in range(4, 14)]
        assert all(o.financial_state == FinancialState.PAID for page in pages for o in page)
        [first, *rest] = fake_shopify.graphql_requests("VafaOrdersModifiedSince")
        assert first.variables["query"] == f"updated_at:>'{since:%Y-%m-%dT%H:%M:%SZ}'"
        assert all(r.variables["after"] for r in rest)

    async def test_an_order_with_more_lines_than_a_page_is_read_whole(
        self, store: ShopifyClient, fake_shopify: FakeShopify
    ) -> None:
        rest = _order(7, NOW, lines=23)
        line = rest["line_items"][0]
        rest["refunds"] = [
            {
                "id": 70,
                "order_id": 7,
                "created_at": NOW.isoformat(),
                "refund_line_items": [
                    {
                        "line_item_id": item["id"],
                        "quantity": 1,
                        "subtotal_set": line["price_set"],
                    }
                    for item in rest["line_items"][:12]
                ],
                "order_adjustments": [{"kind": "shipping_refund", "amount": "-4.00"}],
            }
        ]
        fake_shopify.add_order(order_from_webhook(rest))
        [[swept]] = await _sweep(store, NOW - timedelta(days=1))
        assert swept == _as_swept(parse_order(rest, {}))
        assert len(swept.lines) == 23
        assert len(swept.refunds[0].lines) == 12
        assert swept.refunds[0].shipping_minor == 400
        assert fake_shopify.graphql_requests("VafaOrderLines")
        assert fake_shopify.graphql_requests("VafaRefundLines")

    async def test_an_unreadable_order_is_left_out_and_the_others_arrive(
        self, store: ShopifyClient, fake_shopify: FakeShopify
    ) -> None:
        bad = order_from_webhook(_order(1, NOW))
        bad["lineItems"][0]["originalUnitPriceSet"]["shopMoney"]["amount"] = "-5.00"
        fake_shopify.add_order(bad)
        fake_shopify.add_order(order_from_webhook(_order(2, NOW + timedelta(seconds=1))))
        pages = await _sweep(store, NOW - timedelta(days=1))
        assert [o.order_id for page in pages for o in page] == ["2"]

    def test_one_page_of_the_sweep_fits_shopifys_single_query_limit(self) -> None:
        document = parse(ORDERS_QUERY)
        operation = get_operation_ast(document)
        assert operation is not None
        variables = {"first": 5, "after": None, "query": "updated_at:>'2026-01-01T00:00:00Z'"}
        assert 0 < query_cost(document, operation, variables) <= MAX_QUERY_COST

    def test_prices_with_tax_included_and_gift_cards(self) -> None:
        def money(amount: str) -> dict[str, Any]:
            bag = {"amount": amount, "currencyCode": "EUR"}
            return {"shopMoney": bag, "presentmentMoney": bag}

        order = {
            "id": "gid://shopify/Order/1",
            "name": "#1",
            "currencyCode": "EUR",
            "taxesIncluded": True,
            "displayFinancialStatus": "PARTIALLY_REFUNDED",
            "processedAt": "2026-11-30T10:00:00+01:00",
            "updatedAt": "2026-11-30T11:00:00Z",
            "customer": {"id": "gid://shopify/Customer/5"},
            "discountCodes": ["VAFA-1"],
            "totalShippingPriceSet": money("4.90"),
            "totalTaxSet": money("30.00"),
            "lineItems": {
                "nodes": [
                    {
                        "id": "gid://shopify/LineItem/11",
                        "quantity": 2,
                        "isGiftCard": False,
                        "product": {"id": "gid://shopify/Product/3"},
                        "variant": None,
                        "originalUnitPriceSet": money("100.00"),
                        "discountAllocations": [{"allocatedAmountSet": money("20.00")}],
                        "taxLines": [{"priceSet": money("10.00")}],
                    },
                    {
                        "id": "gid://shopify/LineItem/12",
                        "quantity": 1,
                        "isGiftCard": True,
                        "originalUnitPriceSet": money("50.00"),
                        "discountAllocations": [],
                        "taxLines": [],
                    },
                ]
            },
            "refunds": [],
        }
        snapshot = parse_graphql_order(order, {})
        assert snapshot.merchandise_minor == 17000  # 2 × 100 − 20 − 10 tax; the gift card 0
        assert [line.merchandise_minor for line in snapshot.lines] == [17000, 0]
        assert snapshot.lines[0].product_id == "3"
        assert snapshot.financial_state == FinancialState.PAID
        assert snapshot.paid_at == datetime(2026, 11, 30, 9, tzinfo=UTC)
        assert (snapshot.shipping_minor, snapshot.tax_minor) == (490, 3000)
        assert snapshot.customer_id == "5"
        assert snapshot.discount_codes == ("VAFA-1",)


class TestFailures:
    async def test_a_refused_token_is_unauthorized_after_one_request(
        self, fake_shopify: FakeShopify, http: httpx.AsyncClient
    ) -> None:
        client = ShopifyClient(http, api_url=fake_shopify.base_url, tokens=FixedToken("shpat_x"))
        with pytest.raises(StoreUnauthorized) as refused:
            await client.get_customer(MEMBER)
        assert refused.value.status == 401
        assert "shpat_x" not in refused.value.message
        assert len(fake_shopify.graphql_requests()) == 1

    async def test_a_5xx_is_unavailable_and_left_to_the_job_queue(
        self, store: ShopifyClient, fake_shopify: FakeShopify
    ) -> None:
        fake_shopify.fail_next(1, status=503)
        with pytest.raises(StoreUnavailable) as failed:
            await store.create_discount(spec())
        assert failed.value.status == 503
        assert len(fake_shopify.graphql_requests()) == 1
        assert fake_shopify.discounts == {}
        await store.create_discount(spec())  # the retry the queue makes
        assert fake_shopify.discount("VAFA-7K2M-QX9P") is not None

    async def test_a_store_that_does_not_answer_in_time_is_unavailable(
        self, fake_shopify: FakeShopify
    ) -> None:
        fake_shopify.add_customer(MEMBER)
        fake_shopify.delay_next(1.0)
        async with httpx.AsyncClient(timeout=httpx.Timeout(0.2)) as http:
            client = ShopifyClient(
                http, api_url=fake_shopify.base_url, tokens=FixedToken(DEFAULT_TOKEN)
            )
            with pytest.raises(StoreUnavailable, match="in time"):
                await client.get_customer(MEMBER)

    @pytest.mark.parametrize("status", [402, 403, 404, 423])
    async def test_a_forbidden_closed_or_locked_shop_pauses_its_jobs(
        self, store: ShopifyClient, fake_shopify: FakeShopify, status: int
    ) -> None:
        fake_shopify.fail_next(1, status=status)
        with pytest.raises(StoreUnauthorized, match=str(status)):
            await store.get_customer(MEMBER)
        assert len(fake_shopify.graphql_requests()) == 1

    async def test_a_query_the_store_does_not_know_is_rejected(
        self, store: ShopifyClient, fake_shopify: FakeShopify
    ) -> None:
        with pytest.raises(StoreRejected, match="nosuchfield"):
            await store._graphql('query Odd { customer(id: "1") { nosuchfield } }', {}, "Odd")

    @pytest.mark.parametrize(
        "answer",
        [
            httpx.Response(200, text="<html>Service Unavailable</html>"),
            httpx.Response(200, json={"data": {"customer": {"id": 5}}}),
            httpx.Response(200, json={"data": None}),
            httpx.Response(200, json={"errors": "something broke"}),
        ],
    )
    async def test_an_answer_of_an_odd_shape_is_a_store_error_never_a_crash(
        self, answer: httpx.Response
    ) -> None:
        transport = httpx.MockTransport(lambda request: answer)
        async with httpx.AsyncClient(transport=transport) as http:
            client = ShopifyClient(http, api_url="https://x.myshopify.com", tokens=FixedToken("t"))
            with pytest.raises((StoreUnavailable, StoreRejected)):
                await client.get_customer(MEMBER)


class TestThrottle:
    async def test_a_throttled_answer_waits_for_the_bucket_then_succeeds(
        self, store: ShopifyClient, fake_shopify: FakeShopify
    ) -> None:
        # slow enough a refill that a busy machine cannot fill the bucket before the request
        fake_shopify.set_bucket(available=0, restore_rate=20)
        await store.create_discount(spec())
        [throttled, done] = fake_shopify.graphql_requests()
        assert throttled.throttled
        assert not done.throttled
        assert done.status == 200
        # (requested − currentlyAvailable) / restoreRate, as the throttled answer said
        assert done.at - throttled.at >= refill_time(throttled, 10) > 0.05
        assert len(fake_shopify.discounts) == 1

    async def test_throttled_with_http_429_is_honoured_the_same(
        self, store: ShopifyClient, fake_shopify: FakeShopify
    ) -> None:
        fake_shopify.throttle_status = 429
        fake_shopify.set_bucket(available=2, restore_rate=16)
        await store.set_balance(MEMBER, 5, "bronze")
        [throttled, done] = fake_shopify.graphql_requests()
        assert (throttled.status, throttled.throttled) == (429, True)
        assert done.at - throttled.at >= refill_time(throttled, 10) > 0.1
        assert fake_shopify.metafield(MEMBER, "points")["value"] == "5"

    async def test_no_request_before_the_bucket_can_pay_for_it(
        self, store: ShopifyClient, fake_shopify: FakeShopify
    ) -> None:
        fake_shopify.set_bucket(available=15, restore_rate=10)
        await store.set_balance(MEMBER, 1, "bronze")  # leaves 5 of the 10 the next one needs
        await store.set_balance(MEMBER, 2, "bronze")
        first, second = fake_shopify.graphql_requests()
        assert not first.throttled
        assert not second.throttled
        assert second.at - first.at >= refill_time(first, 10) > 0.05

    async def test_concurrent_calls_are_paced_and_none_is_throttled(
        self, store: ShopifyClient, fake_shopify: FakeShopify
    ) -> None:
        # As the write-backs of one shop run: eight at once on one bucket. An answer reports
        # the bucket as the store saw it, before the calls still on their way: taken as it
        # was, the level came back up and the next calls went too soon.
        fake_shopify.set_bucket(maximum=100, available=100, restore_rate=200)
        await store.set_balance(MEMBER, 0, None)  # the first answer tells the figures
        first = fake_shopify.graphql_requests()[0]
        assert first.cost is not None
        assert first.cost["requestedQueryCost"] == 20

        async def writes(n: int) -> None:
            for points in range(n, n + 3):
                await store.set_balance(MEMBER, points, None)

        await asyncio.gather(*(writes(10 * n) for n in range(8)))  # 480 points in ~2 s
        answers = fake_shopify.graphql_requests()
        assert len(answers) == 25
        assert [a.at - first.at for a in answers if a.throttled] == []

    async def test_two_processes_on_one_bucket_share_it_instead_of_spending_it_twice(
        self, fake_shopify: FakeShopify, http: httpx.AsyncClient
    ) -> None:
        # Two `vafa worker`s writing one shop's balances: each process has its own count of
        # the store's bucket, and each used to refill it at the whole restore rate.
        fake_shopify.add_customer(MEMBER)
        fake_shopify.set_bucket(maximum=100, available=100, restore_rate=200)
        workers = [
            ShopifyClient(http, api_url=fake_shopify.base_url, tokens=FixedToken(DEFAULT_TOKEN))
            for _ in range(2)
        ]

        async def writes(client: ShopifyClient, n: int) -> None:
            for points in range(n, n + 8):
                while True:
                    try:
                        await client.set_balance(MEMBER, points, None)
                        break
                    except StoreThrottled as given_up:  # as the job queue would: later
                        await asyncio.sleep(given_up.retry_after or 0.1)

        await asyncio.gather(*(writes(c, 10 * n) for c in workers for n in range(2)))
        answers = fake_shopify.graphql_requests()
        throttled = [a for a in answers if a.throttled]
        assert len(answers) - len(throttled) == 32  # every write made, once
        # Measured: 36–46 of 68–78 calls throttled before, 7–8 of 39–40 with the shares.
        assert len(throttled) <= 16, f"{len(throttled)} of {len(answers)} calls throttled"

    async def test_a_long_wait_goes_back_to_the_job_queue_with_its_time(
        self, store: ShopifyClient, fake_shopify: FakeShopify
    ) -> None:
        fake_shopify.set_bucket(available=0, restore_rate=1)
        with pytest.raises(StoreThrottled) as throttled:
            await store.create_discount(spec())
        assert 9.5 <= throttled.value.retry_after <= 10.5
        assert len(fake_shopify.graphql_requests()) == 1
        # and the next call does not knock before then either
        with pytest.raises(StoreThrottled):
            await store.create_discount(spec())
        assert len(fake_shopify.graphql_requests()) == 1
        assert fake_shopify.discounts == {}

    async def test_429_retry_after_is_waited_out(
        self, store: ShopifyClient, fake_shopify: FakeShopify
    ) -> None:
        fake_shopify.fail_next(1, status=429, retry_after=0.3)
        await store.get_customer(MEMBER)
        [refused, done] = fake_shopify.graphql_requests()
        assert (refused.status, done.status) == (429, 200)
        assert done.at - refused.at >= 0.3

    async def test_429_with_a_long_retry_after_is_throttled(
        self, store: ShopifyClient, fake_shopify: FakeShopify
    ) -> None:
        fake_shopify.fail_next(1, status=429, retry_after=30)
        with pytest.raises(StoreThrottled) as throttled:
            await store.get_customer(MEMBER)
        assert throttled.value.retry_after == 30
        assert throttled.value.status == 429


async def _client_credentials_shop(state: AppState, fake: FakeShopify, **extra: Any) -> Shop:
    async with state.db.write() as session:
        new = await shops.add_shopify(
            session,
            state.vault,
            domain="cc-shop.myshopify.com",
            client_id=CLIENT_ID,
            client_secret=extra.get("client_secret", CLIENT_SECRET),
            api_url=fake.base_url,
        )
    return await _shop(state.db, new.shop_id)


async def _shop(db: Database, shop_id: int) -> Shop:
    async with db.read() as session:
        shop = await session.scalar(select(Shop).where(Shop.id == shop_id))
    assert shop is not None
    return shop


class TestClientCredentials:
    async def test_the_token_is_obtained_once_and_kept_sealed(
        self, state: AppState, fake_shopify: FakeShopify, http: httpx.AsyncClient
    ) -> None:
        fake_shopify.add_customer(MEMBER)
        shop = await _client_credentials_shop(state, fake_shopify)
        client = client_for_shop(http, state.db, state.vault, shop)
        await client.get_customer(MEMBER)
        await client.get_customer(MEMBER)
        assert len(fake_shopify.token_requests()) == 1
        [token] = fake_shopify.issued
        stored = await _shop(state.db, shop.id)
        assert token not in stored.credentials
        assert CLIENT_SECRET not in stored.credentials
        assert state.vault.open(stored.credentials)["access_token"] == token
        # a new process starts from the stored token and asks for none
        again = client_for_shop(http, state.db, state.vault, stored)
        await again.get_customer(MEMBER)
        assert len(fake_shopify.token_requests()) == 1

    async def test_an_expiring_token_is_renewed_before_it_expires_without_a_failed_call(
        self, state: AppState, fake_shopify: FakeShopify, http: httpx.AsyncClient
    ) -> None:
        fake_shopify.add_customer(MEMBER)
        fake_shopify.token_lifetime = 2.0  # renewed at half its life
        shop = await _client_credentials_shop(state, fake_shopify)
        client = client_for_shop(http, state.db, state.vault, shop)
        for _ in range(4):  # at 0, 0.7, 1.4 (renewed first), 2.1 s
            await client.set_balance(MEMBER, 10, None)
            await _sleep(0.7)
        assert {r.status for r in fake_shopify.graphql_requests()} == {200}
        assert len(fake_shopify.issued) >= 2
        stored = await _shop(state.db, shop.id)
        assert state.vault.open(stored.credentials)["access_token"] == fake_shopify.issued[-1]

    async def test_a_token_refused_before_its_time_is_renewed_once(
        self, state: AppState, fake_shopify: FakeShopify, http: httpx.AsyncClient
    ) -> None:
        fake_shopify.add_customer(MEMBER)
        shop = await _client_credentials_shop(state, fake_shopify)
        client = client_for_shop(http, state.db, state.vault, shop)
        await client.get_customer(MEMBER)
        fake_shopify.expire_tokens()
        assert await client.get_customer(MEMBER) is not None
        assert [r.status for r in fake_shopify.graphql_requests()] == [200, 401, 200]
        assert len(fake_shopify.issued) == 2

    async def test_a_shop_with_a_given_token_uses_it_and_asks_for_none(
        self, state: AppState, fake_shopify: FakeShopify, http: httpx.AsyncClient
    ) -> None:
        fake_shopify.add_customer(MEMBER)
        async with state.db.write() as session:
            new = await shops.add_shopify(
                session,
                state.vault,
                domain="fixed.myshopify.com",
                access_token=DEFAULT_TOKEN,
                api_secret="hush",
                api_url=fake_shopify.base_url,
            )
        client = client_for_shop(http, state.db, state.vault, await _shop(state.db, new.shop_id))
        assert await client.get_customer(MEMBER) is not None
        assert fake_shopify.token_requests() == []
        assert fake_shopify.graphql_requests()[0].token == DEFAULT_TOKEN

    async def test_a_wrong_client_secret_is_unauthorized(
        self, state: AppState, fake_shopify: FakeShopify, http: httpx.AsyncClient
    ) -> None:
        shop = await _client_credentials_shop(state, fake_shopify, client_secret="wrong")
        client = client_for_shop(http, state.db, state.vault, shop)
        with pytest.raises(StoreUnauthorized, match="client id and secret"):
            await client.get_customer(MEMBER)
        assert fake_shopify.graphql_requests() == []

    async def test_token_renewals_by_concurrent_calls_are_one(
        self, fake_shopify: FakeShopify, http: httpx.AsyncClient
    ) -> None:
        import asyncio

        fake_shopify.add_customer(MEMBER)
        tokens = ClientCredentials(
            http, api_url=fake_shopify.base_url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET
        )
        client = ShopifyClient(http, api_url=fake_shopify.base_url, tokens=tokens)
        await asyncio.gather(*(client.get_customer(MEMBER) for _ in range(5)))
        assert len(fake_shopify.token_requests()) == 1


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


class TestAddShopify:
    async def test_client_credentials_are_sealed_and_the_client_secret_signs_webhooks(
        self, state: AppState
    ) -> None:
        async with state.db.write() as session:
            new = await shops.add_shopify(
                session,
                state.vault,
                domain="cc.myshopify.com",
                client_id="client-id-1",
                client_secret="client-secret-1",
            )
        shop = await _shop(state.db, new.shop_id)
        assert "client-id-1" not in shop.credentials
        assert "client-secret-1" not in shop.credentials
        opened = state.vault.open(shop.credentials)
        assert opened == {
            "client_id": "client-id-1",
            "client_secret": "client-secret-1",
            "api_secrets": ["client-secret-1"],
        }
        context = await state.shops.by_id(new.shop_id)
        assert context is not None
        assert context.webhook_secrets == ("client-secret-1",)

    @pytest.mark.parametrize(
        "given",
        [
            {"access_token": "t", "api_secret": "s", "client_id": "c", "client_secret": "s"},
            {"client_id": "c"},
            {"client_secret": "s"},
            {"access_token": "t"},
            {},
        ],
    )
    async def test_exactly_one_whole_pair_is_required(
        self, state: AppState, given: dict[str, str]
    ) -> None:
        with pytest.raises(InvalidRequest):
            async with state.db.write() as session:
                await shops.add_shopify(session, state.vault, domain="x.myshopify.com", **given)

    async def test_rotating_the_secret_of_a_client_credentials_shop_renews_both_uses(
        self, state: AppState
    ) -> None:
        async with state.db.write() as session:
            new = await shops.add_shopify(
                session, state.vault, domain="cc.myshopify.com", client_id="cid", client_secret="s1"
            )
        async with state.db.write() as session:
            await shops.rotate_webhook_secret(session, state.vault, new.shop_id, "s2")
        opened = state.vault.open((await _shop(state.db, new.shop_id)).credentials)
        assert opened["client_secret"] == "s2"
        assert opened["api_secrets"] == ["s2", "s1"]
