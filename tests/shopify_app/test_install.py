"""Installing Vafa from Shopify by the authorization-code grant, against the fake Shopify: one
install makes one shop with the offline token, its webhooks and its past orders; installing
again duplicates nothing; a callback forged, replayed or from another browser installs
nothing."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from app.config import Settings
from app.connectors.base import Platform
from app.db import Database
from app.main import create_app
from app.orm import utcnow
from app.program.models import Order
from app.shopify_app.config import SCOPES
from app.state import AppState
from app.sync.webhooks import TOPICS
from tests.fakes.shopify import FakeShopify
from tests.fakes.shopify_orders import order_from_webhook
from tests.payloads import dumps, shopify_order
from tests.shopify_app import helpers
from tests.shopify_app.conftest import PUBLIC_URL
from tests.signing import shopify_headers

CUSTOMER = 1073339475
SHOP = "club.myshopify.com"  # the fake's


def _past_order(fake: FakeShopify, order_id: int = 1001) -> None:
    stamp = utcnow().isoformat(timespec="seconds")
    rest = shopify_order(order_id, customer_id=CUSTOMER, merchandise="181.09", updated_at=stamp)
    fake.add_order(order_from_webhook(rest))


async def _orders(state: AppState, shop_id: int) -> list[Order]:
    async with state.db.read() as session:
        query = select(Order).where(Order.shop_id == shop_id).order_by(Order.order_id)
        return list((await session.scalars(query)).all())


class TestStart:
    async def test_the_store_owner_is_sent_to_the_grant_screen_with_a_state_cookie(
        self, client: httpx.AsyncClient, fake_shopify: FakeShopify
    ) -> None:
        started = await helpers.start(client, fake_shopify)
        assert str(started.authorize).startswith(f"{fake_shopify.base_url}/admin/oauth/authorize?")
        params = started.authorize.params
        assert params["client_id"] == fake_shopify.client_id
        assert params["scope"].split(",") == list(SCOPES)
        # A product's collections and type, which collection and product-type rules match.
        assert "read_products" in params["scope"].split(",")
        assert params["redirect_uri"] == f"{PUBLIC_URL}/shopify/callback"
        assert "grant_options[]" not in params  # an offline token, not a staff member's
        assert started.state
        assert started.state in started.cookie

    async def test_two_starts_get_two_nonces(
        self, client: httpx.AsyncClient, fake_shopify: FakeShopify
    ) -> None:
        first = await helpers.start(client, fake_shopify)
        second = await helpers.start(client, fake_shopify)
        assert first.state != second.state

    async def test_a_query_shopify_did_not_sign_is_refused(
        self, client: httpx.AsyncClient, fake_shopify: FakeShopify
    ) -> None:
        query = fake_shopify.signed_query() | {"shop": "other.myshopify.com"}
        response = await client.get("/shopify/install", params=query)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"
        assert "location" not in response.headers

    async def test_a_host_that_is_not_a_shop_is_never_redirected_to(
        self, client: httpx.AsyncClient, fake_shopify: FakeShopify
    ) -> None:
        fake_shopify.shop_domain = "evil.example.com"  # even signed with the secret
        response = await client.get("/shopify/install", params=fake_shopify.signed_query())
        assert response.status_code == 401
        assert "myshopify.com" in response.json()["error"]["message"]

    async def test_an_old_install_link_is_refused(
        self, client: httpx.AsyncClient, fake_shopify: FakeShopify
    ) -> None:
        query = fake_shopify.signed_query(timestamp=str(int(utcnow().timestamp()) - 600))
        response = await client.get("/shopify/install", params=query)
        assert response.status_code == 401
        assert "timestamp" in response.json()["error"]["message"]


class TestInstall:
    async def test_one_install_one_shop_its_webhooks_and_its_past_orders(
        self, client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify
    ) -> None:
        _past_order(fake_shopify)
        response = await helpers.install(client, fake_shopify)
        assert response.status_code == 302, response.text
        assert response.headers["location"].endswith(f"/admin/apps/{fake_shopify.client_id}")
        [shop] = await helpers.shops(state)
        assert (shop.platform, shop.domain, shop.status) == (
            "shopify",
            SHOP,
            "active",
        )
        creds = await helpers.credentials(state, shop.id)
        assert creds["access_token"] == fake_shopify.offline_tokens[-1]
        assert creds["api_secrets"] == [fake_shopify.client_secret]
        assert sorted(kind for _, kind in await helpers.jobs(state)) == [
            "orders.backfill",
            "webhooks.sync",
        ]

        await state.worker.drain()
        assert sorted(h["topic"] for h in fake_shopify.webhooks) == sorted(
            t.upper().replace("/", "_") for t in TOPICS[Platform.SHOPIFY]
        )
        assert {h["uri"] for h in fake_shopify.webhooks} == {f"{PUBLIC_URL}/webhooks/shopify"}
        [order] = await _orders(state, shop.id)
        # Recorded without points: a later refund of it takes back nothing it never gave.
        assert (order.order_id, order.known, order.backfilled) == ("1001", True, True)
        assert (await helpers.counts(state))["transactions"] == 0

    async def test_an_order_changed_after_the_install_is_left_to_its_webhook_and_earns(
        self, client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify
    ) -> None:
        later = (utcnow() + timedelta(minutes=5)).isoformat(timespec="seconds")
        rest = shopify_order(1003, customer_id=CUSTOMER, merchandise="42.50", updated_at=later)
        fake_shopify.add_order(order_from_webhook(rest))
        await helpers.install(client, fake_shopify)
        await state.worker.drain()
        [shop] = await helpers.shops(state)
        assert await _orders(state, shop.id) == []  # not recorded as a past order
        body = dumps(rest)
        signed = shopify_headers(
            body, secret=fake_shopify.client_secret, topic="orders/paid", domain=SHOP
        )
        assert (await client.post("/webhooks/shopify", content=body, headers=signed)).is_success
        await state.worker.drain()
        token = {"Authorization": f"Bearer {fake_shopify.session_token()}"}
        member = await client.get(f"/api/v1/members/{CUSTOMER}", headers=token)
        assert member.json()["points"]["available"] == 42

    async def test_installing_again_duplicates_nothing_and_gives_the_new_token(
        self, client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify
    ) -> None:
        _past_order(fake_shopify)
        await helpers.install(client, fake_shopify)
        await state.worker.drain()
        before = await helpers.counts(state)
        hooks = list(fake_shopify.webhooks)

        response = await helpers.install(client, fake_shopify)
        assert response.status_code == 302, response.text
        await state.worker.drain()
        assert (
            await helpers.counts(state)
            == before
            == {
                "shops": 1,
                "orders": 1,
                "jobs": 2,
                "transactions": 0,
            }
        )
        assert fake_shopify.webhooks == hooks
        [shop] = await helpers.shops(state)
        assert len(fake_shopify.offline_tokens) == 2
        creds = await helpers.credentials(state, shop.id)
        assert creds["access_token"] == fake_shopify.offline_tokens[-1]

    async def test_the_installed_shops_webhooks_are_signed_with_the_client_secret(
        self, client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify
    ) -> None:
        await helpers.install(client, fake_shopify)
        body = dumps(shopify_order(1002, customer_id=CUSTOMER, merchandise="20.00"))
        signed = shopify_headers(
            body,
            secret=fake_shopify.client_secret,
            topic="orders/paid",
            domain=SHOP,
        )
        accepted = await client.post("/webhooks/shopify", content=body, headers=signed)
        assert accepted.status_code == 200
        forged = shopify_headers(body, secret="not-it", topic="orders/paid", domain=SHOP)
        refused = await client.post("/webhooks/shopify", content=body, headers=forged)
        assert refused.status_code == 401

    async def test_a_paused_shop_installed_again_is_active_with_the_new_token(
        self, client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify
    ) -> None:
        from app.shops import service as shops

        await helpers.install(client, fake_shopify)
        [shop] = await helpers.shops(state)
        async with state.db.write() as session:
            await shops.pause(session, shop.id, "the store refused the token (uninstalled)")
        await helpers.install(client, fake_shopify)
        [again] = await helpers.shops(state)
        assert (again.id, again.status, again.status_reason) == (shop.id, "active", None)


class TestCallbackRefused:
    async def test_a_replayed_callback_installs_nothing_more(
        self, client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify
    ) -> None:
        started = await helpers.start(client, fake_shopify)
        back = await helpers.approve(started.authorize)
        assert (await client.get(str(back))).status_code == 302
        token = fake_shopify.offline_tokens[-1]
        # The same callback again, cookie and all (as an attacker who captured both would).
        client.cookies.set("vafa_shopify_state", started.cookie, domain="vafa.example")
        replayed = await client.get(str(back))
        assert replayed.status_code == 401  # the code was spent: Shopify refuses it
        assert fake_shopify.offline_tokens == [token]
        assert (await helpers.counts(state))["shops"] == 1

    async def test_the_callback_clears_the_state_cookie(
        self, client: httpx.AsyncClient, fake_shopify: FakeShopify
    ) -> None:
        response = await helpers.install(client, fake_shopify)
        assert 'vafa_shopify_state=""' in response.headers["set-cookie"]
        assert "vafa_shopify_state" not in client.cookies

    async def test_a_callback_in_a_browser_that_did_not_start_the_install(
        self, client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify
    ) -> None:
        started = await helpers.start(client, fake_shopify)
        back = await helpers.approve(started.authorize)
        client.cookies.clear()
        response = await client.get(str(back))
        assert response.status_code == 401
        assert "state cookie" in response.json()["error"]["message"]
        assert await helpers.shops(state) == []
        assert fake_shopify.offline_tokens == []  # the code was never even exchanged

    @pytest.mark.parametrize("part", ["nonce", "signature"])
    async def test_a_state_cookie_tampered_with(
        self, client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify, part: str
    ) -> None:
        started = await helpers.start(client, fake_shopify)
        back = await helpers.approve(started.authorize)
        nonce, shop, expires, mac = started.cookie.split(":")
        if part == "nonce":
            nonce = "x" + nonce
        else:
            mac = "0" * 64
        cookie = f"{nonce}:{shop}:{expires}:{mac}"
        client.cookies.set("vafa_shopify_state", cookie, domain="vafa.example")
        assert (await client.get(str(back))).status_code == 401
        assert await helpers.shops(state) == []

    async def test_a_state_other_than_the_cookies(
        self, client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify
    ) -> None:
        first = await helpers.start(client, fake_shopify)
        await helpers.start(client, fake_shopify)  # its cookie replaces the first one's
        back = await helpers.approve(first.authorize)
        response = await client.get(str(back))
        assert response.status_code == 401
        assert "state" in response.json()["error"]["message"]
        assert await helpers.shops(state) == []

    async def test_a_callback_query_tampered_with(
        self, client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify
    ) -> None:
        started = await helpers.start(client, fake_shopify)
        back = await helpers.approve(started.authorize)
        tampered = back.copy_set_param("shop", "other.myshopify.com")
        assert (await client.get(str(tampered))).status_code == 401
        assert await helpers.shops(state) == []


class TestShopifyFailing:
    async def test_too_little_access_granted_installs_nothing(
        self, client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify
    ) -> None:
        fake_shopify.granted_scope = "read_orders,write_discounts"
        response = await helpers.install(client, fake_shopify)
        assert response.status_code == 400
        message = response.json()["error"]["message"]
        assert "read_customers, read_products, write_app_proxy, write_customers" in message
        assert await helpers.shops(state) == []

    async def test_shopify_down_is_a_502_and_the_same_callback_works_once_it_is_back(
        self, client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify
    ) -> None:
        started = await helpers.start(client, fake_shopify)
        back = await helpers.approve(started.authorize)
        fake_shopify.fail_next(status=503)
        down = await client.get(str(back))
        assert down.status_code == 502
        assert down.json()["error"]["code"] == "shopify_unavailable"
        assert await helpers.shops(state) == []
        assert (await client.get(str(back))).status_code == 302
        assert len(await helpers.shops(state)) == 1


class TestConcurrentInstalls:
    async def test_two_installs_of_a_new_shop_at_once_make_one_shop(
        self, state: AppState, fake_shopify: FakeShopify
    ) -> None:
        from app.shopify_app import service

        async def one(token: str) -> service.Installed:
            return await service.install(
                state.db,
                state.vault,
                domain=SHOP,
                access_token=token,
                client_secret=fake_shopify.client_secret,
                api_url=fake_shopify.base_url,
                sync_webhooks=True,
            )

        first, second = await asyncio.gather(one("shpat_a"), one("shpat_b"))
        assert first.shop_id == second.shop_id
        assert sorted([first.created, second.created]) == [False, True]
        counts = await helpers.counts(state)
        assert (counts["shops"], counts["jobs"]) == (1, 2)
        [shop] = await helpers.shops(state)
        # The one that found the shop made wrote last: its token is the shop's.
        updater = "shpat_b" if first.created else "shpat_a"
        assert (await helpers.credentials(state, shop.id))["access_token"] == updater


class TestNotConfigured:
    async def test_without_the_apps_settings_nothing_can_be_installed(
        self, settings: Settings, db: Database, fake_shopify: FakeShopify
    ) -> None:
        bare = settings.model_copy(update={"shopify_client_id": None})
        app = create_app(bare, AppState.build(bare, db))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as plain:
            response = await plain.get("/shopify/install", params=fake_shopify.signed_query())
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "shopify_app_not_configured"
