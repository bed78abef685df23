"""The storefront API as a shopper's browser meets it: through a Shopify store's app proxy or
with the WooCommerce plugin's token, the signed-in customer sees their own club and redeems; a
guest sees the program's public face; nothing unsigned, stale or another shop's gets through."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from app.ratelimits import StorefrontLimits
from app.state import AppState
from tests.fakes.shopify import FakeShopify
from tests.fakes.woocommerce import FakeWooCommerce
from tests.rewards.conftest import StoreShop, add_reward, give_points
from tests.storefront.signing import app_proxy_query, plugin_token


async def _storefront_secret(state: AppState, shop: StoreShop) -> str:
    ctx = await state.shops.by_id(shop.shop_id)
    assert ctx is not None
    assert ctx.storefront_secret is not None
    return ctx.storefront_secret


def _proxy(shop: StoreShop, customer: str = "", **kw: Any) -> str:
    assert shop.domain is not None
    return app_proxy_query(shop.webhook_secret, shop.domain, customer, **kw)


class TestShopifyAppProxy:
    async def test_the_signed_in_customer_sees_their_points_and_what_they_can_afford(
        self, client: httpx.AsyncClient, on_shopify: StoreShop
    ) -> None:
        await give_points(client, on_shopify, 250)
        cheap = await add_reward(client, on_shopify, name="5 off", points_cost=100)
        dear = await add_reward(client, on_shopify, name="50 off", points_cost=1000, value=5000)
        r = await client.get(
            f"/storefront/shopify/member?{_proxy(on_shopify, on_shopify.customer_id)}"
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["signed_in"] is True
        assert body["member"]["customer_id"] == on_shopify.customer_id
        assert body["member"]["points"]["available"] == 250
        assert {x["id"]: x["affordable"] for x in body["rewards"]} == {cheap: True, dear: False}
        assert body["ways_to_earn"][0]["type"] == "purchase"
        assert r.headers["cache-control"] == "private, no-store"

        history = await client.get(
            f"/storefront/shopify/entries?{_proxy(on_shopify, on_shopify.customer_id)}"
        )
        assert [e["points"] for e in history.json()["entries"]] == [250]

    async def test_a_guest_gets_the_public_face_and_no_balance(
        self, client: httpx.AsyncClient, on_shopify: StoreShop
    ) -> None:
        await give_points(client, on_shopify, 250)
        await add_reward(client, on_shopify)
        r = await client.get(f"/storefront/shopify/member?{_proxy(on_shopify)}")
        assert r.status_code == 200
        body = r.json()
        assert body["signed_in"] is False
        assert body["member"] is None
        assert body["rewards"][0]["affordable"] is None
        assert "250" not in r.text
        entries = await client.get(f"/storefront/shopify/entries?{_proxy(on_shopify)}")
        assert entries.status_code == 401
        assert entries.json()["error"]["code"] == "sign_in_required"

    @pytest.mark.parametrize("tamper", ["customer", "stale", "future", "unsigned", "other_secret"])
    async def test_a_query_that_shopify_did_not_sign_just_now_is_refused(
        self, client: httpx.AsyncClient, on_shopify: StoreShop, tamper: str
    ) -> None:
        await give_points(client, on_shopify, 250)
        query = _proxy(on_shopify, on_shopify.customer_id)
        if tamper == "customer":  # another customer's id swapped into a signed query
            query = query.replace(
                f"logged_in_customer_id={on_shopify.customer_id}", "logged_in_customer_id=1"
            )
        elif tamper == "stale":
            query = _proxy(on_shopify, on_shopify.customer_id, timestamp=int(time.time()) - 120)
        elif tamper == "future":
            query = _proxy(on_shopify, on_shopify.customer_id, timestamp=int(time.time()) + 120)
        elif tamper == "unsigned":
            query = query.split("&signature=")[0]
        else:
            assert on_shopify.domain is not None
            query = app_proxy_query("not-the-secret", on_shopify.domain, on_shopify.customer_id)
        r = await client.get(f"/storefront/shopify/member?{query}")
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "unauthorized"
        assert "250" not in r.text

    async def test_redeeming_makes_the_code_on_the_store_and_shows_it(
        self,
        waiting_client: tuple[httpx.AsyncClient, AppState],
        fake_shopify: FakeShopify,
        on_shopify: StoreShop,
    ) -> None:
        client, _ = waiting_client
        await give_points(client, on_shopify, 150)
        reward = await add_reward(client, on_shopify, points_cost=100, value=500)
        query = _proxy(on_shopify, on_shopify.customer_id)
        body = {"reward_id": reward, "idempotency_key": "click-0001"}
        r = await client.post(f"/storefront/shopify/redemptions?{query}", json=body)
        assert r.status_code == 201, r.text
        code = r.json()["code"]
        assert fake_shopify.discount(code) is not None
        again = await client.post(f"/storefront/shopify/redemptions?{query}", json=body)
        assert again.status_code == 200  # the same click retried: the same redemption
        assert again.json()["code"] == code
        member = await client.get(f"/storefront/shopify/member?{query}")
        assert member.json()["member"]["points"]["available"] == 50
        short = await client.post(
            f"/storefront/shopify/redemptions?{query}",
            json={"reward_id": reward, "idempotency_key": "click-0002"},
        )
        assert short.status_code == 409
        assert short.json()["error"]["code"] == "insufficient_points"

    async def test_a_guest_cannot_redeem(
        self, client: httpx.AsyncClient, on_shopify: StoreShop
    ) -> None:
        reward = await add_reward(client, on_shopify)
        r = await client.post(
            f"/storefront/shopify/redemptions?{_proxy(on_shopify)}",
            json={"reward_id": reward, "idempotency_key": "click-0001"},
        )
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "sign_in_required"


class TestWooCommerceToken:
    async def test_the_plugins_token_shows_the_customer_their_club(
        self, client: httpx.AsyncClient, state: AppState, on_woo: StoreShop
    ) -> None:
        await give_points(client, on_woo, 70)
        token = plugin_token(await _storefront_secret(state, on_woo), on_woo.customer_id)
        r = await client.get(
            f"/storefront/woocommerce/{on_woo.shop_id}/member",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["member"]["points"]["available"] == 70

    @pytest.mark.parametrize(
        "tamper", ["expired", "too_long", "other_secret", "no_sub", "none_alg"]
    )
    async def test_a_token_the_plugin_did_not_make_is_refused(
        self, client: httpx.AsyncClient, state: AppState, on_woo: StoreShop, tamper: str
    ) -> None:
        await give_points(client, on_woo, 70)
        secret = await _storefront_secret(state, on_woo)
        now = int(time.time())
        token = {
            "expired": lambda: plugin_token(secret, on_woo.customer_id, issued=now - 700),
            "too_long": lambda: plugin_token(secret, on_woo.customer_id, lifetime=3600),
            "other_secret": lambda: plugin_token("x" * 32, on_woo.customer_id),
            "no_sub": lambda: __import__("jwt").encode(
                {"iat": now, "exp": now + 60}, secret, "HS256"
            ),
            "none_alg": lambda: __import__("jwt").encode(
                {"sub": on_woo.customer_id, "iat": now, "exp": now + 60}, None, "none"
            ),
        }[tamper]()
        r = await client.get(
            f"/storefront/woocommerce/{on_woo.shop_id}/member",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 401
        assert "70" not in r.text

    async def test_without_a_token_a_guest(
        self, client: httpx.AsyncClient, on_woo: StoreShop
    ) -> None:
        r = await client.get(f"/storefront/woocommerce/{on_woo.shop_id}/member")
        assert r.status_code == 200
        assert r.json()["signed_in"] is False


class TestLimits:
    async def test_a_client_over_its_budget_is_told_when_to_come_back(
        self, client: httpx.AsyncClient, state: AppState, on_woo: StoreShop
    ) -> None:
        state.storefront_limits = StorefrontLimits(per_address="3/minute")
        url = f"/storefront/woocommerce/{on_woo.shop_id}/member"
        for _ in range(3):
            assert (await client.get(url)).status_code == 200
        r = await client.get(url)
        assert r.status_code == 429
        assert r.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(r.headers["retry-after"]) <= 61

    async def test_one_customer_over_theirs_too(
        self, client: httpx.AsyncClient, state: AppState, on_woo: StoreShop
    ) -> None:
        state.storefront_limits = StorefrontLimits(per_customer="2/minute")
        token = plugin_token(await _storefront_secret(state, on_woo), on_woo.customer_id)
        url = f"/storefront/woocommerce/{on_woo.shop_id}/member"
        statuses = [
            (await client.get(url, headers={"Authorization": f"Bearer {token}"})).status_code
            for _ in range(3)
        ]
        assert statuses == [200, 200, 429]
        assert (await client.get(url)).status_code == 200  # a guest from the same place still

    async def test_bodies_are_bounded_and_checked(
        self, client: httpx.AsyncClient, state: AppState, on_woo: StoreShop
    ) -> None:
        token = plugin_token(await _storefront_secret(state, on_woo), on_woo.customer_id)
        auth = {"Authorization": f"Bearer {token}"}
        url = f"/storefront/woocommerce/{on_woo.shop_id}/redemptions"
        big = await client.post(url, content=b"{" + b" " * 5000 + b"}", headers=auth)
        assert big.status_code == 413
        bad = await client.post(url, content=b"{not json", headers=auth)
        assert (bad.status_code, bad.json()["error"]["code"]) == (400, "invalid_payload")
        missing = await client.post(url, json={"idempotency_key": "click-0001"}, headers=auth)
        assert missing.status_code == 422
        assert "reward_id" in missing.json()["error"]["message"]


class TestCORS:
    async def test_only_the_shops_own_origin_may_read_the_answers(
        self, client: httpx.AsyncClient, on_woo: StoreShop, woo_store: FakeWooCommerce
    ) -> None:
        url = f"/storefront/woocommerce/{on_woo.shop_id}/member"
        own = await client.get(url, headers={"Origin": woo_store.url})
        assert own.headers["access-control-allow-origin"] == woo_store.url
        other = await client.get(url, headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        preflight = await client.options(
            url,
            headers={"Origin": woo_store.url, "Access-Control-Request-Method": "GET",
                     "Access-Control-Request-Headers": "authorization"},
        )  # fmt: skip
        assert preflight.status_code == 204
        assert "Authorization" in preflight.headers["access-control-allow-headers"]
        refused = await client.options(url, headers={"Origin": "https://evil.example"})
        assert refused.status_code == 403
        # An error reaches the widget too (it must read why).
        bad = await client.get(url, headers={"Origin": woo_store.url, "Authorization": "Bearer x"})
        assert bad.status_code == 401
        assert bad.headers["access-control-allow-origin"] == woo_store.url
