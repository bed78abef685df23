"""The storefront API as a shopper's browser meets it: through a Shopify store's app proxy or
with the WooCommerce plugin's token, the signed-in customer sees their own club and redeems; a
guest sees the program's public face; nothing unsigned, stale or another shop's gets through."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from app.ratelimits import StorefrontLimits
from app.shops.service import update_display
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
        auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
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
        assert refused.json()["error"]["code"] == "origin_refused"
        assert "Idempotency-Key" in preflight.headers["access-control-allow-headers"]
        # An error reaches the widget too (it must read why).
        bad = await client.get(url, headers={"Origin": woo_store.url, "Authorization": "Bearer x"})
        assert bad.status_code == 401
        assert bad.headers["access-control-allow-origin"] == woo_store.url


def _signed_by_shopify(secret: str, params: list[tuple[str, str]]) -> str:
    """What Shopify's app proxy sends when the shopper's own URL already carried some of its
    parameters: every value signed, a repeated key's values joined by ``,`` (S5)."""
    import hashlib
    import hmac
    from urllib.parse import urlencode

    values: dict[str, list[str]] = {}
    for key, value in params:
        values.setdefault(key, []).append(value)
    message = "".join(f"{k}={','.join(values[k])}" for k in sorted(values))
    signature = hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()
    return urlencode([*params, ("signature", signature)])


