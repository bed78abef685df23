"""A Shopify shop running a club program set for the test, its members made by signed
customers/create webhooks, and the calls a test makes on them."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select

from app.ledger.models import LedgerTransaction
from app.program import versions
from app.program.document import ProgramDocument
from app.state import AppState
from tests.conftest import ShopifyShop, fixture_json
from tests.payloads import dumps, shopify_order

CUSTOMER = "207119551"  # the published customer sample's id (Bob Norman)
TEHRAN = ZoneInfo("Asia/Tehran")
# Versions published by a test are in force from here, before anything a test does happens.
PROGRAM_FROM = datetime(2025, 1, 1, tzinfo=UTC)


class Club:
    def __init__(self, client: httpx.AsyncClient, state: AppState, shop: ShopifyShop) -> None:
        self.client, self.state, self.shop = client, state, shop
        self.deliveries = 0

    async def publish(self, document: dict[str, Any], effective_at: datetime = PROGRAM_FROM) -> int:
        """A new program version in force from ``effective_at``; its number."""
        parsed = ProgramDocument.model_validate(document)
        async with self.state.db.write() as session:
            # ``now`` is the effective time: versions.publish refuses one in the past.
            version = await versions.publish(session, self.shop.shop_id, parsed, effective_at)
        return version.version

    async def deliver(
        self, topic: str, payload: dict[str, Any], now: datetime | None = None
    ) -> None:
        self.deliveries += 1
        body = dumps(payload)
        headers = self.shop.headers(body, topic, event_id=f"evt-{self.deliveries}")
        r = await self.client.post("/webhooks/shopify", content=body, headers=headers)
        assert r.status_code == 200, r.text
        await self.state.worker.drain(now)

    async def join(
        self, customer_id: str = CUSTOMER, first: str = "Bob", last: str = "Norman",
        topic: str = "customers/create",
    ) -> None:  # fmt: skip
        customer = copy.deepcopy(fixture_json("shopify/customer.json"))
        customer.update(id=int(customer_id), first_name=first, last_name=last,
                        email=f"{first.lower()}.{last.lower()}@mail.example.com")  # fmt: skip
        await self.deliver(topic, customer)

    async def order(
        self, order_id: int, paid_at: datetime, merchandise: str, customer_id: str = CUSTOMER
    ) -> None:
        """A signed orders/paid webhook of a paid order."""
        order = shopify_order(
            order_id, customer_id=int(customer_id), merchandise=merchandise,
            updated_at=paid_at.isoformat(),
        )  # fmt: skip
        order["processed_at"] = paid_at.isoformat()
        await self.deliver("orders/paid", order)

    async def event(
        self, kind: str, key: str, occurred_at: datetime | None = None,
        customer_id: str = CUSTOMER,
    ) -> httpx.Response:  # fmt: skip
        body: dict[str, Any] = {"type": kind, "idempotency_key": key}
        if occurred_at is not None:
            body["occurred_at"] = occurred_at.isoformat()
        return await self.client.post(
            f"/api/v1/members/{customer_id}/events", json=body, headers=self.shop.auth
        )

    async def earned(
        self, kind: str, key: str, occurred_at: datetime | None = None,
        customer_id: str = CUSTOMER,
    ) -> int:  # fmt: skip
        """Posts the event; the points it earned."""
        r = await self.event(kind, key, occurred_at, customer_id)
        assert r.status_code == 201, r.text
        points: int = r.json()["points"]
        return points

    async def available(self, customer_id: str = CUSTOMER) -> int:
        r = await self.client.get(f"/api/v1/members/{customer_id}", headers=self.shop.auth)
        assert r.status_code == 200, r.text
        value: int = r.json()["points"]["available"]
        return value

    async def reasons(self, customer_id: str = CUSTOMER) -> list[str]:
        """The member's ledger lines' reasons, oldest first."""
        async with self.state.db.read() as session:
            rows = await session.scalars(
                select(LedgerTransaction.reason)
                .where(LedgerTransaction.shop_id == self.shop.shop_id,
                       LedgerTransaction.owner == customer_id)
                .order_by(LedgerTransaction.id)
            )  # fmt: skip
            return list(rows.all())

    async def badges(self, customer_id: str = CUSTOMER) -> dict[str, Any]:
        r = await self.client.get(f"/api/v1/members/{customer_id}/badges", headers=self.shop.auth)
        assert r.status_code == 200, r.text
        return {b["key"]: b for b in r.json()["badges"]}


@pytest.fixture
async def club(client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop) -> Club:
    return Club(client, state, shopify_shop)
