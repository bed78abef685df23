"""What happens to a code after it is issued: used by an order, refunded, expired."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from app.jobs.models import Job
from app.ledger.models import LedgerTransaction, TxKind
from app.orm import utcnow
from app.rewards import tasks
from app.state import AppState
from tests.fakes.shopify import FakeShopify
from tests.payloads import dumps, shopify_order, shopify_refund, woo_order
from tests.rewards.conftest import (
    StoreShop,
    add_reward,
    balance,
    give_points,
    ledger_differences,
    redeem,
    redemption,
    shopify_store_shop,
)
from tests.signing import shopify_headers, woocommerce_headers

ORDER_ID = 820982911946154508


async def _issued(client: httpx.AsyncClient, state: AppState, shop: StoreShop) -> Any:
    reward_id = await add_reward(client, shop, points_cost=100, code_valid_days=30)
    await give_points(client, shop, 100)
    r = await redeem(client, shop, reward_id)
    await state.worker.drain()
    issued = await redemption(client, shop, r.json()["id"])
    assert issued["status"] == "issued"
    return issued


async def _deliver_shopify(
    client: httpx.AsyncClient, state: AppState, shop: StoreShop, topic: str, payload: Any
) -> None:
    body = dumps(payload)
    assert shop.domain is not None
    headers = shopify_headers(body, secret=shop.webhook_secret, topic=topic, domain=shop.domain)
    r = await client.post(shop.webhook_url, content=body, headers=headers)
    assert r.status_code == 200, r.text
    await state.worker.drain()


def _order_with(code: str, **fields: Any) -> dict[str, Any]:
    order = shopify_order(ORDER_ID, customer_id=207119551, merchandise="200.00", **fields)
    order["discount_codes"] = [{"code": code, "amount": "5.00", "type": "fixed_amount"}]
    return order


async def _returned(state: AppState, shop: StoreShop) -> int:
    """Points given back to the member for their redemptions."""
    async with state.db.read() as session:
        total = await session.scalar(
            select(func.coalesce(func.sum(LedgerTransaction.points), 0)).where(
                LedgerTransaction.shop_id == shop.shop_id,
                LedgerTransaction.source_type == "redemption",
                LedgerTransaction.points > 0,
            )
        )
    return int(total or 0)


class TestUsedByAnOrder:
    async def test_an_order_with_the_code_marks_it_used(
        self, client: httpx.AsyncClient, state: AppState, on_shopify: StoreShop
    ) -> None:
        issued = await _issued(client, state, on_shopify)
        await _deliver_shopify(client, state, on_shopify, "orders/paid",
                               _order_with(issued["code"].lower()))  # fmt: skip
        used = await redemption(client, on_shopify, issued["id"])
        assert used["status"] == "used"
        assert used["code"] == issued["code"]

    async def test_an_order_with_another_code_changes_nothing(
        self, client: httpx.AsyncClient, state: AppState, on_shopify: StoreShop
    ) -> None:
        issued = await _issued(client, state, on_shopify)
        await _deliver_shopify(client, state, on_shopify, "orders/paid",
                               _order_with("VAFA-AAAA-BBBB-CCCC-DDDD"))  # fmt: skip
        assert (await redemption(client, on_shopify, issued["id"]))["status"] == "issued"

    async def test_a_woocommerce_order_with_the_lower_cased_coupon_marks_it_used(
        self, client: httpx.AsyncClient, state: AppState, on_woo: StoreShop
    ) -> None:
        issued = await _issued(client, state, on_woo)
        order = woo_order(727, customer_id=int(on_woo.customer_id), status="processing")
        order["coupon_lines"] = [{"id": 1, "code": issued["code"].lower(), "discount": "5.00"}]
        body = dumps(order)
        headers = woocommerce_headers(body, secret=on_woo.webhook_secret, topic="order.updated")
        r = await client.post(on_woo.webhook_url, content=body, headers=headers)
        assert r.status_code == 200
        await state.worker.drain()
        assert (await redemption(client, on_woo, issued["id"]))["status"] == "used"


class TestAnOrderBeforeVafaRecordedTheCode:
    async def test_it_marks_the_pending_redemption_used_and_spends_its_points_once(
        self, client: httpx.AsyncClient, state: AppState, on_shopify: StoreShop,
        fake_shopify: FakeShopify, monkeypatch: pytest.MonkeyPatch,
    ) -> None:  # fmt: skip
        reward_id = await add_reward(client, on_shopify, points_cost=100, code_valid_days=30)
        await give_points(client, on_shopify, 100)
        r = await redeem(client, on_shopify, reward_id)
        real_issue = tasks.service.issue

        async def died(*args: Any, **kwargs: Any) -> None:
            raise SystemError("the worker died before recording the code")

        monkeypatch.setattr(tasks.service, "issue", died)
        await state.worker.run_once()
        monkeypatch.setattr(tasks.service, "issue", real_issue)
        await _job_due(state, on_shopify, at=utcnow() + timedelta(days=1))  # not retried yet
        (made,) = fake_shopify.discounts.values()  # the store made the code
        code = made["code"]
        assert (await redemption(client, on_shopify, r.json()["id"]))["status"] == "pending"

        await _deliver_shopify(client, state, on_shopify, "orders/paid",
                               _order_with(code.lower()))  # fmt: skip
        used = await redemption(client, on_shopify, r.json()["id"])
        assert (used["status"], used["code"]) == ("used", code)
        spent = await balance(state, on_shopify)  # the order's own points are earned too
        assert spent.held == 0
        assert await _captures(state, on_shopify) == 1

        await _job_due(state, on_shopify, at=utcnow())  # the job's retry finds it settled
        await state.worker.drain()
        assert (await redemption(client, on_shopify, r.json()["id"]))["status"] == "used"
        assert len(fake_shopify.discounts) == 1
        assert await balance(state, on_shopify) == spent  # spent once
        assert await _captures(state, on_shopify) == 1

        refund = shopify_refund(1, ORDER_ID, merchandise="200.00")
        await _deliver_shopify(client, state, on_shopify, "refunds/create", refund)
        assert await _returned(state, on_shopify) == 100
        assert await ledger_differences(state.db, on_shopify.shop_id) == []


async def _job_due(state: AppState, shop: StoreShop, *, at: datetime) -> None:
    """The shop's create-code job is due ``at``."""
    async with state.db.write() as session:
        await session.execute(
            update(Job)
            .where(Job.shop_id == shop.shop_id, Job.kind == tasks.CREATE_CODE)
            .values(run_after=at)
        )


