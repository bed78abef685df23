"""The reports' figures are the ledger's and the orders': a seeded history (signed order
webhooks for members and a guest, a refund, an adjustment, a redemption whose code the fake
store made) rolled up by the scheduler's task gives the totals computed here from the sources
directly; the rollup kept up tick by tick equals one made again from scratch; and the API and
its CSV say the same."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

import httpx
from sqlalchemy import select

from app.members.balances import balance_in
from app.members.models import Member
from app.orm import utcnow
from app.reports import tasks
from app.reports.models import ReportDay
from app.rewards.models import Redemption, RedemptionStatus
from app.state import AppState
from tests.fakes.shopify import FakeShopify
from tests.payloads import dumps, shopify_order, shopify_refund
from tests.rewards.conftest import StoreShop, add_reward, give_points
from tests.signing import shopify_headers

BUYER = 1073339475


async def _deliver(client: httpx.AsyncClient, shop: StoreShop, order: dict[str, Any]) -> None:
    assert shop.domain is not None
    body = dumps(order)
    headers = shopify_headers(
        body, secret=shop.webhook_secret, topic="orders/updated", domain=shop.domain
    )
    r = await client.post("/webhooks/shopify", content=body, headers=headers)
    assert r.status_code == 200, r.text


async def _history(client: httpx.AsyncClient, state: AppState, shop: StoreShop) -> None:
    await _deliver(client, shop, shopify_order(1001, customer_id=BUYER, merchandise="181.09"))
    await _deliver(client, shop, shopify_order(1002, customer_id=None, merchandise="50.00"))
    refund = shopify_refund(9001, 1003, merchandise="40.00")
    await _deliver(
        client, shop, shopify_order(1003, customer_id=BUYER, merchandise="100.00", refunds=[refund])
    )
    await state.worker.drain()
    await give_points(client, shop, 150)
    reward = await add_reward(client, shop, points_cost=100, value=500)
    r = await client.post(
        f"/api/v1/members/{shop.customer_id}/redemptions",
        json={"reward_id": reward, "idempotency_key": "r1"},
        headers=shop.auth,
    )
    assert r.status_code in (201, 202), r.text
    await state.worker.drain()


async def _days(state: AppState, shop_id: int) -> list[tuple[Any, ...]]:
    async with state.db.read() as session:
        rows = (
            await session.scalars(
                select(ReportDay).where(ReportDay.shop_id == shop_id).order_by(ReportDay.day)
            )
        ).all()
    return [
        tuple(getattr(r, c.name) for c in ReportDay.__table__.columns if c.name != "id")
        for r in rows
    ]


async def test_the_reports_figures_are_the_ledgers_and_the_orders(
    client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify, on_shopify: StoreShop
) -> None:
    await _history(client, state, on_shopify)
    shop = await state.shops.by_id(on_shopify.shop_id)
    assert shop is not None
    assert await tasks.roll_up(state.db, shop, utcnow()) > 0

    # The same figures straight from the sources.
    async with state.db.read() as session:
        buyer = await balance_in(session, on_shopify.shop_id, str(BUYER))
        owner = await balance_in(session, on_shopify.shop_id, on_shopify.customer_id)
        spent = (
            await session.scalars(
                select(Redemption).where(
                    Redemption.shop_id == on_shopify.shop_id,
                    Redemption.status.in_([RedemptionStatus.ISSUED, RedemptionStatus.USED]),
                )
            )
        ).all()
        members = (
            await session.scalars(
                select(Member.customer_id).where(Member.shop_id == on_shopify.shop_id)
            )
        ).all()
    assert buyer.available == 181 + 60  # 100 earned, 40 of it refunded
    issued = buyer.available + buyer.pending
    redeemed = sum(r.points - r.points_returned for r in spent)
    assert redeemed == 100

    r = await client.get(
        "/api/v1/reports/summary", params={"from": "2025-01-01"}, headers=on_shopify.auth
    )
    assert r.status_code == 200, r.text
    report = r.json()
    totals = report["totals"]
    assert totals["points_issued"] == issued
    assert totals["points_adjusted"] == 150
    assert totals["points_redeemed"] == redeemed
    assert totals["points_expired"] == 0
    assert totals["members_joined"] == report["members"] == len(members) == 2
    assert (totals["orders_members"], totals["orders_guests"]) == (2, 1)
    assert totals["revenue_members_minor"] == 18109 + (10000 - 4000)
    assert totals["revenue_guests_minor"] == 5000
    assert report["outstanding_points"] == issued + 150 - redeemed
    assert report["outstanding_points"] == (
        buyer.available + buyer.pending + buyer.held + owner.available + owner.pending + owner.held
    )
    assert report["redemption_rate"] == str(round(redeemed / (issued + 150), 4))
    assert report["aov_members_minor"] == str(round((18109 + 6000) / 2))
    assert report["liability_minor"] is None  # the program gives no value for a point

    daily = await client.get(
        "/api/v1/reports/daily.csv", params={"from": "2025-01-01"}, headers=on_shopify.auth
    )
    rows = list(csv.DictReader(io.StringIO(daily.text)))
    assert sum(int(row["points_issued"]) for row in rows) == issued
    assert {row["day"] for row in rows if row["orders_members"] != "0"} == {"2025-04-02"}


async def test_kept_up_tick_by_tick_it_equals_the_rollup_made_again(
    client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify, on_shopify: StoreShop
) -> None:
    shop = await state.shops.by_id(on_shopify.shop_id)
    assert shop is not None
    await _deliver(client, on_shopify, shopify_order(1001, customer_id=BUYER))
    await state.worker.drain()
    await tasks.roll_up(state.db, shop, utcnow())
    await _history(client, state, on_shopify)  # more, after the first tick (1001 again: nothing)
    await tasks.roll_up(state.db, shop, utcnow())
    ticked = await _days(state, on_shopify.shop_id)
    await tasks.rebuild_all(state.db, on_shopify.shop_id, utcnow())
    rebuilt = await _days(state, on_shopify.shop_id)
    with_data = [row for row in rebuilt if any(row[2:])]
    assert [row for row in ticked if any(row[2:])] == with_data
    assert {row[1] for row in with_data} >= {date(2025, 4, 2)}


async def test_a_period_backwards_is_refused(
    client: httpx.AsyncClient, on_shopify: StoreShop
) -> None:
    r = await client.get(
        "/api/v1/reports/summary",
        params={"from": "2026-02-01", "to": "2026-01-01"},
        headers=on_shopify.auth,
    )
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "validation_error"
