"""Bronze → silver → gold → platinum (issue 11), set through ``PUT /api/v1/program`` and driven
by signed Shopify webhooks: qualified on points earned in the shop's calendar year (Tehran),
each upgrade at once, the gold and platinum multipliers as their own ledger lines, and the
downgrade only at the end of the period, to what the year just ended supports."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from app.ledger.verify import verify_shop
from tests.fakes.shopify import FakeShopify
from tests.program.club import TierClub
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
