"""A shop with two members who left traces everywhere Vafa keeps them: signed webhooks (their
customer record, a paid order with addresses, a refund), a manual adjustment whose reason quotes
an e-mail, a reward redeemed for a code on the fake Shopify, and a data request. Plus the scan
the privacy tests end with: every column of every table of the database, read back as the
database holds it (bodies decompressed, JSON decoded), searched for a text."""

from __future__ import annotations

import contextlib
import copy
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from sqlalchemy import inspect, text
from typer.testing import CliRunner, Result

from app.cli import cli
from app.ledger.verify import verify_shop
from app.members.balances import Balance, balance_in
from app.orm import utcnow
from app.state import AppState
from tests.conftest import fixture_json
from tests.fakes.shopify import FakeShopify
from tests.payloads import dumps, shopify_order, shopify_refund
from tests.rewards.conftest import StoreShop, add_reward, shopify_store_shop
from tests.signing import shopify_headers

# Mixed case on purpose: an address is found whatever case a table holds it in.
EMAIL = "Zed.Quartz+vafa@Privacy-Test.example"
PHONE = "+989121234567"
OTHER_EMAIL = "Other.Member@Privacy-Test.example"
OTHER_CUSTOMER = "7002"


@dataclass
class Scenario:
    shop: StoreShop
    customer_id: str  # the member whose e-mail is EMAIL
    order_id: int


async def deliver(
    client: httpx.AsyncClient, shop: StoreShop, topic: str, payload: dict[str, Any]
) -> None:
    body = dumps(payload)
    assert shop.domain is not None
    headers = shopify_headers(body, secret=shop.webhook_secret, topic=topic, domain=shop.domain)
    r = await client.post("/webhooks/shopify", content=body, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "accepted", r.text


async def settle(state: AppState) -> None:
    """What the worker does next: apply the events, run the jobs, then a scheduler tick (which
    carries out the privacy requests the webhooks recorded)."""
    await state.worker.drain()
    await state.worker.run_scheduled(utcnow())
    await state.worker.drain()


def customer(customer_id: str, email: str, first: str, last: str) -> dict[str, Any]:
    record = copy.deepcopy(fixture_json("shopify/customer.json"))
    record.update(id=int(customer_id), email=email, first_name=first, last_name=last, phone=PHONE)
    for address in record.get("addresses", []):
        address.update(customer_id=int(customer_id), first_name=first, last_name=last)
    record["default_address"] = record["addresses"][0] if record.get("addresses") else None
    return record


def order_of(order_id: int, customer_id: str, email: str, merchandise: str) -> dict[str, Any]:
    order = shopify_order(order_id, customer_id=int(customer_id), merchandise=merchandise)
    order["email"] = order["contact_email"] = email
    order["customer"] = {**order["customer"], "email": email, "first_name": "Zed"}
    order["billing_address"] = {**order["billing_address"], "first_name": "Zed", "phone": PHONE}
    order["note"] = f"please write to {email.lower()} about the gift wrap"
    return order


def compliance(topic_payload: str, customer_id: str, orders: list[int]) -> dict[str, Any]:
    payload = copy.deepcopy(fixture_json(topic_payload))
    payload["customer"] = {"id": int(customer_id), "email": EMAIL, "phone": PHONE}
    key = "orders_requested" if "orders_requested" in payload else "orders_to_redact"
    payload[key] = orders
    return payload


async def build(client: httpx.AsyncClient, state: AppState, fake: FakeShopify) -> Scenario:
    shop = await shopify_store_shop(state, fake)
    member = shop.customer_id
    fake.add_customer(OTHER_CUSTOMER, email=OTHER_EMAIL)
    await deliver(client, shop, "customers/create", customer(member, EMAIL, "Zed", "Quartz"))
    await deliver(client, shop, "customers/create",
                  customer(OTHER_CUSTOMER, OTHER_EMAIL, "Other", "Member"))  # fmt: skip
    await deliver(client, shop, "orders/paid", order_of(9001, member, EMAIL, "250.00"))
    await deliver(client, shop, "refunds/create", shopify_refund(61, 9001, merchandise="50.00"))
    await deliver(client, shop, "orders/paid",
                  order_of(9002, OTHER_CUSTOMER, OTHER_EMAIL, "80.00"))  # fmt: skip
    await settle(state)
    r = await client.post(
        f"/api/v1/members/{member}/adjustments",
        json={"points": 300, "reason": f"goodwill, asked by {EMAIL}", "idempotency_key": "gw-1"},
        headers=shop.auth,
    )
    assert r.status_code == 201, r.text
    reward_id = await add_reward(client, shop)
    r = await client.post(
        f"/api/v1/members/{member}/redemptions",
        json={"reward_id": reward_id, "idempotency_key": "r-1"},
        headers=shop.auth,
    )
    assert r.status_code in (200, 201, 202), r.text
    await settle(state)
    return Scenario(shop, member, 9001)


def vafa(*args: str) -> Result:
    """The ``vafa`` command, on a thread of its own: it runs its own event loop, and an async
    test is inside one already."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(CliRunner().invoke, cli, list(args)).result()


async def balance(state: AppState, shop_id: int, customer_id: str) -> Balance:
    async with state.db.read() as session:
        return await balance_in(session, shop_id, customer_id)


async def ledger_problems(state: AppState, shop_id: int) -> list[str]:
    async with state.db.read() as session:
        return [p.what for p in await verify_shop(session, shop_id)]


async def traces(state: AppState, needle: str) -> list[str]:
    """Every ``table.column`` (with the row's first column) whose value holds ``needle``, case
    aside, in any table of the database: found from the database's own catalogue, not from the
    models, so a table no model describes is searched too."""
    wanted = needle.lower()
    found: list[str] = []
    async with state.db.writer.connect() as conn:
        names = await conn.run_sync(lambda c: inspect(c).get_table_names())
        for name in sorted(names):
            result = await conn.execute(text(f'SELECT * FROM "{name}"'))
            columns = list(result.keys())
            for row in result.all():
                for column, value in zip(columns, row, strict=True):
                    if any(wanted in form.lower() for form in _readings(value)):
                        found.append(f"{name}.{column} (row {row[0]})")
    return found


def _readings(value: object) -> list[str]:
    """Each way a stored value can be read as text: as it is, and, for bytes or text holding
    JSON, decoded (so that an escaped ``\\u0040`` is still an ``@``)."""
    if value is None:
        return []
    if isinstance(value, memoryview):
        value = value.tobytes()
    raw = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    if isinstance(value, dict | list):
        raw = json.dumps(value, ensure_ascii=False)
    readings = [raw]
    with contextlib.suppress(orjson.JSONDecodeError):
        readings.append(json.dumps(orjson.loads(raw), ensure_ascii=False))
    return readings
