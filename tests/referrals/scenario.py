"""A shop with a referral program, driven by signed webhooks: people with their own contact
details, their orders as Shopify or WooCommerce would send them, and the admin API's view."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from app.orm import utcnow
from app.program import versions
from app.program.document import ProgramDocument
from app.state import AppState
from tests.conftest import ShopifyShop, WooShop
from tests.payloads import dumps, shopify_order, woo_order

RULE_KEY = "friends"


@dataclass(frozen=True)
class Person:
    customer_id: int
    email: str
    phone: str
    street: str


SARA = Person(1001, "sara.karimi@example.com", "+98 912 000 0001", "12 Vali Asr Street")
REZA = Person(2002, "reza@example.org", "+98 935 000 0002", "7 Enghelab Avenue")
NEDA = Person(3003, "neda@example.net", "+98 901 000 0003", "40 Azadi Square")
OMID = Person(4004, "omid@example.info", "+98 919 000 0004", "3 Ferdowsi Lane")
LEILA = Person(5005, "leila@example.co", "+98 910 000 0005", "9 Hafez Road")


class Club:
    """One shop; ``t0`` is when its referral program takes effect, orders are paid after it."""

    def __init__(
        self, client: httpx.AsyncClient, state: AppState, shop: ShopifyShop | WooShop
    ) -> None:
        self.client, self.state, self.shop = client, state, shop
        self.t0 = utcnow().replace(microsecond=0) + timedelta(seconds=2)
        self.deliveries = 0

    def at(self, **delta: float) -> datetime:
        return self.t0 + timedelta(**delta)

    async def program(self, hold_days: int = 14, **rule: Any) -> None:
        rule = {"advocate_points": 500, "friend_points": 200, **rule}
        document = ProgramDocument.model_validate(
            {
                "rules": [{"key": RULE_KEY, "type": "referral", **rule}],
                "hold_days": hold_days,
                "timezone": "Asia/Tehran",
            }
        )
        async with self.state.db.write() as session:
            await versions.publish(session, self.shop.shop_id, document, utcnow(), self.t0)

    async def deliver(
        self, topic: str, payload: dict[str, Any], now: datetime, event_id: str | None = None
    ) -> None:
        body = dumps(payload)
        if isinstance(self.shop, ShopifyShop):
            self.deliveries += 1
            headers = self.shop.headers(body, topic, event_id=event_id or f"e-{self.deliveries}")
            r = await self.client.post("/webhooks/shopify", content=body, headers=headers)
        else:
            headers = self.shop.headers(body, topic)
            r = await self.client.post(self.shop.webhook_url, content=body, headers=headers)
        assert r.status_code == 200, r.text
        await self.state.worker.drain(now)

    async def code(self, person: Person) -> str:
        r = await self.client.get(
            f"/api/v1/members/{person.customer_id}/referral", headers=self.shop.auth
        )
        assert r.status_code == 200, r.text
        code: str = r.json()["code"]
        return code

    async def referrals(self, status: str | None = None) -> list[dict[str, Any]]:
        params = {"status": status} if status else {}
        r = await self.client.get("/api/v1/referrals", params=params, headers=self.shop.auth)
        assert r.status_code == 200, r.text
        found: list[dict[str, Any]] = r.json()["referrals"]
        return found

    async def only_referral(self) -> dict[str, Any]:
        [referral] = await self.referrals()
        return referral

    async def rewards(self, person: Person) -> list[tuple[int, str]]:
        """The member's ledger lines that came from a referral: (points, reason)."""
        r = await self.client.get(
            f"/api/v1/members/{person.customer_id}/entries", headers=self.shop.auth
        )
        if r.status_code == 404:
            return []
        assert r.status_code == 200, r.text
        return [
            (e["points"], e["reason"])
            for e in r.json()["entries"]
            if e["source"]["type"] == "referral"
        ]

    async def tick(self, now: datetime) -> None:
        """The scheduler's periodic tasks, at ``now``."""
        await self.state.worker.run_scheduled(now)


def shopify(
    order_id: int,
    person: Person,
    paid_at: datetime,
    *,
    attribute: str | None = None,
    codes: tuple[str, ...] = (),
    merchandise: str = "100.00",
    financial_status: str = "paid",
    updated_at: datetime | None = None,
    cancelled_at: datetime | None = None,
    refunds: list[dict[str, Any]] | None = None,
    email: str | None = None,
    phone: str | None = None,
    street: str | None = None,
) -> dict[str, Any]:
    """A Shopify order by ``person`` (their contact details unless others are given)."""
    order = shopify_order(
        order_id,
        customer_id=person.customer_id,
        merchandise=merchandise,
        financial_status=financial_status,
        updated_at=(updated_at or paid_at).isoformat(),
        cancelled_at=cancelled_at.isoformat() if cancelled_at else None,
        refunds=refunds,
    )
    email, phone = email or person.email, phone or person.phone
    order["processed_at"] = paid_at.isoformat()
    order["email"] = order["contact_email"] = email
    order["phone"] = phone
    order["customer"] = {**order["customer"], "email": email, "phone": None}
    address = {"address1": street or person.street, "address2": None, "city": "Tehran",
               "zip": "1415", "country_code": "IR", "phone": phone}  # fmt: skip
    order["shipping_address"] = {**order["shipping_address"], **address}
    order["billing_address"] = {**order["billing_address"], **address}
    order["note_attributes"] = [{"name": "vafa_ref", "value": attribute}] if attribute else []
    order["discount_codes"] = [
        {"code": c, "amount": "10.00", "type": "fixed_amount"} for c in codes
    ]
    return order


def woo(
    order_id: int,
    person: Person,
    paid_at: datetime,
    *,
    attribute: str | None = None,
    status: str = "processing",
) -> dict[str, Any]:
    order = woo_order(
        order_id,
        customer_id=person.customer_id,
        status=status,
        modified_gmt=paid_at.replace(tzinfo=None).isoformat(),
    )
    order["date_paid_gmt"] = order["date_paid"] = paid_at.replace(tzinfo=None).isoformat()
    address = {"address_1": person.street, "address_2": "", "city": "Tehran",
               "postcode": "1415", "country": "IR"}  # fmt: skip
    order["billing"] = {**order["billing"], **address, "email": person.email, "phone": person.phone}
    order["shipping"] = {**order["shipping"], **address}
    order["meta_data"] = [{"id": 1, "key": "vafa_ref", "value": attribute}] if attribute else []
    return order
