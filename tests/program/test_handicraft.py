"""The handicraft shop (WooCommerce, in Toman): 50 points per 500,000 Toman spent, shipping
excluded; 50 welcome points on the first purchase; 200 points buy 50,000 Toman off. Driven by
signed webhooks, every balance and line computed by hand."""

from __future__ import annotations

import httpx
import pytest

from app.program.settings import ProgramSettings
from app.shops import service as shops
from app.state import AppState
from tests.conftest import WooShop
from tests.fakes.woocommerce import FakeWooCommerce
from tests.program.club import Club, toman_order

PROGRAM = {
    "currency": "IRT",
    "timezone": "Asia/Tehran",
    "locale": "fa",
    "rules": [
        {"key": "purchase", "type": "purchase", "points": 50, "per_minor": 500_000},
        {"key": "welcome", "type": "first_order", "points": 50,
         "names": {"fa": "خوش‌آمد", "en": "Welcome"}},
    ],
}  # fmt: skip


@pytest.fixture
async def club(client: httpx.AsyncClient, state: AppState, woo_store: FakeWooCommerce) -> Club:
    async with state.db.write() as session:
        new = await shops.add_woocommerce(
            session,
            state.vault,
            url=woo_store.url,
            consumer_key=woo_store.consumer_key,
            consumer_secret=woo_store.consumer_secret,
            settings=ProgramSettings(currency="IRT"),
        )
    assert new.webhook_secret is not None
    assert new.webhook_url is not None
    shop = WooShop(new.shop_id, new.admin_api_key, new.webhook_secret, new.webhook_url)
    return Club(client, state, shop)


async def test_the_handicraft_shop_runs_as_its_owner_computes_it(
    club: Club, client: httpx.AsyncClient, state: AppState, woo_store: FakeWooCommerce
) -> None:
    customer = woo_store.add_customer("maryam@example.com")["id"]
    assert await club.set(PROGRAM) == 2  # version 1 is the shop's settings

    # 1,000,000 Toman of goods and 50,000 Toman of shipping (not counted): two whole 500,000s
    # are 100 points, and 50 welcome points for the first purchase.
    first = toman_order(1042, customer, [("600000", "RUG-1"), ("400000", "VASE-2")],
                        paid="2027-02-01T09:30:00", shipping="50000")  # fmt: skip
    await club.deliver("order.updated", first)
    # 1,250,000 Toman: two whole 500,000s, 100 points; not the first purchase, no welcome.
    second = toman_order(1043, customer, [("1250000", None)], paid="2027-02-10T12:00:00")
    await club.deliver("order.updated", second)
    assert (await club.points(customer))["available"] == 100 + 50 + 100

    # 200 points buy 50,000 Toman off, as a code on the store.
    r = await client.post(
        "/api/v1/rewards",
        json={"name": "50,000 Toman off", "kind": "points_to_money", "points_cost": 200,
              "value": 50_000, "code_valid_days": 30},
        headers=club.shop.auth,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    r = await client.post(
        f"/api/v1/members/{customer}/redemptions",
        json={"reward_id": r.json()["id"], "idempotency_key": "checkout-1", "points": 200},
        headers=club.shop.auth,
    )
    assert r.status_code in (201, 202), r.text
    await state.worker.drain()
    r = await client.get(
        f"/api/v1/members/{customer}/redemptions/{r.json()['id']}", headers=club.shop.auth
    )
    assert r.json()["status"] == "issued", r.text
    coupon = woo_store.coupon(r.json()["code"])
    assert coupon is not None
    assert (coupon["discount_type"], coupon["amount"]) == (
        "fixed_cart",
        "50000.00",
    )  # 50,000 Toman, not 500
    assert (await club.points(customer))["available"] == 250 - 200

    # 250,000 Toman of order #1043 refunded: it keeps 100 × 1,000,000 / 1,250,000 = 80.
    refunded = toman_order(1043, customer, [("1250000", None)], paid="2027-02-10T12:00:00",
                           refunds=[(1100, "-250000")])  # fmt: skip
    refunded["date_modified_gmt"] = "2027-02-12T08:00:00"
    await club.deliver("order.updated", refunded)
    assert (await club.points(customer))["available"] == 50 - 20

    lines = await club.lines(customer)
    earned = [line for line in lines if line[0] > 0]
    assert earned == [
        (100, "100 points: 1,000,000 Toman spent on order #1042 (rule purchase, program v2)"),
        (50, "50 points: first paid order #1042 (rule welcome, program v2)"),
        (100, "100 points: 1,250,000 Toman spent on order #1043 (rule purchase, program v2)"),
    ]
    reversal = lines[-1]
    assert reversal[0] == -20
    assert "250,000 Toman" in reversal[1]
    assert reversal[1].endswith("(rule purchase)")
    await club.verify()


async def test_a_rial_shop_names_its_currency(club: Club, woo_store: FakeWooCommerce) -> None:
    """IRR is whole Rials (exponent 0), written "Rial": 10 Rials are 1 Toman."""
    customer = woo_store.add_customer("reza@example.com")["id"]
    program = {**PROGRAM, "currency": "IRR", "rules": [
        {"key": "purchase", "type": "purchase", "points": 50, "per_minor": 5_000_000}]}  # fmt: skip
    await club.set(program)
    order = toman_order(7, customer, [("10000000", None)], paid="2027-03-01T10:00:00")
    order["currency"] = "IRR"
    await club.deliver("order.updated", order)
    assert await club.lines(customer) == [
        (100, "100 points: 10,000,000 Rial spent on order #7 (rule purchase, program v2)")
    ]
