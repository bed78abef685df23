"""Bronze → silver → gold → platinum (issue 11), set through ``PUT /api/v1/program`` and driven
by signed Shopify webhooks: qualified on points earned in the shop's calendar year (Tehran),
each upgrade at once, the gold and platinum multipliers as their own ledger lines, the
downgrade only at the end of the period, to what the year just ended supports, and a
free-shipping reward only gold and platinum members may redeem.

Orders are processed, reviews run and the member document read at times the test chooses (the
worker's and the periodic tasks' ``now``; the member document as in tests/tiers)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.ledger.verify import verify_shop
from tests.fakes.shopify import FakeShopify
from tests.program.club import TierClub, put_program
from tests.tiers.helpers import CUSTOMER, utc

LADDER: dict[str, Any] = {
    "timezone": "Asia/Tehran",
    "rules": [{"key": "purchase", "type": "purchase", "points": 1}],  # 1 per whole dollar
    "tiers": {"basis": "points_earned", "window": "calendar_year", "levels": [
        {"key": "bronze", "threshold": 0, "names": {"fa": "برنزی", "en": "Bronze"}},
        {"key": "silver", "threshold": 100, "names": {"fa": "نقره‌ای", "en": "Silver"}},
        {"key": "gold", "threshold": 500, "names": {"fa": "طلایی", "en": "Gold"},
         "multiplier": "1.5"},
        {"key": "platinum", "threshold": 1000, "names": {"fa": "پلاتینی", "en": "Platinum"},
         "multiplier": "2"},
    ]},
}  # fmt: skip


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A redemption answers at once (202) rather than wait for a worker that is not running."""
    return settings.model_copy(update={"redemption_wait_seconds": 0.0})


# Tehran is UTC+03:30 all year: its 1 January 2028 begins at 2027-12-31T20:30:00Z.
END_OF_2027 = utc("2027-12-31T20:30:00Z")
END_OF_2028 = utc("2028-12-31T20:30:00Z")


async def test_the_ladder_climbs_at_once_and_steps_down_at_the_end_of_the_year(
    tier_club: TierClub, fake_shopify: FakeShopify
) -> None:
    club = tier_club
    version = await club.set(LADDER)
    assert version == 2  # version 1 is the shop's settings

    await club.paid(1001, "60.00", "2027-02-01T10:00:00Z")  # 60 points
    member = await club.member()
    assert (member["tier"], member["points"]["available"]) == ("bronze", 60)
    assert member["tier_progress"] == {
        "basis": "points_earned", "window": "calendar_year", "qualifying": 60,
        "next_tier": "silver", "needed": 100 - 60, "window_ends_at": "2027-12-31T20:30:00Z",
        "tier_until": None,
    }  # fmt: skip

    await club.paid(1002, "50.00", "2027-03-01T10:00:00Z")  # 60 + 50 = 110 ≥ 100
    assert await club.tier() == "silver"
    await club.paid(1003, "400.00", "2027-04-01T10:00:00Z")  # 110 + 400 = 510 ≥ 500
    assert await club.tier() == "gold"
    # Gold earns ×1.5: 200 purchase points and ⌊200 × 1.5⌋ − 200 = 100 more; 810 in all.
    await club.paid(1004, "200.00", "2027-05-01T10:00:00Z")
    # 100 + 50 = 150: 960, still gold, 40 short of platinum.
    await club.paid(1005, "100.00", "2027-06-01T10:00:00Z")
    member = await club.member()
    assert member["tier"] == "gold"
    assert (member["tier_progress"]["qualifying"], member["tier_progress"]["needed"]) == (960, 40)
    # 30 + 15 = 45: 1005 ≥ 1000, platinum at once; kept through 2028 (reached in 2027).
    await club.paid(1006, "30.00", "2027-06-02T10:00:00Z")
    member = await club.member()
    assert member["tier"] == "platinum"
    assert member["points"]["available"] == 60 + 50 + 400 + 300 + 150 + 45 == 1005
    assert member["tier_progress"]["tier_until"] == "2028-12-31T20:30:00Z"
    assert (member["tier_progress"]["next_tier"], member["tier_progress"]["needed"]) == (None, None)

    # The end of 2027 reviews the year just ended: 1005 points, platinum stays.
    assert await club.review(END_OF_2027) == 0
    assert await club.tier() == "platinum"
    # 2028: one order at platinum's ×2, 150 + 150 = 300 points, a silver year.
    await club.paid(1007, "150.00", "2028-03-01T10:00:00Z")
    member = await club.member()
    assert (member["tier"], member["tier_progress"]["qualifying"]) == ("platinum", 300)
    # Not a second before the end of 2028; at it, down to what 2028 earned: silver.
    assert await club.review(END_OF_2028 - timedelta(seconds=1)) == 0
    assert await club.review(END_OF_2028) == 1
    member = await club.member()
    assert member["tier"] == "silver"
    assert member["points"]["available"] == 1005 + 300  # a tier change moves no points

    assert await club.history() == [
        (None, "bronze", "qualified"),
        ("bronze", "silver", "qualified"),
        ("silver", "gold", "qualified"),
        ("gold", "platinum", "qualified"),
        ("platinum", "silver", "period_end"),
    ]
    # Each purchase posts its points; from gold on, the tier's multiplier its own line.
    assert await club.lines() == [
        (60, "60 points: 60.00 USD spent on order #1001 (rule purchase, program v2)"),
        (50, "50 points: 50.00 USD spent on order #1002 (rule purchase, program v2)"),
        (400, "400 points: 400.00 USD spent on order #1003 (rule purchase, program v2)"),
        (200, "200 points: 200.00 USD spent on order #1004 (rule purchase, program v2)"),
        (100, "100 points: Gold tier: 200 purchase points ×1.5 on order #1004 "
              "(tier gold, program v2)"),
        (100, "100 points: 100.00 USD spent on order #1005 (rule purchase, program v2)"),
        (50, "50 points: Gold tier: 100 purchase points ×1.5 on order #1005 "
             "(tier gold, program v2)"),
        (30, "30 points: 30.00 USD spent on order #1006 (rule purchase, program v2)"),
        (15, "15 points: Gold tier: 30 purchase points ×1.5 on order #1006 "
             "(tier gold, program v2)"),
        (150, "150 points: 150.00 USD spent on order #1007 (rule purchase, program v2)"),
        (150, "150 points: Platinum tier: 150 purchase points ×2 on order #1007 "
              "(tier platinum, program v2)"),
    ]  # fmt: skip
    # The store's copy follows: vafa.tier written back on the downgrade, the balance unmoved.
    await club.process(END_OF_2028 + timedelta(seconds=5))
    assert fake_shopify.metafield(CUSTOMER, "tier")["value"] == "silver"
    assert fake_shopify.metafield(CUSTOMER, "points")["value"] == "1305"
    async with club.state.db.read() as session:
        assert await verify_shop(session, club.shop.shop_id) == []


