"""Each report's figures are the ledger's, the orders' and the members' own: the seeded
history (tests/reports/history.py) rolled up by the periodic task gives, through
``/api/v1/reports/<name>`` and its CSV, the figures computed here from those tables directly;
a rebuild from scratch gives the same rollups."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN
from typing import Any

import httpx
from sqlalchemy import select

from app.ledger.models import SYSTEM_OWNER, AccountKind, TxKind
from app.reports import tasks
from app.reports.models import (
    ReportCampaignDay,
    ReportCohort,
    ReportCustomerMonth,
    ReportMonth,
    ReportTier,
)
from app.state import AppState
from tests.fakes.shopify import FakeShopify
from tests.reports.history import (
    NOW,
    PERIOD,
    POINT_VALUE,
    ZONE,
    B,
    Sources,
    deliver,
    month,
    order_payload,
    ratio,
    seed,
    sources,
    system_total,
    used_orders,
)
from tests.rewards.conftest import StoreShop

MONTHS = [date(2026, 11, 1), date(2026, 12, 1), *(date(2027, m, 1) for m in range(1, 7))]


async def _report(client: httpx.AsyncClient, shop: StoreShop, name: str) -> dict[str, Any]:
    r = await client.get(f"/api/v1/reports/{name}", params=PERIOD, headers=shop.auth)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    # The CSV says what the JSON says, row for row.
    c = await client.get(f"/api/v1/reports/{name}.csv", params=PERIOD, headers=shop.auth)
    assert c.status_code == 200
    assert c.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(c.text)))
    assert rows
    assert list(rows[0]) == body["columns"]
    assert rows == [{k: "" if v is None else str(v) for k, v in row.items()}
                    for row in body["rows"]]  # fmt: skip
    return body


async def _seeded(client: httpx.AsyncClient, state: AppState, shop: StoreShop) -> Sources:
    await seed(client, state, shop)
    return await sources(state, shop.shop_id)


async def test_points_liability_and_redemption_rate_are_the_ledgers(
    client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify, on_shopify: StoreShop
) -> None:
    s = await _seeded(client, state, on_shopify)
    report = await _report(client, on_shopify, "points")
    issued = system_total(s, AccountKind.ISSUED)
    redeemed = system_total(s, AccountKind.REDEEMED)
    adjusted = system_total(s, AccountKind.ADJUSTED)
    assert issued > 0
    assert redeemed == 100
    held = sum(a.balance for a in s.accounts if a.owner != SYSTEM_OWNER)
    t = report["totals"]
    assert (t["points_issued"], t["points_redeemed"], t["points_adjusted"]) == (
        issued, redeemed, adjusted)  # fmt: skip
    assert t["points_expired"] == system_total(s, AccountKind.EXPIRED) == 0
    assert t["outstanding_points"] == held == issued + adjusted - redeemed
    assert t["liability_minor"] == int((held * POINT_VALUE).to_integral_value(ROUND_HALF_EVEN))
    assert t["redemption_rate"] == ratio(redeemed, issued + adjusted)
    assert t["members"] == len(s.members) == 3
    by_day: dict[str, int] = defaultdict(int)
    for tx in s.transactions:
        if tx.kind in (TxKind.EARN, TxKind.REVERSE):
            by_day[tx.created_at.astimezone(ZONE).date().isoformat()] += tx.points
    assert {r["day"]: r["points_issued"] for r in report["rows"] if r["points_issued"]} == {
        d: n for d, n in by_day.items() if n}  # fmt: skip


async def test_members_and_active_members_by_month(
    client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify, on_shopify: StoreShop
) -> None:
    s = await _seeded(client, state, on_shopify)
    report = await _report(client, on_shopify, "members")
    expected = []
    for m in MONTHS:
        total = sum(month(joined) <= m for joined, _ in s.members.values())
        active = {p.customer_id for p in s.paid if p.customer_id and month(p.paid_at) == m}
        expected.append({
            "month": m.isoformat(), "members": total,
            "members_joined": sum(month(j) == m for j, _ in s.members.values()),
            "active_members": len(active), "active_share": ratio(len(active), total),
        })  # fmt: skip
    assert report["rows"] == expected
    assert [r["active_members"] for r in expected[2:]] == [1, 3, 1, 2, 1, 0]


async def test_repeat_rate_and_order_value_members_against_non_members(
    client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify, on_shopify: StoreShop
) -> None:
    s = await _seeded(client, state, on_shopify)
    report = await _report(client, on_shopify, "purchases")
    for row, m in zip(report["rows"], MONTHS, strict=True):
        for name, member in (("member", True), ("guest", False)):
            mine = [p for p in s.paid if (p.customer_id is not None) == member]
            now = [p for p in mine if month(p.paid_at) == m]
            buyers = {p.buyer for p in now}
            again = {b for b in buyers if sum(p.buyer == b for p in now) >= 2
                     or any(p.buyer == b and month(p.paid_at) < m for p in mine)}  # fmt: skip
            revenue = sum(p.net for p in now)
            assert row[f"{name}_customers"] == len(buyers), (m, name)
            assert row[f"{name}_repeat_customers"] == len(again), (m, name)
            assert row[f"{name}_repeat_rate"] == ratio(len(again), len(buyers))
            assert row[f"{name}_orders"] == len(now)
            assert row[f"{name}_revenue_minor"] == revenue
            assert row[f"{name}_aov_minor"] == ratio(revenue, len(now), "1")
    march = report["rows"][MONTHS.index(date(2027, 3, 1))]
    # g1 bought in January and again in March; g2 once: one of two guests came back.
    assert (march["guest_customers"], march["guest_repeat_customers"]) == (2, 1)
    guests = [p for p in s.paid if p.customer_id is None]
    assert report["totals"]["guest_revenue_minor"] == sum(p.net for p in guests) == 15500


async def test_revenue_influenced_by_redemptions(
    client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify, on_shopify: StoreShop
) -> None:
    s = await _seeded(client, state, on_shopify)
    report = await _report(client, on_shopify, "redemptions")
    used = used_orders(s)
    assert used == {"3004"}
    influenced = [p for p in s.paid if p.order_id in used]
    t = report["totals"]
    assert t["orders_redeeming"] == len(influenced) == 1
    assert t["revenue_redeeming_minor"] == sum(p.net for p in influenced) == 5500
    assert t["orders"] == len(s.paid)
    assert t["revenue_minor"] == sum(p.net for p in s.paid)
    assert t["revenue_redeeming_share"] == ratio(5500, t["revenue_minor"])
    day = influenced[0].paid_at.astimezone(ZONE).date().isoformat()
    assert [r["day"] for r in report["rows"] if r["orders_redeeming"]] == [day]


async def test_lifetime_value_by_current_tier(
    client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify, on_shopify: StoreShop
) -> None:
    s = await _seeded(client, state, on_shopify)
    report = await _report(client, on_shopify, "tiers")
    tiers = {tier for _, tier in s.members.values()}
    assert len(tiers) >= 2, tiers  # the history reaches more than one tier
    expected = []
    for key in ["bronze", "silver", *sorted(t or "" for t in tiers - {"bronze", "silver"})]:
        who = {c for c, (_, tier) in s.members.items() if (tier or "") == key}
        revenue = sum(p.net for p in s.paid if p.customer_id in who)
        expected.append({"tier": key or None, "members": len(who), "revenue_minor": revenue,
                         "clv_minor": ratio(revenue, len(who), "1")})  # fmt: skip
    assert report["rows"] == expected


async def test_cohort_retention_by_join_month(
    client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify, on_shopify: StoreShop
) -> None:
    s = await _seeded(client, state, on_shopify)
    report = await _report(client, on_shopify, "cohorts")
    rows = {r["cohort"]: r for r in report["rows"]}
    for cohort in MONTHS:
        joiners = {c for c, (joined, _) in s.members.items() if month(joined) == cohort}
        row = rows[cohort.isoformat()]
        assert row["members"] == len(joiners)
        at = cohort
        for k in range(1, 7):
            at = date(at.year + at.month // 12, at.month % 12 + 1, 1)
            if at > MONTHS[-1]:
                assert row[f"retained_{k}"] is None
                assert row[f"share_{k}"] is None
                continue
            kept = {p.customer_id for p in s.paid
                    if p.customer_id in joiners and month(p.paid_at) == at}  # fmt: skip
            assert row[f"retained_{k}"] == len(kept), (cohort, k)
            assert row[f"share_{k}"] == ratio(len(kept), len(joiners))
    january = rows["2027-01-01"]
    assert (january["members"], january["retained_1"], january["retained_2"]) == (2, 2, 1)


async def test_campaign_effect_against_the_periods_other_orders(
    client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify, on_shopify: StoreShop
) -> None:
    s = await _seeded(client, state, on_shopify)
    report = await _report(client, on_shopify, "campaigns")
    points: dict[str, int] = defaultdict(int)
    touched: dict[str, set[str]] = defaultdict(set)
    for tx in s.transactions:
        if tx.order_id and tx.kind in (TxKind.EARN, TxKind.REVERSE):
            points[tx.order_id] += tx.points
            if tx.rule and tx.rule.startswith("campaign:"):
                touched[tx.order_id].add(tx.rule.removeprefix("campaign:"))
    assert set(touched) == {"3002", "3101"}
    members = [p for p in s.paid if p.customer_id is not None]
    expected = []
    for name in ["double", None]:
        mine = [p for p in members
                if (name in touched[p.order_id] if name else not touched[p.order_id])]  # fmt: skip
        n, p, minor = len(mine), sum(points[o.order_id] for o in mine), sum(o.net for o in mine)
        expected.append({"campaign": name, "orders": n, "points": p, "revenue_minor": minor,
                         "points_per_order": ratio(p, n, "0.01"),
                         "aov_minor": ratio(minor, n, "1")})  # fmt: skip
    assert report["rows"] == expected
    assert expected[0]["orders"] == 2
    assert expected[1]["orders"] == 6


async def _tables(state: AppState, shop_id: int) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    async with state.db.read() as session:
        for model in (ReportCustomerMonth, ReportMonth, ReportCohort, ReportTier,
                      ReportCampaignDay):  # fmt: skip
            columns = [c.name for c in model.__table__.columns if c.name != "id"]
            rows = (await session.execute(select(model).where(model.shop_id == shop_id))).scalars()
            out[model.__tablename__] = sorted(tuple(getattr(r, c) for c in columns) for r in rows)
    return out


async def test_rebuilt_from_scratch_the_rollups_are_those_kept_tick_by_tick(
    client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify, on_shopify: StoreShop
) -> None:
    await seed(client, state, on_shopify)
    # Weeks later B's April order is cancelled: the next tick takes it out of April.
    later = "2027-06-20T12:00:00+03:30"
    cancelled = order_payload(3102, B, "40.00", "2027-04-02T12:00:00+03:30", updated_at=later,
                              cancelled_at=later, cancel_reason="customer")  # fmt: skip
    await deliver(client, state, on_shopify, cancelled)
    shop = await state.shops.by_id(on_shopify.shop_id)
    assert shop is not None
    await tasks.roll_up(state.db, shop, datetime.fromisoformat(later))
    report = await _report(client, on_shopify, "purchases")
    april = report["rows"][MONTHS.index(date(2027, 4, 1))]
    assert (april["member_customers"], april["member_orders"]) == (1, 1)  # A's 3004 alone
    ticked = await _tables(state, on_shopify.shop_id)
    assert all(ticked.values()), ticked
    async with state.db.write() as session:
        for model in (ReportCustomerMonth, ReportMonth, ReportCohort, ReportTier,
                      ReportCampaignDay):  # fmt: skip
            await session.execute(model.__table__.delete())
    await tasks.rebuild_all(state.db, on_shopify.shop_id, datetime.fromisoformat(later))
    assert await _tables(state, on_shopify.shop_id) == ticked


async def test_each_report_refuses_a_bad_period(
    client: httpx.AsyncClient, on_shopify: StoreShop
) -> None:
    for name in ("points", "members", "purchases", "redemptions", "tiers", "cohorts",
                 "campaigns"):  # fmt: skip
        for params in (
            {"from": "2027-02-01", "to": "2027-01-01"},  # backwards
            {"from": "2020-01-01", "to": "2027-01-01"},  # longer than a report covers
            {"from": "yesterday"},  # not a date
        ):
            for path in (name, f"{name}.csv"):
                r = await client.get(f"/api/v1/reports/{path}", params=params,
                                     headers=on_shopify.auth)  # fmt: skip
                assert r.status_code == 422, (path, params, r.text)
                assert r.json()["error"]["code"] == "validation_error"


async def test_the_tiers_rollup_is_made_again_at_most_hourly_by_the_ticks(
    client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify, on_shopify: StoreShop
) -> None:
    await seed(client, state, on_shopify)  # its last tick at NOW
    shop = await state.shops.by_id(on_shopify.shop_id)
    assert shop is not None

    async def made() -> set[datetime]:
        async with state.db.read() as session:
            return set(
                await session.scalars(
                    select(ReportTier.made_at).where(ReportTier.shop_id == on_shopify.shop_id)
                )
            )

    assert await made() == {NOW}
    await tasks.roll_up(state.db, shop, NOW + timedelta(minutes=30))
    assert await made() == {NOW}
    await tasks.roll_up(state.db, shop, NOW + timedelta(minutes=61))
    assert await made() == {NOW + timedelta(minutes=61)}
