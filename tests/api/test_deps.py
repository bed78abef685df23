"""The route dependencies, as a new route of the API would use them."""

from __future__ import annotations

import httpx
from fastapi import APIRouter

from app.api.deps import CurrentShop, ReadSession, WriteSession
from app.config import Settings
from app.main import create_app
from app.members import adjustments
from app.members.balances import balance_in
from app.state import AppState
from tests.conftest import ShopifyShop


class TestDependencies:
    async def test_a_route_outside_the_admin_router_gets_the_shop_and_sessions(
        self, settings: Settings, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        # A plain router: CurrentShop checks the key itself, the write commits on return.
        router = APIRouter()

        @router.post("/extra/{customer_id}")
        async def credit(customer_id: str, shop: CurrentShop, session: WriteSession) -> int:
            await adjustments.adjust(
                session, shop.shop_id, customer_id, 3, idempotency_key="x", reason="extra"
            )
            return shop.shop_id

        @router.get("/extra/{customer_id}")
        async def read(customer_id: str, shop: CurrentShop, session: ReadSession) -> int:
            return (await balance_in(session, shop.shop_id, customer_id)).available

        app = create_app(settings, state)
        app.include_router(router)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://vafa.test") as c:
            assert (await c.post("/extra/5")).status_code == 401
            r = await c.post("/extra/5", headers=shopify_shop.auth)
            assert r.json() == shopify_shop.shop_id
            assert (await c.get("/extra/5", headers=shopify_shop.auth)).json() == 3
