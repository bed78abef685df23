"""Orders, refunds and cancellations arriving as real deliveries, in any order and any number
of times: the member ends with the points the default program says."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select

from app.ledger.models import LedgerTransaction
from app.ledger.verify import verify_shop
from app.state import AppState
from tests.conftest import ShopifyShop, WooShop
from tests.payloads import dumps, shopify_order, shopify_refund, woo_order

CUSTOMER = 1073339475


class Deliver:
    def __init__(self, client: httpx.AsyncClient, state: AppState, shop: ShopifyShop) -> None:
        self.client, self.state, self.shop = client, state, shop
        self.count = 0

    async def __call__(self, topic: str, payload: dict[str, Any], process: bool = True) -> None:
        self.count += 1
        body = dumps(payload)
        headers = self.shop.headers(body, topic, event_id=f"evt-{self.count}")
        r = await self.client.post("/webhooks/shopify", content=body, headers=headers)
        assert r.status_code == 200, r.text
        if process:
            await self.state.worker.drain()

    async def points(self, customer: int = CUSTOMER) -> dict[str, int]:
        r = await self.client.get(f"/api/v1/members/{customer}", headers=self.shop.auth)
        assert r.status_code == 200, r.text
        points: dict[str, int] = r.json()["points"]
        return points

    async def entries(self, customer: int = CUSTOMER) -> list[dict[str, Any]]:
        r = await self.client.get(f"/api/v1/members/{customer}/entries", headers=self.shop.auth)
        assert r.status_code == 200, r.text
        entries: list[dict[str, Any]] = r.json()["entries"]
        return entries

    async def verify(self) -> None:
        async with self.state.db.read() as session:
            assert await verify_shop(session, self.shop.shop_id) == []


class TestShopifyOrders:
    async def test_refund_before_its_order_is_applied_when_the_order_arrives(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        deliver = Deliver(client, state, shopify_shop)
        await deliver("refunds/create", shopify_refund(501, 9001, merchandise="100.00"))
        await deliver("orders/paid", shopify_order(9001, merchandise="181.09"))
        # earned 181; kept 181 × (181.09 − 100.00) / 181.09 = 81.05 → 81; reversed 100
        assert (await deliver.points())["available"] == 81
        kinds = [(e["kind"], e["points"]) for e in await deliver.entries()]
        assert kinds == [("reverse", -100), ("earn", 181)]
        await deliver.verify()

    async def test_stale_update_after_a_refund_changes_nothing(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        deliver = Deliver(client, state, shopify_shop)
        old = shopify_order(9002, merchandise="200.00", updated_at="2025-04-02T10:00:00Z")
        refund = shopify_refund(502, 9002, merchandise="50.00")
        new = shopify_order(
            9002,
            merchandise="200.00",
            financial_status="partially_refunded",
            updated_at="2025-04-03T10:00:00Z",
            refunds=[refund],
        )
        await deliver("orders/paid", old)
        await deliver("orders/updated", new)
        before = await deliver.points()
        # 200 earned, 50.00 of 200.00 refunded → 150 kept
        assert before["available"] == 150
        await deliver("orders/updated", old)  # an older snapshot, delivered late
        assert await deliver.points() == before
        await deliver.verify()

    async def test_stale_uncancelled_snapshot_does_not_restore_a_cancelled_order(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        deliver = Deliver(client, state, shopify_shop)
        paid = shopify_order(9003, merchandise="80.00", updated_at="2025-04-02T10:00:00Z")
        cancelled = shopify_order(
            9003,
            merchandise="80.00",
            updated_at="2025-04-02T12:00:00Z",
            cancelled_at="2025-04-02T12:00:00Z",
        )
        await deliver("orders/paid", paid)
        await deliver("orders/cancelled", cancelled)
        await deliver("orders/updated", paid)
        assert (await deliver.points())["available"] == 0

    async def test_three_partial_refunds_then_the_rest_leave_exactly_zero(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        deliver = Deliver(client, state, shopify_shop)
        await deliver("orders/paid", shopify_order(9004, merchandise="100.00"))
        expected = [67, 34, 1, 0]
        # 100 earned; kept after 33.00, 66.00, 99.00 and 100.00 of 100.00 refunded:
        # 100×67/100 = 67, 100×34/100 = 34, 100×1/100 = 1, 0
        refunds = [("33.00", 1), ("33.00", 2), ("33.00", 3), ("1.00", 4)]
        for (amount, day), want in zip(refunds, expected, strict=True):
            refund = shopify_refund(
                600 + day, 9004, merchandise=amount, created_at=f"2025-04-0{day + 2}T10:00:00Z"
            )
            await deliver("refunds/create", refund)
            assert (await deliver.points())["available"] == want
        reversed_total = sum(e["points"] for e in await deliver.entries() if e["kind"] == "reverse")
        assert reversed_total == -100
        await deliver.verify()

    async def test_refunds_never_reverse_more_than_was_earned(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        deliver = Deliver(client, state, shopify_shop)
        await deliver("orders/paid", shopify_order(9005, merchandise="10.99"))
        for i in range(4):  # refunds adding up to more than the merchandise
            await deliver("refunds/create", shopify_refund(700 + i, 9005, merchandise="4.00"))
        points = await deliver.points()
        assert points["available"] == 0
        assert points["lifetime_earned"] == 0

    async def test_cancel_after_a_partial_refund_leaves_zero(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        deliver = Deliver(client, state, shopify_shop)
        await deliver("orders/paid", shopify_order(9006, merchandise="120.00"))
        await deliver("refunds/create", shopify_refund(801, 9006, merchandise="20.00"))
        assert (await deliver.points())["available"] == 100
        cancelled = shopify_order(
            9006,
            merchandise="120.00",
            updated_at="2025-04-05T10:00:00Z",
            cancelled_at="2025-04-05T10:00:00Z",
        )
        await deliver("orders/cancelled", cancelled)
        assert (await deliver.points())["available"] == 0
        [cancel, *_] = await deliver.entries()
        assert cancel["kind"] == "reverse"
        assert cancel["points"] == -100
        assert "cancelled" in cancel["reason"]
        await deliver.verify()

    async def test_unpaid_order_earns_nothing_until_it_is_paid(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        deliver = Deliver(client, state, shopify_shop)
        pending = shopify_order(9007, merchandise="50.00", financial_status="pending")
        await deliver("orders/create", pending)
        assert (await deliver.points())["available"] == 0
        paid = shopify_order(9007, merchandise="50.00", updated_at="2025-04-03T00:00:00Z")
        await deliver("orders/paid", paid)
        assert (await deliver.points())["available"] == 50

    async def test_guest_order_earns_nothing(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        deliver = Deliver(client, state, shopify_shop)
        await deliver("orders/paid", shopify_order(9008, customer_id=None))
        async with state.db.read() as session:
            count = await session.scalar(select(func.count()).select_from(LedgerTransaction))
        assert count == 0

    async def test_every_entry_explains_itself(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        deliver = Deliver(client, state, shopify_shop)
        await deliver("orders/paid", shopify_order(9009, merchandise="181.09"))
        await deliver("refunds/create", shopify_refund(901, 9009, merchandise="81.09"))
        refund, earn = await deliver.entries()
        assert earn["reason"] == (
            "181 points: 181.09 USD spent on order #9009 (rule purchase, program v1)"
        )
        assert earn["source"] == {"type": "order", "id": "9009", "order_id": "9009"}
        assert refund["source"] == {"type": "refund", "id": "901", "order_id": "9009"}
        # kept 181 × 100.00/181.09 = 99.95 → 99, so 82 reversed
        assert refund["points"] == -82
        assert "refund 901" in refund["reason"]
        assert "81.09 USD" in refund["reason"]
        assert refund["reason"].endswith("(rule purchase)")


class TestWooCommerceOrders:
    async def test_order_with_two_refunds_keeps_its_share(
        self, client: httpx.AsyncClient, state: AppState, woo_shop: WooShop
    ) -> None:
        body = dumps(woo_order(723, refunds=[(726, "-10.00"), (724, "-9.00")]))
        r = await client.post(
            woo_shop.webhook_url, content=body, headers=woo_shop.headers(body, "order.updated")
        )
        assert r.status_code == 200
        await state.worker.drain()
        r = await client.get("/api/v1/members/26", headers=woo_shop.auth)
        # 29.00 merchandise of a 39.00 order; 19.00 refunded → merchandise refunded in
        # proportion: 29×9/39 = 6.69 then 29×10/39 = 7.43; kept 29 × (29.00−14.12)/29.00 → 14
        assert r.json()["points"]["available"] == 14

    async def test_refunded_status_takes_every_point_back(
        self, client: httpx.AsyncClient, state: AppState, woo_shop: WooShop
    ) -> None:
        for status, modified in (
            ("completed", "2017-03-21T10:00:00"),
            ("refunded", "2017-03-22T10:00:00"),
        ):
            body = dumps(woo_order(730, status=status, modified_gmt=modified))
            r = await client.post(
                woo_shop.webhook_url, content=body, headers=woo_shop.headers(body, "order.updated")
            )
            assert r.status_code == 200
            await state.worker.drain()
        r = await client.get("/api/v1/members/26", headers=woo_shop.auth)
        assert r.json()["points"]["available"] == 0

    async def test_trashed_order_loses_its_points_and_restoring_brings_them_back(
        self, client: httpx.AsyncClient, state: AppState, woo_shop: WooShop
    ) -> None:
        async def send(topic: str, payload: dict[str, Any]) -> None:
            body = dumps(payload)
            r = await client.post(
                woo_shop.webhook_url, content=body, headers=woo_shop.headers(body, topic)
            )
            assert r.status_code == 200, r.text
            await state.worker.drain()

        async def available() -> int:
            r = await client.get("/api/v1/members/26", headers=woo_shop.auth)
            value: int = r.json()["points"]["available"]
            return value

        await send("order.updated", woo_order(731))
        assert await available() == 29
        await send("order.deleted", {"id": 731})
        assert await available() == 0
        await send("order.restored", woo_order(731, modified_gmt="2017-03-23T10:00:00"))
        assert await available() == 29

    async def test_guest_order_earns_nothing(
        self, client: httpx.AsyncClient, state: AppState, woo_shop: WooShop
    ) -> None:
        from tests.conftest import fixture_bytes

        body = fixture_bytes("woocommerce/order.json")  # order 727: customer_id 0, a guest
        r = await client.post(
            woo_shop.webhook_url, content=body, headers=woo_shop.headers(body, "order.created")
        )
        assert r.status_code == 200
        await state.worker.drain()
        async with state.db.read() as session:
            count = await session.scalar(select(func.count()).select_from(LedgerTransaction))
        assert count == 0


class TestNoDebtPolicy:
    async def test_an_order_that_earns_again_after_a_capped_clawback_pays_nothing_twice(
        self, client: httpx.AsyncClient, state: AppState
    ) -> None:
        from tests.conftest import make_woo_shop

        shop = await make_woo_shop(state, settings={"allow_negative_balance": False})

        async def send(status: str, modified: str) -> None:
            body = dumps(woo_order(740, status=status, modified_gmt=modified))
            r = await client.post(
                shop.webhook_url, content=body, headers=shop.headers(body, "order.updated")
            )
            assert r.status_code == 200
            await state.worker.drain()

        async def available() -> int:
            r = await client.get("/api/v1/members/26", headers=shop.auth)
            value: int = r.json()["points"]["available"]
            return value

        await send("completed", "2017-03-21T10:00:00")
        assert await available() == 29
        spend = await client.post(
            "/api/v1/members/26/adjustments",
            json={"points": -29, "reason": "spent on a reward", "idempotency_key": "spend"},
            headers=shop.auth,
        )
        assert spend.status_code == 201
        await send("cancelled", "2017-03-22T10:00:00")  # nothing left to claw back
        assert await available() == 0
        await send("processing", "2017-03-23T10:00:00")  # the order is back
        # The member already had (and spent) the order's 29 points: none are paid again.
        assert await available() == 0
        await send("cancelled", "2017-03-24T10:00:00")
        await send("completed", "2017-03-25T10:00:00")
        assert await available() == 0
        async with state.db.read() as session:
            assert await verify_shop(session, shop.shop_id) == []
