"""The admin's reports page: every report's chart, table and CSV link, its figures as the API
gives them written in the page's language (Persian digits, Jalali months in fa), the CSV
download the API's, a bad period answered with the form and a message (never a 500), and
nothing without a session."""

from __future__ import annotations

import re

import httpx

from app.admin import auth
from app.state import AppState
from tests.admin.helpers import PASSWORD, csrf_of
from tests.fakes.shopify import FakeShopify
from tests.reports.history import PERIOD, seed
from tests.rewards.conftest import StoreShop

NAMES = ("points", "members", "purchases", "redemptions", "tiers", "cohorts", "campaigns")
OWNER = "owner@rewards.example"


async def signed_in_owner(client: httpx.AsyncClient, state: AppState, shop: StoreShop) -> None:
    async with state.db.write() as session:
        await auth.add_user(session, shop.shop_id, OWNER, PASSWORD)
    form = await client.get("/admin/sign-in")
    r = await client.post("/admin/sign-in", data={"csrf": csrf_of(form.text),
                          "store": shop.domain, "email": OWNER, "password": PASSWORD})  # fmt: skip
    assert r.status_code == 303, r.text


async def test_the_reports_page_shows_each_report_as_chart_table_and_csv(
    client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify, on_shopify: StoreShop
) -> None:
    await seed(client, state, on_shopify)
    api = {
        name: (await client.get(f"/api/v1/reports/{name}", params=PERIOD,
                                headers=on_shopify.auth)).json()
        for name in NAMES
    }  # fmt: skip
    await signed_in_owner(client, state, on_shopify)

    en = await client.get("/admin/reports", params={**PERIOD, "lang": "en"})
    assert en.status_code == 200, en.text
    html = en.text
    assert 'href="/admin/reports" aria-current="page"' in html
    for name in NAMES:
        section = html.split(f'data-report="{name}"', 1)[1].split("</section>", 1)[0]
        assert "<svg" in section, name
        assert "<table>" in section, name
        assert f'href="/admin/reports/{name}.csv?from=2026-11-01&amp;to=2027-06-30"' in section
    liability = api["points"]["totals"]["liability_minor"]
    assert f'data-total="liability_minor">{liability / 100:,.2f} USD<' in html
    # The campaign's row: its orders and average order value, as the API counts them.
    double = api["campaigns"]["rows"][0]
    assert double["campaign"] == "double"
    aov = int(double["aov_minor"]) / 100
    row = re.search(r'<tr><th scope="row" class="num">double</th>(.*?)</tr>', html)
    assert row is not None
    assert f'<td class="num">{double["orders"]}</td>' in row.group(1)
    assert f"{aov:,.2f} USD" in row.group(1)
    assert "Silver" in html
    assert "Other orders" in html

    fa = await client.get("/admin/reports", params={**PERIOD, "lang": "fa"})
    assert 'dir="rtl"' in fa.text
    assert "۱۴۰۵/۱۰/۱۱" in fa.text  # 2027-01-01, the January cohort's month, in Jalali
    assert "نقره‌ای" in fa.text
    members = api["members"]["totals"]["members"]
    assert f'data-total="members">{"۰۱۲۳۴۵۶۷۸۹"[members]}<' in fa.text

    csv = await client.get("/admin/reports/cohorts.csv", params=PERIOD)
    same = await client.get("/api/v1/reports/cohorts.csv", params=PERIOD, headers=on_shopify.auth)
    assert csv.status_code == 200
    assert csv.text == same.text
    assert csv.text.startswith("cohort,members,retained_1")


async def test_a_bad_period_is_answered_on_the_page_and_a_stranger_is_sent_to_sign_in(
    client: httpx.AsyncClient, state: AppState, on_shopify: StoreShop
) -> None:
    r = await client.get("/admin/reports")
    assert r.status_code == 303
    assert r.headers["location"] == "/admin/sign-in"
    assert (await client.get("/admin/reports/points.csv")).status_code == 303
    await signed_in_owner(client, state, on_shopify)
    for params in ({"from": "2027-02-01", "to": "2027-01-01"}, {"from": "soon"}):
        r = await client.get("/admin/reports", params={**params, "lang": "en"})
        assert r.status_code == 422
        assert "Give the period as two dates" in r.text
        assert 'name="from"' in r.text
        r = await client.get("/admin/reports/points.csv", params=params)
        assert r.status_code == 422
        assert r.json()["error"]["code"] == "validation_error"
