from __future__ import annotations

import httpx

from app.state import AppState
from tests.conftest import ShopifyShop, fixture_bytes


async def test_paid_order_earns_points(
    client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
) -> None:
    body = fixture_bytes("shopify/orders-create.json")
    r = await client.post(
        "/webhooks/shopify", content=body, headers=shopify_shop.headers(body, "orders/paid", "e1")
    )
    assert r.status_code == 200, r.text
    await state.worker.drain()
    r = await client.get("/api/v1/members/1073339475", headers=shopify_shop.auth)
    assert r.status_code == 200, r.text
    assert r.json()["points"]["available"] == 181
