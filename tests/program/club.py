"""A shop whose program is set through ``PUT /api/v1/program`` and whose orders arrive as
signed webhooks: what the program scenario tests drive."""

from __future__ import annotations

import copy
from typing import Any

import httpx

from app.ledger.verify import verify_shop
from app.state import AppState
from tests.conftest import ShopifyShop, WooShop
from tests.payloads import dumps, shopify_order, woo_order
from tests.tiers import helpers as tiers

# Versions set by the scenarios take effect then; their orders are paid after it.
EFFECTIVE = "2027-01-01T00:00:00Z"


async def put_program(
    client: httpx.AsyncClient,
    shop: ShopifyShop | WooShop,
    document: dict[str, Any],
    effective_at: str | None = EFFECTIVE,
) -> httpx.Response:
    """``PUT /api/v1/program`` with the shop's admin key, in force from ``effective_at``
    (None: from now)."""
    return await client.put(
        "/api/v1/program",
        json=document,
        params={"effective_at": effective_at} if effective_at else None,
        headers=shop.auth,
    )


async def set_program(
    client: httpx.AsyncClient,
    shop: ShopifyShop | WooShop,
    document: dict[str, Any],
    effective_at: str | None = EFFECTIVE,
) -> int:
    """The new version's number; the PUT must have made one."""
    r = await put_program(client, shop, document, effective_at)
    assert r.status_code == 201, r.text
    version: int = r.json()["version"]
    return version


async def ledger_lines(
    client: httpx.AsyncClient, shop: ShopifyShop | WooShop, customer: str | int
) -> list[tuple[int, str]]:
    """The member's ledger lines, oldest first: (points, reason)."""
    r = await client.get(
        f"/api/v1/members/{customer}/entries", params={"limit": 200}, headers=shop.auth
    )
    assert r.status_code == 200, r.text
    entries = sorted(r.json()["entries"], key=lambda e: e["id"])
    return [(e["points"], e["reason"]) for e in entries]


class Club:
    def __init__(
        self, client: httpx.AsyncClient, state: AppState, shop: ShopifyShop | WooShop
    ) -> None:
        self.client, self.state, self.shop = client, state, shop
        self.count = 0

    async def put(
        self, document: dict[str, Any], effective_at: str | None = EFFECTIVE
    ) -> httpx.Response:
        return await put_program(self.client, self.shop, document, effective_at)

    async def set(self, document: dict[str, Any], effective_at: str | None = EFFECTIVE) -> int:
        return await set_program(self.client, self.shop, document, effective_at)

    async def deliver(self, topic: str, payload: dict[str, Any]) -> None:
        self.count += 1
        body = dumps(payload)
        if isinstance(self.shop, WooShop):
            headers = self.shop.headers(body, topic)
            r = await self.client.post(self.shop.webhook_url, content=body, headers=headers)
        else:
            headers = self.shop.headers(body, topic, event_id=f"evt-{self.count}")
            r = await self.client.post("/webhooks/shopify", content=body, headers=headers)
        assert r.status_code == 200, r.text
        await self.state.worker.drain()

    async def points(self, customer: str | int) -> dict[str, int]:
        r = await self.client.get(f"/api/v1/members/{customer}", headers=self.shop.auth)
        assert r.status_code == 200, r.text
        points: dict[str, int] = r.json()["points"]
        return points

    async def lines(self, customer: str | int) -> list[tuple[int, str]]:
        return await ledger_lines(self.client, self.shop, customer)

    async def verify(self) -> None:
        async with self.state.db.read() as session:
            assert await verify_shop(session, self.shop.shop_id) == []


def toman_order(
    order_id: int,
    customer_id: int | str,
    lines: list[tuple[str, str | None]],
    *,
    paid: str,
    shipping: str = "0",
    status: str = "completed",
    refunds: list[tuple[int, str]] | None = None,
) -> dict[str, Any]:
    """A WooCommerce order in Toman (IRT): its lines' totals with their SKUs, paid at ``paid``
    (UTC, no offset, as WooCommerce's ``_gmt`` fields are)."""
    order = woo_order(
        order_id,
        customer_id=int(customer_id),
        status=status,
        lines=tuple(total for total, _ in lines),
        total=str(sum(int(total) for total, _ in lines) + int(shipping)),
        refunds=refunds,
        modified_gmt=paid,
    )
    order["currency"] = "IRT"
    order["date_paid_gmt"] = order["date_paid"] = paid
    order["shipping_total"] = shipping
    order["total_tax"] = "0"
    order["shipping_tax"] = "0"
    order["discount_total"] = "0"
    order["coupon_lines"] = []
    for line, (_, sku) in zip(order["line_items"], lines, strict=True):
        line["sku"] = sku or ""
        line["product_id"] = 1000 + order["line_items"].index(line)
        line["variation_id"] = 0
        line["total_tax"] = "0"
        line["subtotal_tax"] = "0"
        line["taxes"] = []
    return order


def paid_shopify_order(
    order_id: int, merchandise: str, paid: str, customer_id: int = 1073339475, **changes: Any
) -> dict[str, Any]:
    """A Shopify order paid (``processed_at``) at ``paid``."""
    changes.setdefault("updated_at", paid)
    order = shopify_order(order_id, customer_id=customer_id, merchandise=merchandise, **changes)
    order["processed_at"] = paid
    return copy.deepcopy(order)


class TierClub(tiers.Club):
    """The tier scenarios' shop (orders paid and processed at chosen times, reviews, the member
    document read at the time last processed) with its program set through the API."""

    async def set(self, document: dict[str, Any], effective_at: str | None = EFFECTIVE) -> int:
        return await set_program(self.client, self.shop, document, effective_at)

    async def lines(self, customer: str = tiers.CUSTOMER) -> list[tuple[int, str]]:
        return await ledger_lines(self.client, self.shop, customer)