async def _captures(state: AppState, shop: StoreShop) -> int:
    async with state.db.read() as session:
        found = await session.scalar(
            select(func.count())
            .select_from(LedgerTransaction)
            .where(LedgerTransaction.shop_id == shop.shop_id,
                   LedgerTransaction.kind == TxKind.CAPTURE)
        )  # fmt: skip
    return int(found or 0)


class TestRefundOfTheOrderThatUsedTheCode:
    async def test_points_come_back_in_proportion_once_each(
        self, client: httpx.AsyncClient, state: AppState, on_shopify: StoreShop
    ) -> None:
        issued = await _issued(client, state, on_shopify)
        order = _order_with(issued["code"])
        await _deliver_shopify(client, state, on_shopify, "orders/paid", order)
        assert await _returned(state, on_shopify) == 0
        quarter = shopify_refund(1, ORDER_ID, merchandise="50.00")
        await _deliver_shopify(client, state, on_shopify, "refunds/create", quarter)
        assert await _returned(state, on_shopify) == 25
        await _deliver_shopify(client, state, on_shopify, "refunds/create", quarter)  # again
        assert await _returned(state, on_shopify) == 25
        rest = shopify_refund(2, ORDER_ID, merchandise="150.00")
        await _deliver_shopify(client, state, on_shopify, "refunds/create", rest)
        assert await _returned(state, on_shopify) == 100
        assert await ledger_differences(state.db, on_shopify.shop_id) == []

    async def test_a_cancelled_order_gives_back_every_point_of_its_code(
        self, client: httpx.AsyncClient, state: AppState, on_shopify: StoreShop
    ) -> None:
        issued = await _issued(client, state, on_shopify)
        await _deliver_shopify(client, state, on_shopify, "orders/paid",
                               _order_with(issued["code"]))  # fmt: skip
        cancelled = _order_with(issued["code"], cancelled_at="2025-04-03T10:00:00-05:00",
                                updated_at="2025-04-03T10:00:00-05:00")  # fmt: skip
        await _deliver_shopify(client, state, on_shopify, "orders/cancelled", cancelled)
        assert await _returned(state, on_shopify) == 100

    async def test_no_points_come_back_where_the_shops_policy_says_so(
        self, client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify
    ) -> None:
        shop = await shopify_store_shop(
            state, fake_shopify, {"refund_redeemed_points_on_refund": False}
        )
        issued = await _issued(client, state, shop)
        await _deliver_shopify(client, state, shop, "orders/paid", _order_with(issued["code"]))
        refund = shopify_refund(1, ORDER_ID, merchandise="200.00")
        await _deliver_shopify(client, state, shop, "refunds/create", refund)
        assert (await redemption(client, shop, issued["id"]))["status"] == "used"
        assert await _returned(state, shop) == 0


class TestExpiredCodes:
    async def test_an_expired_unused_code_gives_its_points_back(
        self, client: httpx.AsyncClient, state: AppState, on_shopify: StoreShop
    ) -> None:
        issued = await _issued(client, state, on_shopify)
        assert (await balance(state, on_shopify)).available == 0
        await state.worker.run_scheduled(utcnow() + timedelta(days=29))
        assert (await redemption(client, on_shopify, issued["id"]))["status"] == "issued"
        done = await state.worker.run_scheduled(utcnow() + timedelta(days=31))
        assert done["codes_expired"] == 1
        expired = await redemption(client, on_shopify, issued["id"])
        assert expired["status"] == "expired"
        assert (await balance(state, on_shopify)).available == 100
        await state.worker.run_scheduled(utcnow() + timedelta(days=32))
        assert (await balance(state, on_shopify)).available == 100  # once only
        assert await ledger_differences(state.db, on_shopify.shop_id) == []

    async def test_a_used_code_never_expires_into_points(
        self, client: httpx.AsyncClient, state: AppState, on_shopify: StoreShop
    ) -> None:
        issued = await _issued(client, state, on_shopify)
        await _deliver_shopify(client, state, on_shopify, "orders/paid",
                               _order_with(issued["code"]))  # fmt: skip
        before = (await balance(state, on_shopify)).available
        await state.worker.run_scheduled(utcnow() + timedelta(days=31))
        assert (await redemption(client, on_shopify, issued["id"]))["status"] == "used"
        assert (await balance(state, on_shopify)).available == before

    async def test_the_shop_may_keep_the_points_of_an_expired_code(
        self, client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify
    ) -> None:
        shop = await shopify_store_shop(state, fake_shopify, {"refund_expired_codes": False})
        issued = await _issued(client, state, shop)
        await state.worker.run_scheduled(utcnow() + timedelta(days=31))
        assert (await redemption(client, shop, issued["id"]))["status"] == "expired"
        assert (await balance(state, shop)).available == 0
