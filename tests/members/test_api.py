"""The admin API as a store owner's server meets it."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import update

from app.config import Settings
from app.db import Database
from app.members.schemas import MemberOut
from app.shops.models import Shop
from app.state import AppState
from tests.conftest import ShopifyShop, make_shopify_shop


async def _adjust(
    client: httpx.AsyncClient, shop: ShopifyShop, customer: str, points: int, key: str
) -> httpx.Response:
    return await client.post(
        f"/api/v1/members/{customer}/adjustments",
        json={"points": points, "reason": "goodwill after a late delivery", "idempotency_key": key},
        headers=shop.auth,
    )


class TestAuthentication:
    async def test_missing_key_is_401(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/api/v1/members/1")
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "unauthorized"

    async def test_wrong_key_is_401(
        self, client: httpx.AsyncClient, shopify_shop: ShopifyShop
    ) -> None:
        forged = shopify_shop.admin_api_key[:-4] + "abcd"
        r = await client.get("/api/v1/members/1", headers={"Authorization": f"Bearer {forged}"})
        assert r.status_code == 401

    async def test_one_shop_never_sees_another_shops_members(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        other = await make_shopify_shop(state, domain="other-shop.myshopify.com")
        assert (await _adjust(client, shopify_shop, "42", 10, "k1")).status_code == 201
        r = await client.get("/api/v1/members/42", headers=other.auth)
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "member_not_found"
        r = await client.get("/api/v1/members/42/entries", headers=other.auth)
        assert r.status_code == 404


class TestMembers:
    async def test_unknown_member_is_404_with_a_message(
        self, client: httpx.AsyncClient, shopify_shop: ShopifyShop
    ) -> None:
        r = await client.get("/api/v1/members/nobody", headers=shopify_shop.auth)
        assert r.status_code == 404
        assert r.json()["error"] == {
            "code": "member_not_found",
            "message": "no member with customer id 'nobody' in this shop",
        }

    async def test_member_shape_matches_the_contract(
        self, client: httpx.AsyncClient, shopify_shop: ShopifyShop
    ) -> None:
        await _adjust(client, shopify_shop, "7", 25, "k1")
        r = await client.get("/api/v1/members/7", headers=shopify_shop.auth)
        assert r.headers["content-type"] == "application/json"
        assert r.json() == {
            "customer_id": "7",
            "points": {"available": 25, "pending": 0, "held": 0, "lifetime_earned": 0},
            "tier": None,
            "tier_progress": None,  # the default program has no tiers
            "holdout": False,  # not held out of the club (app/holdout)
        }
        # The schema the API documents for it says the same.
        assert MemberOut.model_validate(r.json()).model_dump() == r.json()
        spec = (await client.get("/openapi.json")).json()
        answer = spec["paths"]["/api/v1/members/{customer_id}"]["get"]["responses"]["200"]
        assert answer["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/MemberOut"
        }

    async def test_entries_are_newest_first_and_page_by_id(
        self, client: httpx.AsyncClient, shopify_shop: ShopifyShop
    ) -> None:
        for i in range(5):
            await _adjust(client, shopify_shop, "7", i + 1, f"k{i}")
        r = await client.get("/api/v1/members/7/entries?limit=2", headers=shopify_shop.auth)
        page = r.json()
        assert [e["points"] for e in page["entries"]] == [5, 4]
        assert page["entries"][0]["kind"] == "adjust"
        assert page["entries"][0]["reason"] == "goodwill after a late delivery"
        r = await client.get(
            f"/api/v1/members/7/entries?limit=2&before_id={page['next_before_id']}",
            headers=shopify_shop.auth,
        )
        assert [e["points"] for e in r.json()["entries"]] == [3, 2]

    async def test_before_id_past_64_bits_is_a_422(
        self, client: httpx.AsyncClient, shopify_shop: ShopifyShop
    ) -> None:
        await _adjust(client, shopify_shop, "7", 5, "k1")
        url = "/api/v1/members/7/entries?before_id="
        r = await client.get(f"{url}9223372036854775808", headers=shopify_shop.auth)
        assert r.status_code == 422
        assert r.json()["error"]["code"] == "validation_error"
        assert "before_id" in r.json()["error"]["message"]
        r = await client.get(f"{url}9223372036854775807", headers=shopify_shop.auth)
        assert [e["points"] for e in r.json()["entries"]] == [5]

    async def test_bad_query_is_a_422_in_the_error_shape(
        self, client: httpx.AsyncClient, shopify_shop: ShopifyShop
    ) -> None:
        r = await client.get("/api/v1/members/7/entries?limit=0", headers=shopify_shop.auth)
        assert r.status_code == 422
        assert r.json()["error"]["code"] == "validation_error"
        assert "limit" in r.json()["error"]["message"]


class TestAdjustments:
    async def test_adjustment_is_created_once_per_idempotency_key(
        self, client: httpx.AsyncClient, shopify_shop: ShopifyShop
    ) -> None:
        first = await _adjust(client, shopify_shop, "9", 40, "same")
        again = await _adjust(client, shopify_shop, "9", 40, "same")
        assert first.status_code == 201
        assert again.status_code == 200
        assert again.json()["transaction_id"] == first.json()["transaction_id"]
        assert again.json()["created"] is False
        assert again.json()["member"]["points"]["available"] == 40

    async def test_concurrent_retries_with_one_key_post_once(
        self, client: httpx.AsyncClient, shopify_shop: ShopifyShop
    ) -> None:
        answers = await asyncio.gather(
            *[_adjust(client, shopify_shop, "9", 40, "retry") for _ in range(10)]
        )
        assert sorted(a.status_code for a in answers) == [200] * 9 + [201]
        r = await client.get("/api/v1/members/9", headers=shopify_shop.auth)
        assert r.json()["points"]["available"] == 40

    async def test_same_key_with_other_points_is_a_conflict(
        self, client: httpx.AsyncClient, shopify_shop: ShopifyShop
    ) -> None:
        await _adjust(client, shopify_shop, "9", 40, "same")
        r = await _adjust(client, shopify_shop, "9", 41, "same")
        assert r.status_code == 409
        assert r.json()["error"]["code"] == "idempotency_conflict"
        r = await client.get("/api/v1/members/9", headers=shopify_shop.auth)
        assert r.json()["points"]["available"] == 40

    async def test_same_key_with_another_reason_is_a_conflict(
        self, client: httpx.AsyncClient, shopify_shop: ShopifyShop
    ) -> None:
        await _adjust(client, shopify_shop, "9", 40, "same")
        r = await client.post(
            "/api/v1/members/9/adjustments",
            json={"points": 40, "reason": "another reason", "idempotency_key": "same"},
            headers=shopify_shop.auth,
        )
        assert r.status_code == 409
        assert r.json()["error"]["code"] == "idempotency_conflict"
        r = await client.get("/api/v1/members/9/entries", headers=shopify_shop.auth)
        assert [e["reason"] for e in r.json()["entries"]] == ["goodwill after a late delivery"]
        # The same reason, only spaced differently (the ledger keeps it trimmed), is a retry.
        r = await client.post(
            "/api/v1/members/9/adjustments",
            json={
                "points": 40,
                "reason": " goodwill after a late delivery ",
                "idempotency_key": "same",
            },
            headers=shopify_shop.auth,
        )
        assert r.status_code == 200

    async def test_removing_more_than_available_is_refused(
        self, client: httpx.AsyncClient, shopify_shop: ShopifyShop
    ) -> None:
        await _adjust(client, shopify_shop, "9", 30, "add")
        r = await _adjust(client, shopify_shop, "9", -31, "remove")
        assert r.status_code == 409
        assert r.json()["error"]["code"] == "insufficient_points"
        assert "30 points available" in r.json()["error"]["message"]
        r = await _adjust(client, shopify_shop, "9", -30, "remove-ok")
        assert r.json()["member"]["points"]["available"] == 0

    async def test_zero_points_or_blank_reason_is_400(
        self, client: httpx.AsyncClient, shopify_shop: ShopifyShop
    ) -> None:
        r = await _adjust(client, shopify_shop, "9", 0, "zero")
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "invalid_request"
        r = await client.post(
            "/api/v1/members/9/adjustments",
            json={"points": 5, "reason": "   ", "idempotency_key": "blank"},
            headers=shopify_shop.auth,
        )
        assert r.status_code == 400

    async def test_non_integer_points_are_422(
        self, client: httpx.AsyncClient, shopify_shop: ShopifyShop
    ) -> None:
        r = await client.post(
            "/api/v1/members/9/adjustments",
            json={"points": 1.5, "reason": "x", "idempotency_key": "frac"},
            headers=shopify_shop.auth,
        )
        assert r.status_code == 422
        assert r.json()["error"]["code"] == "validation_error"

    async def test_points_beyond_the_maximum_are_a_422_never_a_500(
        self, client: httpx.AsyncClient, shopify_shop: ShopifyShop
    ) -> None:
        for points in [10**20, 2**64, -(2**63), 10**12 + 1, -(10**12) - 1]:
            r = await _adjust(client, shopify_shop, "9", points, f"big-{points}")
            assert r.status_code == 422, points
            assert r.json()["error"]["code"] == "validation_error"
            assert "points" in r.json()["error"]["message"]
        r = await client.get("/api/v1/members/9", headers=shopify_shop.auth)
        assert r.status_code == 404  # nothing was posted, not even the member
        r = await _adjust(client, shopify_shop, "9", 10**12, "the-maximum")
        assert r.status_code == 201
        assert r.json()["member"]["points"]["available"] == 10**12

    async def test_control_characters_in_reason_or_key_are_a_422(
        self, client: httpx.AsyncClient, shopify_shop: ShopifyShop
    ) -> None:
        for body in [
            {"points": 5, "reason": "nul\x00inside", "idempotency_key": "k1"},
            {"points": 5, "reason": "fine", "idempotency_key": "nul\x00inside"},
            {"points": 5, "reason": "fine", "idempotency_key": "line\nbreak"},
        ]:
            r = await client.post(
                "/api/v1/members/9/adjustments", json=body, headers=shopify_shop.auth
            )
            assert r.status_code == 422, body
            assert r.json()["error"]["code"] == "validation_error"
        # A reason may span lines, as a store owner types it.
        r = await client.post(
            "/api/v1/members/9/adjustments",
            json={"points": 5, "reason": "late delivery\n\tand a refund", "idempotency_key": "k2"},
            headers=shopify_shop.auth,
        )
        assert r.status_code == 201


class TestHealth:
    async def test_healthz_and_readyz(self, client: httpx.AsyncClient) -> None:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        r = await client.get("/readyz")
        assert r.status_code == 200
        assert r.json() == {"status": "ready"}

    async def test_openapi_is_served(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/openapi.json")
        assert "/api/v1/members/{customer_id}/adjustments" in r.json()["paths"]


class TestAdminKeyCache:
    async def test_a_cached_key_stops_working_when_its_shop_entry_expires(
        self, settings: Settings, db: Database
    ) -> None:
        # With a shop cache, a checked key is served from memory; a shop uninstalled meanwhile
        # is refused once its cached entry expires, and a wrong key is never remembered.
        state = AppState.build(settings.model_copy(update={"shop_cache_seconds": 0.5}), db)
        shop = await make_shopify_shop(state)
        key = shop.admin_api_key
        assert await state.shops.by_admin_key(key) is not None
        forged = key[:-4] + "abcd"
        assert await state.shops.by_admin_key(forged) is None
        assert list(state.shops._by_admin_key) == [key]  # the wrong key is not remembered
        async with db.write() as session:
            await session.execute(update(Shop).values(status="uninstalled"))
        assert await state.shops.by_admin_key(key) is not None  # still cached
        assert await state.shops.by_admin_key(forged) is None
        await asyncio.sleep(0.6)
        assert await state.shops.by_admin_key(key) is None
