"""A Shopify shop whose program has tiers, fed signed webhooks of orders paid at chosen times,
and read back as a store owner would: the member document and the tier history."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import select

from app.jobs.models import Job
from app.program import versions
from app.program.document import ProgramDocument
from app.state import AppState
from app.sync.writeback import BALANCE_WRITE
from tests.conftest import ShopifyShop
from tests.payloads import dumps, shopify_order, shopify_refund

CUSTOMER = "1073339475"
# Programs in the tests take effect long before any order in them.
PROGRAM_FROM = datetime(2020, 1, 1, tzinfo=UTC)
LEVELS = [
    {"key": "bronze", "threshold": 0, "names": {"fa": "برنزی", "en": "Bronze"}},
    {"key": "silver", "threshold": 100, "names": {"fa": "نقره‌ای", "en": "Silver"}},
    {"key": "gold", "threshold": 500, "names": {"fa": "طلایی", "en": "Gold"}},
    {"key": "platinum", "threshold": 1000, "names": {"fa": "پلاتینی", "en": "Platinum"}},
]
# The default purchase rule, written out: 1 point per whole unit of the currency.
PURCHASE = {"key": "purchase", "type": "purchase", "points": 1}


def program(**tiers: Any) -> dict[str, Any]:
    """A program with the four levels (thresholds 0 / 100 / 500 / 1000) and ``tiers``' fields."""
    return {"rules": [PURCHASE], "tiers": {"levels": LEVELS, **tiers}}


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


class Club:
    """One shop's deliveries, each a new event, processed at the time the test says."""

    _ids = itertools.count(1)

    def __init__(self, client: httpx.AsyncClient, state: AppState, shop: ShopifyShop) -> None:
        self.client, self.state, self.shop = client, state, shop
        self.now = PROGRAM_FROM

    def clock(self) -> datetime:
        return self.now

    async def publish(self, document: dict[str, Any], at: datetime = PROGRAM_FROM) -> int:
        async with self.state.db.write() as session:
            version = await versions.publish(
                session, self.shop.shop_id, ProgramDocument.model_validate(document), now=at
            )
        return version.version

    async def deliver(self, topic: str, payload: dict[str, Any]) -> None:
        body = dumps(payload)
        headers = self.shop.headers(body, topic, event_id=f"tiers-{next(self._ids)}")
        r = await self.client.post("/webhooks/shopify", content=body, headers=headers)
        assert r.status_code == 200, r.text

    async def paid(
        self,
        order_id: int,
        amount: str,
        at: str,
        *,
        process_at: datetime | None = None,
        lines: list[dict[str, Any]] | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """An order of ``amount`` paid at ``at`` (ISO with offset), processed at
        ``process_at`` (default: a minute after it was paid)."""
        order = shopify_order(order_id, merchandise=amount, updated_at=at, **fields)
        order["processed_at"] = at
        order["created_at"] = at
        if lines is not None:
            template = order["line_items"][0]
            order["line_items"] = [{**template, **line} for line in lines]
        await self.deliver("orders/paid", order)
        await self.process(process_at or utc(at).replace(second=59))
        return order

    async def refund(
        self, refund_id: int, order_id: int, amount: str, at: str, line_item_id: int | None = None
    ) -> None:
        refund = shopify_refund(refund_id, order_id, merchandise=amount, created_at=at)
        if line_item_id is not None:
            refund["refund_line_items"][0]["line_item_id"] = line_item_id
        await self.deliver("refunds/create", refund)
        await self.process(utc(at))

    async def process(self, now: datetime) -> None:
        self.now = now
        await self.state.worker.drain(now=now)

    async def review(self, now: datetime) -> int:
        """One tick of the periodic tasks; the tiers the review changed."""
        self.now = now
        return (await self.state.worker.run_scheduled(now=now))["tiers_reviewed"]

    async def member(self, customer: str = CUSTOMER) -> dict[str, Any]:
        r = await self.client.get(f"/api/v1/members/{customer}", headers=self.shop.auth)
        assert r.status_code == 200, r.text
        member: dict[str, Any] = r.json()
        return member

    async def tier(self, customer: str = CUSTOMER) -> str | None:
        tier: str | None = (await self.member(customer))["tier"]
        return tier

    async def history(self, customer: str = CUSTOMER) -> list[tuple[str | None, str | None, str]]:
        """(from, to, reason) of each tier change, oldest first."""
        r = await self.client.get(
            f"/api/v1/members/{customer}/tier-history", headers=self.shop.auth
        )
        assert r.status_code == 200, r.text
        return [(c["from"], c["to"], c["reason"]) for c in reversed(r.json()["changes"])]

    async def writebacks(self) -> list[Job]:
        async with self.state.db.read() as session:
            query = select(Job).where(Job.shop_id == self.shop.shop_id, Job.kind == BALANCE_WRITE)
            return list((await session.scalars(query)).all())
