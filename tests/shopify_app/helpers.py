"""Installing Vafa on the fake Shopify's shop as a store owner does, and reading back what the
install left in Vafa's database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import func, select

from app.connectors.base import Platform
from app.jobs.models import Job
from app.ledger.models import LedgerTransaction
from app.program.models import Order
from app.shops.models import Shop
from app.state import AppState
from tests.fakes.shopify import FakeShopify


@dataclass
class Started:
    authorize: httpx.URL  # where the store owner is sent: the grant screen
    state: str
    cookie: str


async def start(client: httpx.AsyncClient, fake: FakeShopify) -> Started:
    """``GET /shopify/install`` as Shopify sends the store owner there."""
    response = await client.get("/shopify/install", params=fake.signed_query(host="YWRtaW4"))
    assert response.status_code == 302, response.text
    authorize = httpx.URL(response.headers["location"])
    cookie = response.cookies.get("vafa_shopify_state")
    assert cookie is not None
    return Started(authorize, authorize.params["state"], cookie)


async def approve(authorize: httpx.URL) -> httpx.URL:
    """The store owner approves on the (fake) grant screen: where it sends them back."""
    async with httpx.AsyncClient() as browser:
        screen = await browser.get(authorize)
    assert screen.status_code == 302, screen.text
    return httpx.URL(screen.headers["location"])


async def install(client: httpx.AsyncClient, fake: FakeShopify) -> httpx.Response:
    """The whole authorization-code grant, in one browser (the client keeps the cookie)."""
    started = await start(client, fake)
    back = await approve(started.authorize)
    return await client.get(str(back))


async def shops(state: AppState) -> list[Shop]:
    async with state.db.read() as session:
        return list((await session.scalars(select(Shop).order_by(Shop.id))).all())


async def credentials(state: AppState, shop_id: int) -> dict[str, Any]:
    async with state.db.read() as session:
        shop = await session.get(Shop, shop_id)
    assert shop is not None
    return state.vault.open(shop.credentials)


async def jobs(state: AppState) -> list[tuple[int, str]]:
    async with state.db.read() as session:
        rows = await session.execute(select(Job.shop_id, Job.kind).order_by(Job.kind))
    return [(row.shop_id, row.kind) for row in rows]


async def counts(state: AppState) -> dict[str, int]:
    """Rows of what an install makes, per table: a second install must not add any."""
    async with state.db.read() as session:
        return {
            "shops": int(await session.scalar(select(func.count()).select_from(Shop)) or 0),
            "orders": int(await session.scalar(select(func.count()).select_from(Order)) or 0),
            "jobs": int(await session.scalar(select(func.count()).select_from(Job)) or 0),
            "transactions": int(
                await session.scalar(select(func.count()).select_from(LedgerTransaction)) or 0
            ),
        }


async def shop_id_of(state: AppState, domain: str) -> int:
    found = await state.shops.by_domain(Platform.SHOPIFY, domain)
    assert found is not None
    return found.shop_id