async def test_a_refund_below_the_threshold_keeps_the_tier_until_the_year_ends(
    tier_club: TierClub,
) -> None:
    club = tier_club
    await club.set(LADDER)  # on_refund: keep_until_period_end, the default
    await club.paid(1001, "600.00", "2027-02-01T10:00:00Z")  # 600 points: gold at once
    assert await club.tier() == "gold"
    # 200.00 of it refunded: 600 × 200 / 600 = 200 points back, 400 for 2027 (silver's).
    await club.refund(501, 1001, "200.00", "2027-03-01T10:00:00Z")
    member = await club.member()
    assert (member["tier"], member["points"]["available"]) == ("gold", 400)
    assert member["tier_progress"]["tier_until"] == "2027-12-31T20:30:00Z"
    assert await club.review(END_OF_2027 - timedelta(seconds=1)) == 0
    assert await club.review(END_OF_2027) == 1
    assert await club.tier() == "silver"  # what 2027's 400 points support, kept through 2028
    assert (await club.member())["tier_progress"]["tier_until"] == "2028-12-31T20:30:00Z"
    assert await club.lines() == [
        (600, "600 points: 600.00 USD spent on order #1001 (rule purchase, program v2)"),
        (-200, "Reversed 200 points for refund 501 of order #1001: 200.00 USD of merchandise "
               "refunded (rule purchase)"),
    ]  # fmt: skip
    assert (await club.history())[-1] == ("gold", "silver", "period_end")


async def test_free_shipping_only_gold_and_above_may_redeem(
    tier_club: TierClub, fake_shopify: FakeShopify
) -> None:
    """The benefit a tier gives beyond points: a free-shipping reward only gold members (and
    platinum) may redeem, issued as a code on the store. Redemptions happen now, so this
    version is in force from now (no ``effective_at``) and the orders are paid after it."""
    club = tier_club
    r = await club.client.post(
        "/api/v1/rewards",
        json={"name": "Free shipping", "kind": "free_shipping", "points_cost": 100,
              "value": None, "code_valid_days": 30},
        headers=club.shop.auth,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    shipping = r.json()["id"]
    levels = [dict(level) for level in LADDER["tiers"]["levels"]]
    levels[2]["reward_ids"] = [shipping]  # gold, so platinum too
    r = await put_program(
        club.client, club.shop, {**LADDER, "tiers": {**LADDER["tiers"], "levels": levels}}, None
    )
    assert r.status_code == 201, r.text
    effective = datetime.fromisoformat(r.json()["effective_at"])

    async def redeem(key: str) -> httpx.Response:
        return await club.client.post(
            f"/api/v1/members/{CUSTOMER}/redemptions",
            json={"reward_id": shipping, "idempotency_key": key}, headers=club.shop.auth,
        )  # fmt: skip

    await club.paid(1001, "150.00", (effective + timedelta(hours=1)).isoformat())  # silver
    r = await redeem("ship-1")
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "tier_required"
    assert (await club.member())["points"] == {
        "available": 150, "pending": 0, "held": 0, "lifetime_earned": 150,
    }  # nothing held  # fmt: skip

    await club.paid(1002, "400.00", (effective + timedelta(hours=2)).isoformat())  # 550: gold
    assert await club.tier() == "gold"
    r = await redeem("ship-2")
    assert r.status_code in (201, 202), r.text
    await club.state.worker.drain()
    r = await club.client.get(
        f"/api/v1/members/{CUSTOMER}/redemptions/{r.json()['id']}", headers=club.shop.auth
    )
    assert r.json()["status"] == "issued", r.text
    discount = fake_shopify.discount(r.json()["code"])
    assert discount is not None
    assert discount["__typename"] == "DiscountCodeFreeShipping"
    assert (await club.member())["points"]["available"] == 550 - 100
