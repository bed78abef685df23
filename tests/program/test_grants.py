"""A reward the program grants: a redemption free of points whose code the job makes on the
store, once per grant key."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select

from app.ledger.models import LedgerTransaction
from app.orm import utcnow
from app.rewards.grants import grant_reward
from app.rewards.models import Redemption
from app.state import AppState
from tests.fakes.shopify import FakeShopify
from tests.rewards.conftest import add_reward, balance, give_points, shopify_store_shop


async def _grant(state: AppState, shop_id: int, customer_id: str, reward_id: int, key: str) -> int:
    async with state.db.write() as session:
        r = await grant_reward(
            session, shop_id, customer_id, reward_id, key=key, reason="third order", now=utcnow()
        )
        return r.id


async def test_a_grant_makes_a_code_on_the_store_and_spends_no_points(
    client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify
) -> None:
    shop = await shopify_store_shop(state, fake_shopify)
    reward_id = await add_reward(client, shop, kind="percent_off", value=5, points_cost=300)
    await give_points(client, shop, 40)  # fewer than the reward costs: a grant needs none
    async with state.db.read() as session:
        posted_before = await session.scalar(
            select(func.count()).where(LedgerTransaction.shop_id == shop.shop_id)
        )

    first = await _grant(state, shop.shop_id, shop.customer_id, reward_id, "nth:order:1")
    again = await _grant(state, shop.shop_id, shop.customer_id, reward_id, "nth:order:1")
    assert again == first
    await state.worker.drain()

    r = await client.get(
        f"/api/v1/members/{shop.customer_id}/redemptions/{first}", headers=shop.auth
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["status"], body["points"]) == ("issued", 0)
    assert body["code"].startswith("VAFA-")
    discount = fake_shopify.discount(body["code"])
    assert discount is not None
    assert discount["customerGets"]["value"]["percentage"] == 0.05
    assert len(fake_shopify.graphql_requests("VafaDiscountBasicCreate")) == 1
    spent = await balance(state, shop)
    assert (spent.available, spent.held) == (40, 0)
    async with state.db.read() as session:
        redemptions = await session.scalar(
            select(func.count()).where(Redemption.shop_id == shop.shop_id)
        )
        posted_after = await session.scalar(
            select(func.count()).where(LedgerTransaction.shop_id == shop.shop_id)
        )
    assert redemptions == 1
    assert posted_after == posted_before  # nothing held, captured or spent


async def test_another_key_grants_again(
    client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify
) -> None:
    shop = await shopify_store_shop(state, fake_shopify)
    reward_id = await add_reward(client, shop)
    await give_points(client, shop, 1)  # makes the member
    first = await _grant(state, shop.shop_id, shop.customer_id, reward_id, "nth:order:3")
    second = await _grant(state, shop.shop_id, shop.customer_id, reward_id, "nth:order:6")
    assert first != second
    await state.worker.drain()
    codes = [
        (await client.get(f"/api/v1/members/{shop.customer_id}/redemptions/{i}",
                          headers=shop.auth)).json()["code"]
        for i in (first, second)
    ]  # fmt: skip
    assert len(set(codes)) == 2
    assert all(fake_shopify.discount(code) is not None for code in codes)