class TestAppProxyHardening:
    @pytest.mark.parametrize("key", ["logged_in_customer_id", "path_prefix"])
    async def test_a_guest_who_adds_a_customer_id_to_the_url_is_refused(
        self, client: httpx.AsyncClient, on_shopify: StoreShop, key: str
    ) -> None:
        await give_points(client, on_shopify, 250)
        assert on_shopify.domain is not None
        # /apps/vafa/member?logged_in_customer_id=207119551 from a guest: Shopify adds its own
        # (blank) one and signs both.
        query = _signed_by_shopify(on_shopify.webhook_secret, [
            ("shop", on_shopify.domain), ("logged_in_customer_id", ""),
            ("path_prefix", "/apps/vafa"), ("timestamp", str(int(time.time()))),
            (key, on_shopify.customer_id if key == "logged_in_customer_id" else "/apps/x"),
        ])  # fmt: skip
        r = await client.get(f"/storefront/shopify/member?{query}")
        assert r.status_code == 401, r.text
        assert r.json()["error"]["code"] == "unauthorized"
        assert "250" not in r.text

    async def test_an_unknown_shop_costs_the_same_hmac_work_as_a_known_one(
        self, client: httpx.AsyncClient, on_shopify: StoreShop, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from app.storefront import auth

        checked: list[int] = []
        real = auth.verify_proxy_query

        def counting(query: Any, secrets: Any, **kw: Any) -> str:
            checked.append(len(secrets))
            return real(query, secrets, **kw)

        monkeypatch.setattr(auth, "verify_proxy_query", counting)
        known = await client.get(f"/storefront/shopify/member?{_proxy(on_shopify, '', extra={})}")
        assert known.status_code == 200
        unknown = app_proxy_query("guess", "nobody.myshopify.com", "1")
        r = await client.get(f"/storefront/shopify/member?{unknown}")
        assert r.status_code == 401
        assert checked == [1, 1]  # a signature was computed for the unknown shop too


class TestRedeemingByContract:
    async def test_the_contract_body_alone_redeems(
        self,
        waiting_client: tuple[httpx.AsyncClient, AppState],
        fake_shopify: FakeShopify,
        on_shopify: StoreShop,
    ) -> None:
        client, _ = waiting_client
        await give_points(client, on_shopify, 350)
        reward = await add_reward(client, on_shopify, points_cost=100, value=500)
        url = f"/storefront/shopify/redemptions?{_proxy(on_shopify, on_shopify.customer_id)}"
        r = await client.post(url, json={"reward_id": reward})
        assert r.status_code == 201, r.text
        assert fake_shopify.discount(r.json()["code"]) is not None
        # No key: each request is its own redemption.
        second = await client.post(url, json={"reward_id": reward})
        assert second.status_code == 201
        assert second.json()["id"] != r.json()["id"]
        # The key as a header: a retry is the same redemption.
        headers = {"Idempotency-Key": "click-header-1"}
        keyed = await client.post(url, json={"reward_id": reward}, headers=headers)
        again = await client.post(url, json={"reward_id": reward}, headers=headers)
        assert (keyed.status_code, again.status_code) == (201, 200)
        assert again.json()["id"] == keyed.json()["id"]
        member = await client.get(
            f"/storefront/shopify/member?{_proxy(on_shopify, on_shopify.customer_id)}"
        )
        assert member.json()["member"]["points"]["available"] == 50
        bad = await client.post(url, json={"reward_id": reward}, headers={"Idempotency-Key": "x"})
        assert bad.status_code == 422
        assert "Idempotency-Key" in bad.json()["error"]["message"]

    @pytest.mark.parametrize(
        "content_type", ["text/plain", "application/x-www-form-urlencoded", None]
    )
    async def test_a_body_that_is_not_declared_json_is_refused(
        self, client: httpx.AsyncClient, on_shopify: StoreShop, content_type: str | None
    ) -> None:
        """A cross-site form can POST text/plain without a preflight: never read."""
        await give_points(client, on_shopify, 250)
        reward = await add_reward(client, on_shopify)
        url = f"/storefront/shopify/redemptions?{_proxy(on_shopify, on_shopify.customer_id)}"
        headers = {"Content-Type": content_type} if content_type else {}
        r = await client.post(url, content=f'{{"reward_id": {reward}}}', headers=headers)
        assert r.status_code == 415, r.text
        assert r.json()["error"]["code"] == "unsupported_media_type"
        member = await client.get(
            f"/storefront/shopify/member?{_proxy(on_shopify, on_shopify.customer_id)}"
        )
        assert member.json()["member"]["points"]["available"] == 250


class TestRecentRedemptions:
    async def test_the_member_finds_their_codes_again_and_a_guest_is_asked_to_sign_in(
        self,
        waiting_client: tuple[httpx.AsyncClient, AppState],
        fake_shopify: FakeShopify,
        on_shopify: StoreShop,
    ) -> None:
        client, _ = waiting_client
        empty = await client.get(
            f"/storefront/shopify/redemptions?{_proxy(on_shopify, on_shopify.customer_id)}"
        )
        assert empty.json() == {"redemptions": []}  # signed in, never a member: nothing yet
        await give_points(client, on_shopify, 250)
        reward = await add_reward(client, on_shopify, points_cost=100, value=500)
        query = _proxy(on_shopify, on_shopify.customer_id)
        made = await client.post(f"/storefront/shopify/redemptions?{query}",
                                 json={"reward_id": reward})  # fmt: skip
        assert made.status_code == 201
        listed = await client.get(f"/storefront/shopify/redemptions?{query}")
        assert listed.status_code == 200
        assert listed.headers["cache-control"] == "private, no-store"
        [shown] = listed.json()["redemptions"]
        assert (shown["id"], shown["reward_id"], shown["status"], shown["points"]) == (
            made.json()["id"], reward, "issued", 100,
        )  # fmt: skip
        assert shown["code"] == made.json()["code"]
        assert fake_shopify.discount(shown["code"]) is not None
        guest = await client.get(f"/storefront/shopify/redemptions?{_proxy(on_shopify)}")
        assert guest.status_code == 401
        assert guest.json()["error"]["code"] == "sign_in_required"

    async def test_a_failure_is_told_in_general_words_not_the_stores(
        self, client: httpx.AsyncClient, state: AppState, on_shopify: StoreShop
    ) -> None:
        from app.storefront.service import REDEMPTION_FAILED

        # A product the store does not have: Shopify refuses the code with its own words.
        reward = await add_reward(
            client, on_shopify, kind="free_product", value=None, product_id="999"
        )
        await give_points(client, on_shopify, 100)
        query = _proxy(on_shopify, on_shopify.customer_id)
        made = await client.post(f"/storefront/shopify/redemptions?{query}",
                                 json={"reward_id": reward})  # fmt: skip
        assert made.status_code == 202
        await state.worker.drain()
        admin = await client.get(
            f"/api/v1/members/{on_shopify.customer_id}/redemptions/{made.json()['id']}",
            headers=on_shopify.auth,
        )
        raw = admin.json()["failure"]
        assert "refused" in raw  # the owner sees the store's reason
        [shown] = (await client.get(f"/storefront/shopify/redemptions?{query}")).json()[
            "redemptions"
        ]
        assert (shown["status"], shown["failure"], shown["code"]) == (
            "failed", REDEMPTION_FAILED, None,
        )  # fmt: skip
        assert raw not in str(shown)

    async def test_on_woocommerce_too(
        self, client: httpx.AsyncClient, state: AppState, on_woo: StoreShop
    ) -> None:
        url = f"/storefront/woocommerce/{on_woo.shop_id}/redemptions"
        assert (await client.get(url)).json()["error"]["code"] == "sign_in_required"
        token = plugin_token(await _storefront_secret(state, on_woo), on_woo.customer_id)
        r = await client.get(url, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200
        assert r.json() == {"redemptions": []}


class TestAppProxyBudgets:
    async def test_shoppers_behind_shopifys_servers_do_not_share_one_budget(
        self, client: httpx.AsyncClient, state: AppState, on_shopify: StoreShop
    ) -> None:
        # Every app proxy request comes from Shopify's own addresses: no budget per address.
        state.storefront_limits = StorefrontLimits(
            per_address="1/minute", per_customer="2/minute", per_shop_guests="3/minute"
        )
        url = "/storefront/shopify/member?"
        one = [(await client.get(url + _proxy(on_shopify, "1"))).status_code for _ in range(3)]
        assert one == [200, 200, 429]  # customer 1 of this shop over theirs
        assert (await client.get(url + _proxy(on_shopify, "2"))).status_code == 200
        guests = [(await client.get(url + _proxy(on_shopify))).status_code for _ in range(4)]
        assert guests == [200, 200, 200, 429]  # the shop's guests, together
        assert (await client.get(url + _proxy(on_shopify, "3"))).status_code == 200

    async def test_an_unsigned_request_takes_no_ones_budget(
        self, client: httpx.AsyncClient, state: AppState, on_shopify: StoreShop
    ) -> None:
        state.storefront_limits = StorefrontLimits(per_customer="1/minute")
        forged = app_proxy_query("not-the-secret", "rewards.myshopify.com", on_shopify.customer_id)
        for _ in range(3):
            assert (await client.get(f"/storefront/shopify/member?{forged}")).status_code == 401
        own = _proxy(on_shopify, on_shopify.customer_id)
        assert (await client.get(f"/storefront/shopify/member?{own}")).status_code == 200


def test_a_rule_that_has_not_started_is_not_a_way_to_earn_yet() -> None:
    from datetime import timedelta

    from app.orm import utcnow
    from app.program.document import ProgramDocument
    from app.storefront.service import ways_to_earn

    now = utcnow()
    document = ProgramDocument.model_validate({"rules": [
        {"key": "purchase", "type": "purchase", "points": 1},
        {"key": "soon", "type": "campaign", "multiplier": 2,
         "starts_at": (now + timedelta(days=1)).isoformat(),
         "ends_at": (now + timedelta(days=8)).isoformat()},
        {"key": "now", "type": "campaign", "multiplier": 2,
         "starts_at": (now - timedelta(days=1)).isoformat(),
         "ends_at": (now + timedelta(days=8)).isoformat()},
    ]})  # fmt: skip
    assert [w["key"] for w in ways_to_earn(document, now)] == ["purchase", "now"]


async def test_a_member_gets_a_referral_link_while_the_program_has_a_referral_rule(
    client: httpx.AsyncClient, state: AppState, on_shopify: StoreShop
) -> None:
    from app.orm import utcnow
    from app.program import versions
    from app.program.document import ProgramDocument

    url = f"/storefront/shopify/member?{_proxy(on_shopify, on_shopify.customer_id)}"
    assert (await client.get(url)).json()["member"]["referral"] is None
    document = ProgramDocument.model_validate({"rules": [
        {"key": "purchase", "type": "purchase", "points": 1},
        {"key": "friends", "type": "referral", "advocate_points": 100, "friend_points": 50},
    ]})  # fmt: skip
    async with state.db.write() as session:
        await versions.publish(session, on_shopify.shop_id, document, utcnow())
    referral = (await client.get(url)).json()["member"]["referral"]
    assert referral["code"].startswith("REF-")
    assert referral["link"] == f"https://rewards.myshopify.com/?vafa_ref={referral['code']}"
    # The same code every time, and the one the admin API shows.
    again = (await client.get(url)).json()["member"]["referral"]
    assert again == referral
    admin = await client.get(f"/api/v1/members/{on_shopify.customer_id}/referral",
                             headers=on_shopify.auth)  # fmt: skip
    assert admin.json()["code"] == referral["code"]


async def test_the_member_answer_carries_the_shops_display_choices(
    client: httpx.AsyncClient, on_shopify: StoreShop, state: AppState
) -> None:
    query = _proxy(on_shopify, on_shopify.customer_id)
    r = await client.get(f"/storefront/shopify/member?{query}")
    assert (r.json()["colour"], r.json()["currency_display"]) == (None, None)
    async with state.db.write() as session:
        await update_display(
            session, on_shopify.shop_id, currency_display="toman", widget_colour="#0b5d1e"
        )
    state.shops.forget()
    r = await client.get(f"/storefront/shopify/member?{query}")
    assert r.status_code == 200, r.text
    assert (r.json()["colour"], r.json()["currency_display"]) == ("#0b5d1e", "toman")
