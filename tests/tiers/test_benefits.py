"""A tier's benefits and the store's copy of the tier: rewards only a tier (or a higher one)
may redeem, and ``vafa.tier`` written to Shopify on a change that moves no points."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from app.orm import utcnow
from app.shops import service as shops
from app.state import AppState
from tests.conftest import ShopifyShop
from tests.fakes.shopify import DEFAULT_TOKEN, FakeShopify
from tests.tiers.helpers import CUSTOMER, LEVELS, PURCHASE, Club, utc


async def _reward(club: Club) -> int:
    r = await club.client.post(
        "/api/v1/rewards",
        json={"name": "Gold lounge", "kind": "amount_off", "points_cost": 50, "value": 500,
              "active": True},
        headers=club.shop.auth,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    reward_id: int = r.json()["id"]
    return reward_id


def _gold_only(reward_id: int) -> dict[str, Any]:
    levels = [dict(level) for level in LEVELS]
    levels[2]["reward_ids"] = [reward_id]  # gold, so platinum too
    return {"rules": [PURCHASE], "tiers": {"levels": levels}}


async def _redeem(club: Club, reward_id: int, key: str) -> httpx.Response:
    return await club.client.post(
        f"/api/v1/members/{CUSTOMER}/redemptions",
        json={"reward_id": reward_id, "idempotency_key": key},
        headers=club.shop.auth,
    )


class TestTierRewards:
    async def test_a_member_below_the_tier_is_refused_and_nothing_is_held(self, club: Club) -> None:
        reward_id = await _reward(club)
        await club.publish(_gold_only(reward_id))
        await club.paid(1001, "150.00", "2026-02-01T10:00:00Z")  # silver, 150 points
        r = await _redeem(club, reward_id, "r1")
        assert r.status_code == 403
        assert r.json()["error"] == {
            "code": "tier_required",
            "message": f"reward {reward_id} is for members of tier gold or higher; this member "
            "is silver",
        }
        assert (await club.member())["points"] == {
            "available": 150, "pending": 0, "held": 0, "lifetime_earned": 150,
        }  # fmt: skip

    async def test_members_of_the_tier_and_above_may_redeem(self, club: Club) -> None:
        reward_id = await _reward(club)
        await club.publish(_gold_only(reward_id))
        await club.paid(1001, "1000.00", "2026-02-01T10:00:00Z")  # platinum
        r = await _redeem(club, reward_id, "r1")
        assert r.status_code in (201, 202), r.text
        assert (await club.member())["points"]["held"] == 50

    async def test_other_rewards_need_no_tier(self, club: Club) -> None:
        reward_id = await _reward(club)
        other = await _reward(club)
        await club.publish(_gold_only(reward_id))
        await club.paid(1001, "60.00", "2026-02-01T10:00:00Z")
        assert (await _redeem(club, other, "r1")).status_code in (201, 202)


class TestStoreCopy:
    async def test_a_downgrade_that_moves_no_points_rewrites_vafa_tier(
        self, client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify
    ) -> None:
        fake_shopify.add_customer(CUSTOMER)
        async with state.db.write() as session:
            new = await shops.add_shopify(
                session, state.vault, domain="tiers.myshopify.com", access_token=DEFAULT_TOKEN,
                api_secret="hush", api_url=fake_shopify.base_url,
            )  # fmt: skip
        club = Club(
            client, state, ShopifyShop(new.shop_id, new.admin_api_key, "tiers.myshopify.com",
                                       "hush"),
        )  # fmt: skip
        await club.publish({**_gold_only(999), "tiers": {"levels": LEVELS,
                                                          "window": "calendar_year"}})  # fmt: skip
        await club.paid(1001, "150.00", "2025-06-01T10:00:00Z")
        await state.worker.drain(now=utcnow() + timedelta(seconds=5))
        assert fake_shopify.metafield(CUSTOMER, "tier")["value"] == "silver"
        assert fake_shopify.metafield(CUSTOMER, "points")["value"] == "150"
        # The end of 2026: silver (qualified in 2025) ends; no point moves.
        assert await club.review(utc("2027-01-01T00:00:00Z")) == 1
        await state.worker.drain(now=utcnow() + timedelta(seconds=5))
        assert fake_shopify.metafield(CUSTOMER, "tier")["value"] == "bronze"
        assert fake_shopify.metafield(CUSTOMER, "points")["value"] == "150"
