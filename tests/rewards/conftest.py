"""Shops on the fake stores, members with points, rewards: what every rewards test starts from."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.db import Database
from app.ledger import verify
from app.main import create_app
from app.members.balances import Balance, balance_in
from app.program.settings import ProgramSettings
from app.shops import service as shops
from app.state import AppState
from tests.fakes.shopify import DEFAULT_TOKEN, FakeShopify
from tests.fakes.woocommerce import FakeWooCommerce

SHOPIFY_CUSTOMER = "207119551"
WOO_EMAIL = "Sara@Example.com"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """No wait for the code by default: only the tests that run a worker wait for it."""
    return settings.model_copy(update={"redemption_wait_seconds": 0.0})


@dataclass
class StoreShop:
    shop_id: int
    admin_api_key: str
    customer_id: str
    webhook_secret: str
    webhook_url: str  # where the store delivers webhooks (Shopify: one path for every shop)
    domain: str | None = None

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_api_key}"}


async def shopify_store_shop(
    state: AppState, fake: FakeShopify, settings: dict[str, Any] | None = None
) -> StoreShop:
    fake.add_customer(SHOPIFY_CUSTOMER)
    async with state.db.write() as session:
        new = await shops.add_shopify(
            session,
            state.vault,
            domain="rewards.myshopify.com",
            access_token=DEFAULT_TOKEN,
            api_secret="webhook-secret",
            api_url=fake.base_url,
            settings=ProgramSettings.from_json({"currency": "USD", **(settings or {})}),
        )
    return StoreShop(new.shop_id, new.admin_api_key, SHOPIFY_CUSTOMER, "webhook-secret",
                     "/webhooks/shopify", "rewards.myshopify.com")  # fmt: skip


@pytest.fixture
async def on_shopify(state: AppState, fake_shopify: FakeShopify) -> StoreShop:
    """A shop on the fake Shopify whose member 207119551 the store knows."""
    return await shopify_store_shop(state, fake_shopify)


@pytest.fixture
async def on_woo(state: AppState, woo_store: FakeWooCommerce) -> StoreShop:
    """A shop on the fake WooCommerce; its member is a customer of the store, unknown to Vafa
    but by id (so the job reads the e-mail from the store)."""
    customer = woo_store.add_customer(WOO_EMAIL)
    async with state.db.write() as session:
        new = await shops.add_woocommerce(
            session,
            state.vault,
            url=woo_store.url,
            consumer_key=woo_store.consumer_key,
            consumer_secret=woo_store.consumer_secret,
            settings=ProgramSettings.from_json({"currency": "EUR"}),
        )
    assert new.webhook_secret is not None
    assert new.webhook_url is not None
    return StoreShop(new.shop_id, new.admin_api_key, str(customer["id"]), new.webhook_secret,
                     new.webhook_url)  # fmt: skip


async def give_points(client: httpx.AsyncClient, shop: StoreShop, points: int) -> None:
    r = await client.post(
        f"/api/v1/members/{shop.customer_id}/adjustments",
        json={"points": points, "reason": "seed", "idempotency_key": f"seed-{points}"},
        headers=shop.auth,
    )
    assert r.status_code == 201, r.text


async def add_reward(client: httpx.AsyncClient, shop: StoreShop, **fields: Any) -> int:
    body = {"name": "5 off", "kind": "amount_off", "points_cost": 100, "value": 500,
            "code_valid_days": 30, "active": True} | fields  # fmt: skip
    r = await client.post("/api/v1/rewards", json=body, headers=shop.auth)
    assert r.status_code == 201, r.text
    reward_id: int = r.json()["id"]
    return reward_id


async def redeem(
    client: httpx.AsyncClient, shop: StoreShop, reward_id: int, key: str = "k1", **extra: Any
) -> httpx.Response:
    return await client.post(
        f"/api/v1/members/{shop.customer_id}/redemptions",
        json={"reward_id": reward_id, "idempotency_key": key, **extra},
        headers=shop.auth,
    )


async def redemption(client: httpx.AsyncClient, shop: StoreShop, redemption_id: int) -> Any:
    r = await client.get(
        f"/api/v1/members/{shop.customer_id}/redemptions/{redemption_id}", headers=shop.auth
    )
    assert r.status_code == 200, r.text
    return r.json()


async def balance(state: AppState, shop: StoreShop) -> Balance:
    async with state.db.read() as session:
        return await balance_in(session, shop.shop_id, shop.customer_id)


async def ledger_differences(db: Database, shop_id: int) -> list[Any]:
    async with db.read() as session:
        return [p.what for p in await verify.verify_shop(session, shop_id)]


@pytest.fixture
async def waiting_client(
    settings: Settings, db: Database
) -> AsyncIterator[tuple[httpx.AsyncClient, AppState]]:
    """An API that waits for the code (3 s), with a worker running beside it as `vafa worker`
    (or the in-process worker on SQLite) does."""
    waiting = settings.model_copy(update={"redemption_wait_seconds": 3.0})
    state = AppState.build(waiting, db)
    stop = asyncio.Event()
    task = asyncio.create_task(state.worker.run_forever(stop, wake=state.wake_worker))
    app = create_app(waiting, state)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://vafa.test"
        ) as c:
            yield c, state
    finally:
        stop.set()
        await task
