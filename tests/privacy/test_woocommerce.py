"""WooCommerce sends no compliance webhooks: a store owner's GDPR request goes through the admin
API (or the CLI), with the same result as Shopify's."""

from __future__ import annotations

import copy

import httpx

from app.state import AppState
from tests.conftest import WooShop, fixture_json
from tests.payloads import dumps, woo_order
from tests.privacy.scenario import balance, ledger_problems, traces, vafa

EMAIL = "Shirin.Woo+gdpr@Store-Test.example"
CUSTOMER = 26  # the customer of the published order sample


async def _seed(client: httpx.AsyncClient, state: AppState, shop: WooShop) -> None:
    record = copy.deepcopy(fixture_json("woocommerce/customer.json"))
    record.update(id=CUSTOMER, email=EMAIL, username="shirin")
    record["billing"]["email"] = EMAIL
    order = woo_order(4001, customer_id=CUSTOMER)
    order["billing"]["email"] = EMAIL
    for topic, payload in (("customer.created", record), ("order.created", order)):
        body = dumps(payload)
        r = await client.post(shop.webhook_url, content=body, headers=shop.headers(body, topic))
        assert r.json()["status"] == "accepted", r.text
    await state.worker.drain()


async def test_a_woocommerce_member_is_exported_then_redacted_through_the_admin_api(
    client: httpx.AsyncClient, state: AppState, woo_shop: WooShop
) -> None:
    await _seed(client, state, woo_shop)
    before = await balance(state, woo_shop.shop_id, str(CUSTOMER))
    assert before.available + before.pending > 0
    r = await client.post(f"/api/v1/members/{CUSTOMER}/export", headers=woo_shop.auth)
    assert r.status_code == 201, r.text
    assert r.json()["document"]["profile"]["email"] == EMAIL
    assert r.json()["document"]["ledger"]
    assert await traces(state, EMAIL) != []
    assert await traces(state, "969 Market") != []

    r = await client.post(f"/api/v1/members/{CUSTOMER}/redact", headers=woo_shop.auth)
    assert r.status_code == 200, r.text
    assert r.json()["changed"]["webhook_bodies"] == 2
    assert r.json()["changed"]["exports_erased"] == 1
    assert await traces(state, EMAIL) == []
    assert await traces(state, "969 Market") == []  # the billing address went with them
    assert await balance(state, woo_shop.shop_id, str(CUSTOMER)) == before
    assert await ledger_problems(state, woo_shop.shop_id) == []
    r = await client.get("/api/v1/privacy/exports", headers=woo_shop.auth)
    assert [e["status"] for e in r.json()["exports"]] == ["erased"]


async def test_the_cli_redacts_a_woocommerce_member(
    client: httpx.AsyncClient, state: AppState, woo_shop: WooShop, env: str
) -> None:
    await _seed(client, state, woo_shop)
    result = vafa("privacy", "redact", "--shop", str(woo_shop.shop_id), "--customer", "26")
    assert result.exit_code == 0, result.output
    assert '"status":"done"' in result.stdout
    assert await traces(state, EMAIL) == []
    assert await ledger_problems(state, woo_shop.shop_id) == []
