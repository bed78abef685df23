""" "Every third purchase earns 5 % off": the member's third and sixth paid orders each grant a
real discount code on the (fake) Shopify store, costing no points; a cancelled order keeps its
number, and an order delivered again grants nothing twice."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select

from app.rewards.models import Redemption
from app.state import AppState
from tests.conftest import ShopifyShop
from tests.fakes.shopify import FakeShopify
from tests.program.club import Club, paid_shopify_order
from tests.rewards.conftest import SHOPIFY_CUSTOMER, add_reward, shopify_store_shop

CUSTOMER = int(SHOPIFY_CUSTOMER)


async def _codes(club: Club) -> list[tuple[int, str, str | None]]:
    r = await club.client.get(f"/api/v1/members/{CUSTOMER}/redemptions", headers=club.shop.auth)
    assert r.status_code == 200, r.text
    return sorted((x["points"], x["status"], x["code"]) for x in r.json()["redemptions"])


async def test_every_third_purchase_gets_a_code_on_the_store(
    client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify
) -> None:
    store_shop = await shopify_store_shop(state, fake_shopify)
    shop = ShopifyShop(store_shop.shop_id, store_shop.admin_api_key, "rewards.myshopify.com",
                       store_shop.webhook_secret)  # fmt: skip
    club = Club(client, state, shop)
    reward = await add_reward(client, store_shop, name="5% off", kind="percent_off", value=5,
                              points_cost=1000)  # fmt: skip
    await club.set({"rules": [
        {"key": "purchase", "type": "purchase", "points": 1},
        {"key": "third", "type": "nth_order", "every": 3, "reward_id": reward},
    ]})  # fmt: skip

    def order(n: int, **changes: object) -> dict[str, object]:
        return paid_shopify_order(4000 + n, "20.00", f"2027-02-0{n}T10:00:00Z",
                                  customer_id=CUSTOMER, **changes)  # fmt: skip

    for n in (1, 2):
        await club.deliver("orders/paid", order(n))
    assert await _codes(club) == []
    await club.deliver("orders/paid", order(3))
    [(points, status, code)] = await _codes(club)
    assert (points, status) == (0, "issued")
    assert code is not None
    discount = fake_shopify.discount(code)
    assert discount is not None
    assert discount["customerGets"]["value"]["percentage"] == 0.05
    assert discount["customers"] == [f"gid://shopify/Customer/{CUSTOMER}"]

    # Order 2 cancelled: it keeps its number, so the next are the 4th, 5th and 6th.
    await club.deliver("orders/cancelled", order(2, updated_at="2027-02-03T12:00:00Z",
                                                 cancelled_at="2027-02-03T12:00:00Z"))  # fmt: skip
    await club.deliver("orders/updated", order(3))  # delivered again: no second code
    for n in (4, 5):
        await club.deliver("orders/paid", order(n))
    assert len(await _codes(club)) == 1
    await club.deliver("orders/paid", order(6))
    codes = await _codes(club)
    assert [(p, s) for p, s, _ in codes] == [(0, "issued"), (0, "issued")]
    assert len({c for _, _, c in codes}) == 2
    assert all(fake_shopify.discount(c or "") is not None for _, _, c in codes)
    assert len(fake_shopify.graphql_requests("VafaDiscountBasicCreate")) == 2

    # The codes cost nothing: 5 orders of 20 points each stand (order 2's were reversed).
    assert (await club.points(CUSTOMER))["available"] == 5 * 20
    async with state.db.read() as session:
        assert (
            await session.scalar(select(func.count()).where(Redemption.shop_id == shop.shop_id))
            == 2
        )
    await club.verify()


async def test_a_granted_reward_waits_for_the_hold_as_points_do(
    client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify
) -> None:
    from datetime import UTC, datetime

    store_shop = await shopify_store_shop(state, fake_shopify)
    shop = ShopifyShop(store_shop.shop_id, store_shop.admin_api_key, "rewards.myshopify.com",
                       store_shop.webhook_secret)  # fmt: skip
    club = Club(client, state, shop)
    reward = await add_reward(client, store_shop, name="Welcome gift", kind="free_shipping",
                              value=None)  # fmt: skip
    await club.set({"hold_days": 3, "rules": [
        {"key": "purchase", "type": "purchase", "points": 1},
        {"key": "welcome", "type": "first_order", "reward_id": reward},
    ]})  # fmt: skip
    await club.deliver("orders/paid", paid_shopify_order(4101, "20.00", "2027-02-01T10:00:00Z",
                                                         customer_id=CUSTOMER))  # fmt: skip
    assert await _codes(club) == []  # held: paid 1 February, the hold ends on the 4th
    assert (await club.points(CUSTOMER))["pending"] == 20
    await state.worker.run_scheduled(now=datetime(2027, 2, 4, 11, 0, tzinfo=UTC))
    await state.worker.drain()
    [(points, status, code)] = await _codes(club)
    assert (points, status) == (0, "issued")
    assert fake_shopify.discount(code or "") is not None
    assert (await club.points(CUSTOMER))["available"] == 20


async def test_a_reward_gone_since_is_not_granted_and_the_points_still_post(
    client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
) -> None:
    from app.webhooks.models import WebhookEvent

    club = Club(client, state, shopify_shop)
    await club.set({"rules": [
        {"key": "purchase", "type": "purchase", "points": 1},
        {"key": "second", "type": "nth_order", "every": 2, "reward_id": 999},
    ]})  # fmt: skip
    for n in (1, 2):
        order = paid_shopify_order(4200 + n, "10.00", f"2027-02-0{n}T10:00:00Z")
        await club.deliver("orders/paid", order)
    assert (await club.points(1073339475))["available"] == 20
    async with state.db.read() as session:
        statuses = (await session.scalars(select(WebhookEvent.status))).all()
        assert set(statuses) == {"processed"}
        assert await session.scalar(select(func.count()).select_from(Redemption)) == 0
