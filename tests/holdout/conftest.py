"""A Shopify shop with the holdout on at a known salt, and customers known to fall in or out."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from app.db import insert_ignore
from app.holdout.membership import bucket, place
from app.orm import table_of
from app.program.models import Order, OrderRefund
from app.state import AppState
from tests.browser import browser, live
from tests.engage.conftest import club
from tests.rewards.conftest import on_shopify, settings

__all__ = ["browser", "club", "live", "on_shopify", "settings"]

SALT = "holdout-test-salt"
INSIDE = datetime(2026, 10, 1, tzinfo=UTC)  # the seeded history is October 2026's (UTC)


def customers(share_bp: int, *, held_out: bool, count: int = 1, start: int = 5000) -> list[str]:
    """``count`` numeric customer ids (Shopify's are numbers) the hash puts in (or out of) a
    holdout of ``share_bp`` with :data:`SALT`."""
    found: list[str] = []
    n = start
    while len(found) < count:
        n += 1
        if (bucket(SALT, str(n)) < share_bp) == held_out:
            found.append(str(n))
    return found


async def hold_out(
    client: httpx.AsyncClient, auth: dict[str, str], percent: str, salt: str | None = SALT
) -> httpx.Response:
    body = {"share_percent": percent} | ({"salt": salt} if salt else {})
    r = await client.put("/api/v1/holdout", json=body, headers=auth)
    assert r.status_code == 200, r.text
    return r


async def insert_orders(state: AppState, shop_id: int, rows: list[dict[str, Any]]) -> None:
    """Paid orders, as reconciling stores them (the lift reads only the order rows)."""
    base = {"shop_id": shop_id, "known": True, "exponent": 2, "shipping_minor": 0,
            "tax_minor": 0, "financial_state": "paid", "cancelled": False, "deleted": False,
            "backfilled": False, "currency": "USD"}  # fmt: skip
    async with state.db.write() as session:
        dialect = session.get_bind().dialect.name
        await session.execute(insert_ignore(table_of(Order), dialect), [base | r for r in rows])


async def seed_history(
    state: AppState, shop_id: int, held: list[str], members: list[str]
) -> dict[str, list[int]]:
    """October's paid orders of customers placed by the holdout (on at 50 % with SALT) in the
    holdout and in the club, members buying again a little more often, one order partly
    refunded; each customer's net orders, as the lift report should count them."""
    async with state.db.write() as session:
        await place(session, shop_id, held + members, INSIDE - timedelta(days=30))
    rng = random.Random(13)
    history: dict[str, list[int]] = {}
    rows: list[dict[str, Any]] = []
    for customer in held + members:
        count = rng.choice([1, 1, 2, 3] if customer in members else [1, 1, 1, 2])
        history[customer] = []
        for _ in range(count):
            amount = rng.randrange(1_000, 90_000)
            paid = INSIDE + timedelta(days=rng.randrange(0, 31), minutes=len(rows))
            rows.append({"order_id": str(len(rows) + 1), "customer_id": customer,
                         "merchandise_minor": amount, "paid_at": paid})  # fmt: skip
            history[customer].append(amount)
    await insert_orders(state, shop_id, rows)
    async with state.db.write() as session:  # a refund lowers its order's revenue
        session.add(OrderRefund(shop_id=shop_id, order_id="1", refund_id="r1",
                                merchandise_minor=700))  # fmt: skip
    history[rows[0]["customer_id"]][0] -= 700
    return history
