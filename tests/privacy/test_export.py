"""customers/data_request and the store owner's export: everything Vafa holds on a member, every
ledger line of theirs among it, kept for the admin API and the CLI."""

from __future__ import annotations

import json

import httpx
from sqlalchemy import select

from app.ledger.models import LedgerTransaction
from app.privacy import sections, tables
from app.state import AppState
from tests.conftest import make_shopify_shop
from tests.fakes.shopify import FakeShopify
from tests.privacy.scenario import (
    EMAIL,
    OTHER_CUSTOMER,
    build,
    compliance,
    deliver,
    order_of,
    settle,
    vafa,
)


async def _ledger_ids(state: AppState, shop_id: int, customer_id: str) -> list[int]:
    async with state.db.read() as session:
        query = select(LedgerTransaction.id).where(
            LedgerTransaction.shop_id == shop_id, LedgerTransaction.owner == customer_id
        )
        return sorted((await session.scalars(query)).all())


class TestDataRequest:
    async def test_the_export_holds_every_ledger_line_of_the_member_and_nobody_elses(
        self, client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify
    ) -> None:
        s = await build(client, state, fake_shopify)
        # A guest order with their e-mail, which the platform names as theirs; 9002 is another
        # member's, which no request makes theirs.
        await deliver(client, s.shop, "orders/paid", {**order_of(9500, "1", EMAIL, "12.00"),
                                                      "customer": None})  # fmt: skip
        payload = compliance("shopify/customers-data_request.json", s.customer_id,
                             [s.order_id, 9500, 9002])  # fmt: skip
        await deliver(client, s.shop, "customers/data_request", payload)
        await settle(state)

        r = await client.get("/api/v1/privacy/exports", headers=s.shop.auth)
        assert r.status_code == 200, r.text
        (listed,) = r.json()["exports"]
        assert listed["customer_id"] == s.customer_id
        assert (listed["source"], listed["status"]) == ("webhook", "done")
        r = await client.get(f"/api/v1/privacy/exports/{listed['id']}", headers=s.shop.auth)
        assert r.status_code == 200, r.text
        document = r.json()["document"]

        expected = await _ledger_ids(state, s.shop.shop_id, s.customer_id)
        # earn, release (the hold days), the refund's reversal, the adjustment, the redemption's
        # hold and capture: the member's whole history
        assert len(expected) >= 5
        assert [line["id"] for line in document["ledger"]] == expected
        assert {line["kind"] for line in document["ledger"]} >= {"earn", "reverse", "adjust"}
        assert document["profile"]["email"] == EMAIL
        assert [o["order_id"] for o in document["orders"]] == [str(s.order_id)]
        assert [o["order_id"] for o in document["orders_requested"]] == [str(s.order_id), "9500"]
        assert len(document["redemptions"]) == 1
        assert document["redemptions"][0]["code"]
        assert {a["kind"] for a in document["accounts"]} >= {"available", "pending", "held"}
        topics = {e["topic"] for e in document["webhook_events"]}
        assert topics >= {"customers/create", "orders/paid", "customers/data_request"}
        other = await _ledger_ids(state, s.shop.shop_id, OTHER_CUSTOMER)
        assert other
        assert not set(other) & {line["id"] for line in document["ledger"]}

    async def test_another_shops_key_reads_no_export(
        self, client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify
    ) -> None:
        s = await build(client, state, fake_shopify)
        r = await client.post(f"/api/v1/members/{s.customer_id}/export", headers=s.shop.auth)
        assert r.status_code == 201, r.text
        export_id = r.json()["id"]
        stranger = await make_shopify_shop(state, domain="stranger.myshopify.com")
        r = await client.get(f"/api/v1/privacy/exports/{export_id}", headers=stranger.auth)
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "export_not_found"
        r = await client.get("/api/v1/privacy/exports", headers=stranger.auth)
        assert r.json() == {"exports": []}
        r = await client.post(f"/api/v1/members/{s.customer_id}/export", headers=stranger.auth)
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "member_not_found"

    async def test_the_admin_api_and_the_cli_export_a_member_of_any_shop(
        self, client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify, env: str
    ) -> None:
        s = await build(client, state, fake_shopify)
        expected = await _ledger_ids(state, s.shop.shop_id, s.customer_id)
        r = await client.post(f"/api/v1/members/{s.customer_id}/export", headers=s.shop.auth)
        assert r.status_code == 201, r.text
        assert [line["id"] for line in r.json()["document"]["ledger"]] == expected
        result = vafa("privacy", "export", "--shop", str(s.shop.shop_id),
                      "--customer", s.customer_id)  # fmt: skip
        assert result.exit_code == 0, result.output
        printed = json.loads(result.stdout)
        assert printed["source"] == "cli"
        assert [line["id"] for line in printed["document"]["ledger"]] == expected
        listed = vafa("privacy", "exports", "--shop", str(s.shop.shop_id))
        assert [e["source"] for e in json.loads(listed.stdout)["exports"]] == ["cli", "api"]
        unknown = vafa("privacy", "export", "--shop", str(s.shop.shop_id), "--customer", "404")
        assert unknown.exit_code == 1
        assert "no member with customer id '404'" in unknown.stderr


def test_every_table_naming_a_customer_has_its_own_section() -> None:
    """A table added later with a customer_id column is exported under its own name without a
    change in app/privacy; two tables never share a section."""
    exported = [t.name for t in tables.customer_tables() if t.name not in sections.NOT_EXPORTED]
    names = [sections.section_for(name).name for name in exported]
    assert len(set(names)) == len(names)
    assert {"members", "ledger_transactions", "redemptions", "orders"} <= set(exported)
