"""``/api/v1/rewards``: the catalog as a store owner builds it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.state import AppState
from tests.conftest import ShopifyShop, make_shopify_shop
from tests.rewards.conftest import StoreShop, add_reward, give_points, redeem

VALID: dict[str, Any] = {"name": "5 off", "kind": "amount_off", "points_cost": 100, "value": 500}


async def _post(client: httpx.AsyncClient, shop: ShopifyShop, **fields: Any) -> httpx.Response:
    return await client.post("/api/v1/rewards", json=VALID | fields, headers=shop.auth)


class TestCreateReward:
    async def test_each_kind_is_created_and_read_back(
        self, client: httpx.AsyncClient, shopify_shop: ShopifyShop
    ) -> None:
        kinds = [
            {"kind": "amount_off", "value": 500, "min_order_minor": 2000},
            {"kind": "percent_off", "value": 15, "code_valid_days": 7},
            {"kind": "free_shipping", "value": None},
            {"kind": "free_product", "value": None, "product_id": "632910392"},
            {
                "kind": "points_to_money",
                "value": 1000,
                "points_cost": 100,
                "min_points": 200,
                "max_points": 1000,
            },  # fmt: skip
        ]
        ids = []
        for fields in kinds:
            r = await _post(client, shopify_shop, **fields)
            assert r.status_code == 201, r.text
            assert {k: r.json()[k] for k in fields} == fields
            assert r.json()["active"] is True
            ids.append(r.json()["id"])
        listed = await client.get("/api/v1/rewards", headers=shopify_shop.auth)
        assert [x["id"] for x in listed.json()["rewards"]] == ids
        one = await client.get(f"/api/v1/rewards/{ids[3]}", headers=shopify_shop.auth)
        assert one.json()["product_id"] == "632910392"

    @pytest.mark.parametrize(
        ("fields", "where"),
        [
            ({"points_cost": 0}, "points_cost"),
            ({"kind": "percent_off", "value": 101}, "percentage from 1 to 100"),
            ({"kind": "percent_off", "value": 0}, "value"),
            ({"value": -5}, "value"),
            ({"value": 2.5}, "value"),
            ({"value": 10**16}, "value"),
            ({"value": None}, "needs a value"),
            ({"kind": "free_product", "value": None}, "product_id"),
            ({"kind": "free_shipping", "value": 100}, "takes no value"),
            ({"kind": "points_to_money", "min_points": 150}, "multiple of points_cost"),
            ({"kind": "points_to_money", "min_points": 500, "max_points": 200}, "max_points"),
            ({"code_valid_days": 0}, "code_valid_days"),
            ({"kind": "store_credit"}, "kind"),
            ({"name": ""}, "name"),
        ],
    )
    async def test_invalid_rewards_are_422_naming_the_problem(
        self,
        client: httpx.AsyncClient,
        shopify_shop: ShopifyShop,
        fields: dict[str, Any],
        where: str,
    ) -> None:
        r = await _post(client, shopify_shop, **fields)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "validation_error"
        assert where in r.json()["error"]["message"]
        listed = await client.get("/api/v1/rewards", headers=shopify_shop.auth)
        assert listed.json()["rewards"] == []

    async def test_another_shops_reward_is_not_found(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        reward_id = (await _post(client, shopify_shop)).json()["id"]
        other = await make_shopify_shop(state, domain="other.myshopify.com")
        r = await client.get(f"/api/v1/rewards/{reward_id}", headers=other.auth)
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "reward_not_found"


class TestUpdateReward:
    async def test_a_patch_changes_only_what_it_names(
        self, client: httpx.AsyncClient, shopify_shop: ShopifyShop
    ) -> None:
        reward_id = (await _post(client, shopify_shop, min_order_minor=1000)).json()["id"]
        r = await client.patch(
            f"/api/v1/rewards/{reward_id}", json={"points_cost": 250}, headers=shopify_shop.auth
        )
        assert r.status_code == 200, r.text
        assert (r.json()["points_cost"], r.json()["value"], r.json()["min_order_minor"]) == (
            250, 500, 1000,
        )  # fmt: skip

    async def test_a_patch_leaving_an_invalid_reward_is_422_and_changes_nothing(
        self, client: httpx.AsyncClient, shopify_shop: ShopifyShop
    ) -> None:
        reward_id = (await _post(client, shopify_shop)).json()["id"]
        r = await client.patch(
            f"/api/v1/rewards/{reward_id}", json={"kind": "percent_off"}, headers=shopify_shop.auth
        )
        assert r.status_code == 422
        assert "percentage from 1 to 100" in r.json()["error"]["message"]
        after = await client.get(f"/api/v1/rewards/{reward_id}", headers=shopify_shop.auth)
        assert after.json()["kind"] == "amount_off"

    async def test_a_redeemed_reward_is_deactivated_not_deleted(
        self, client: httpx.AsyncClient, on_shopify: StoreShop
    ) -> None:
        reward_id = await add_reward(client, on_shopify)
        await give_points(client, on_shopify, 500)
        assert (await redeem(client, on_shopify, reward_id)).status_code == 202
        gone = await client.delete(f"/api/v1/rewards/{reward_id}", headers=on_shopify.auth)
        assert gone.status_code == 405
        r = await client.patch(
            f"/api/v1/rewards/{reward_id}", json={"active": False}, headers=on_shopify.auth
        )
        assert r.json()["active"] is False
        again = await redeem(client, on_shopify, reward_id, key="k2")
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "reward_inactive"
        # the first redemption still refers to it
        listed = await client.get(
            f"/api/v1/members/{on_shopify.customer_id}/redemptions", headers=on_shopify.auth
        )
        assert [x["reward_id"] for x in listed.json()["redemptions"]] == [reward_id]
