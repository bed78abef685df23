"""The embedded app's install: its session token exchanged for the shop's offline token, the
shop registered once; a token expired, forged or for another app installs nothing and is never
sent on to Shopify."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from app.shops import service as shops
from app.state import AppState
from tests.fakes.shopify import FakeShopify
from tests.shopify_app import helpers

SHOP = "club.myshopify.com"


async def _exchange(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(
        "/shopify/token-exchange", headers={"Authorization": f"Bearer {token}"}
    )


class TestExchange:
    async def test_a_session_token_installs_the_shop(
        self, client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify
    ) -> None:
        response = await _exchange(client, fake_shopify.session_token())
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["shop"], body["created"], body["exchanged"]) == (SHOP, True, True)
        [shop] = await helpers.shops(state)
        assert body["shop_id"] == shop.id
        creds = await helpers.credentials(state, shop.id)
        assert creds["access_token"] == fake_shopify.offline_tokens[-1]
        assert sorted(kind for _, kind in await helpers.jobs(state)) == [
            "orders.backfill",
            "webhooks.sync",
        ]
        await state.worker.drain()
        assert len(fake_shopify.webhooks) == 7

    async def test_every_load_of_the_app_after_that_asks_shopify_for_nothing(
        self, client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify
    ) -> None:
        await _exchange(client, fake_shopify.session_token())
        before = await helpers.counts(state)
        again = await _exchange(client, fake_shopify.session_token())
        assert again.status_code == 200
        assert (again.json()["created"], again.json()["exchanged"]) == (False, False)
        assert len(fake_shopify.token_requests()) == 1
        assert await helpers.counts(state) == before

    async def test_a_paused_shop_exchanges_again_and_is_active(
        self, client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify
    ) -> None:
        first = (await _exchange(client, fake_shopify.session_token())).json()
        async with state.db.write() as session:
            await shops.pause(session, first["shop_id"], "uninstalled")
        again = (await _exchange(client, fake_shopify.session_token())).json()
        assert (again["shop_id"], again["exchanged"]) == (first["shop_id"], True)
        [shop] = await helpers.shops(state)
        assert shop.status == "active"
        creds = await helpers.credentials(state, shop.id)
        assert (
            creds["access_token"]
            == fake_shopify.offline_tokens[-1]
            != (fake_shopify.offline_tokens[0])
        )

    async def test_the_app_url_opened_with_a_session_token_installs_at_once(
        self, client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify
    ) -> None:
        query = fake_shopify.signed_query(
            embedded="1", host="YWRtaW4", id_token=fake_shopify.session_token()
        )
        response = await client.get("/shopify/install", params=query)
        assert response.status_code == 303, response.text
        assert [s.domain for s in await helpers.shops(state)] == [SHOP]
        # Into the admin, embedded, with the same token as its session (not the query's hmac).
        admin = urlsplit(response.headers["location"])
        assert admin.path == "/admin"
        assert parse_qs(admin.query) == {
            k: [query[k]] for k in ("shop", "host", "embedded", "id_token")
        }
        page = await client.get(response.headers["location"] + "&lang=en")
        assert page.status_code == 200, page.text
        assert "Overview" in page.text
        assert page.headers["content-security-policy"] == (
            f"frame-ancestors https://{SHOP} https://admin.shopify.com"
        )


class TestRefused:
    @pytest.mark.parametrize(
        "change",
        [
            {"lifetime": -30.0},  # expired (beyond the leeway)
            {"aud": "another-app"},
            {"dest": "https://club.myshopify.com.evil.com"},
            {"iss": "https://other.myshopify.com/admin"},
        ],
    )
    async def test_a_bad_session_token_installs_nothing(
        self,
        client: httpx.AsyncClient,
        state: AppState,
        fake_shopify: FakeShopify,
        change: dict[str, object],
    ) -> None:
        response = await _exchange(client, fake_shopify.session_token(**change))
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"
        assert await helpers.shops(state) == []
        assert fake_shopify.token_requests() == []

    async def test_a_token_signed_with_another_secret(
        self, client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify
    ) -> None:
        genuine = fake_shopify.client_secret
        fake_shopify.client_secret = "shpss_" + "f" * 32
        forged = fake_shopify.session_token()
        fake_shopify.client_secret = genuine
        assert (await _exchange(client, forged)).status_code == 401
        assert await helpers.shops(state) == []

    async def test_without_a_token(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/shopify/token-exchange")
        assert response.status_code == 401
        assert "session token" in response.json()["error"]["message"]

    async def test_the_app_url_with_another_shops_session_token(
        self, client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify
    ) -> None:
        other = fake_shopify.session_token(
            iss="https://other.myshopify.com/admin", dest="https://other.myshopify.com"
        )
        query = fake_shopify.signed_query(embedded="1", id_token=other)
        response = await client.get("/shopify/install", params=query)
        assert response.status_code == 401
        assert await helpers.shops(state) == []
