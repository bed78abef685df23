"""The paid VIP membership (issue 11, Amazon Prime-style), set through ``PUT /api/v1/program``
and driven by signed Shopify webhooks: buying the membership product puts the member in the VIP
tier for its 30 days and earns no points; VIP purchases earn double; a renewal extends from
the current end; the end of the term, or a refund of the membership, ends it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from app.ledger.verify import verify_shop
from tests.program.club import TierClub
from tests.tiers.helpers import utc

VIP: dict[str, Any] = {
    "rules": [{"key": "purchase", "type": "purchase", "points": 1}],  # 1 per whole dollar
    "tiers": {"levels": [
        {"key": "regular", "threshold": 0, "names": {"fa": "عادی", "en": "Regular"}},
        # Only bought, never earned: no member earns a million points.
        {"key": "vip", "threshold": 1_000_000, "names": {"fa": "ویژه", "en": "VIP"},
         "multiplier": "2"},
    ]},
    "membership": {"skus": ["VIP-30"], "product_ids": ["4242"], "tier": "vip", "term_days": 30},
}  # fmt: skip
PAID = utc("2027-02-01T10:00:00Z")


def line(line_id: int, amount: str, **fields: Any) -> dict[str, Any]:
    money = {"amount": amount, "currency_code": "USD"}
    return {"id": line_id, "price": amount, "quantity": 1, "discount_allocations": [],
            "tax_lines": [], "price_set": {"shop_money": money, "presentment_money": money},
            **fields}  # fmt: skip


def membership(line_id: int) -> dict[str, Any]:
    return line(line_id, "20.00", sku="VIP-30", product_id=4242, title="VIP, 30 days")


def at(days: float) -> str:
    return (PAID + timedelta(days=days)).isoformat()


async def test_a_bought_membership_its_renewal_and_its_end(tier_club: TierClub) -> None:
    club = tier_club
    assert await club.set(VIP) == 2

    # The membership alone: VIP for 30 days from its payment, and no points for it.
    await club.paid(2001, "20.00", at(0), lines=[membership(7001)])
    member = await club.member()
    assert (member["tier"], member["points"]["available"]) == ("vip", 0)
    assert member["tier_progress"]["tier_until"] == "2027-03-03T10:00:00Z"  # 1 February + 30
    assert await club.lines() == []

    # A VIP buys a 50.00 mug: 50 purchase points and 50 more for VIP's ×2.
    await club.paid(2002, "50.00", at(9), lines=[line(7002, "50.00", sku="MUG")])
    assert (await club.member())["points"]["available"] == 100

    # Renewed on 25 February: 30 more days from the current end, 3 March → 2 April.
    await club.paid(2003, "20.00", at(24), lines=[membership(7003)])
    member = await club.member()
    assert (member["tier"], member["points"]["available"]) == ("vip", 100)
    assert member["tier_progress"]["tier_until"] == "2027-04-02T10:00:00Z"

    # The first term's end passes inside the renewal; the renewal's end ends it.
    assert await club.review(utc("2027-03-03T10:00:00Z")) == 0
    assert await club.review(utc("2027-04-02T10:00:00Z") - timedelta(seconds=1)) == 0
    assert await club.review(utc("2027-04-02T10:00:00Z")) == 1
    member = await club.member()
    assert (member["tier"], member["points"]["available"]) == ("regular", 100)
    assert await club.history() == [(None, "vip", "membership"), ("vip", "regular",
                                                                  "membership_ended")]  # fmt: skip

    # A regular member again: the same mug earns 50, no multiplier. The memberships (orders
    # 2001 and 2003) have no line at all: they earned nothing.
    await club.paid(2004, "50.00", at(70), lines=[line(7004, "50.00", sku="MUG")])
    assert (await club.member())["points"]["available"] == 100 + 50
    assert await club.lines() == [
        (50, "50 points: 50.00 USD spent on order #2002 (rule purchase, program v2)"),
        (50, "50 points: VIP tier: 50 purchase points ×2 on order #2002 (tier vip, program v2)"),
        (50, "50 points: 50.00 USD spent on order #2004 (rule purchase, program v2)"),
    ]
    async with club.state.db.read() as session:
        assert await verify_shop(session, club.shop.shop_id) == []


async def test_refunding_the_membership_ends_it_and_takes_no_points_back(
    tier_club: TierClub,
) -> None:
    club = tier_club
    await club.set(VIP)
    # The membership and a 30.00 mug in one order: 30 points, for the mug only (the member
    # was regular when the order was paid: no multiplier).
    await club.paid(3001, "50.00", at(0), lines=[membership(7101), line(7102, "30.00", sku="MUG")])
    member = await club.member()
    assert (member["tier"], member["points"]["available"]) == ("vip", 30)

    # Two days later the membership line is refunded: VIP ends at once. It earned nothing, so
    # nothing is taken back; the mug's 30 points stand.
    await club.refund(601, 3001, "20.00", at(2), line_item_id=7101)
    member = await club.member()
    assert (member["tier"], member["points"]["available"]) == ("regular", 30)
    assert member["tier_progress"]["tier_until"] is None
    assert await club.history() == [(None, "vip", "membership"), ("vip", "regular",
                                                                  "membership_ended")]  # fmt: skip
    # The mug refunded the next day: its 30 points, all the order earned, come back.
    await club.refund(602, 3001, "30.00", at(3), line_item_id=7102)
    assert (await club.member())["points"]["available"] == 0
    assert await club.lines() == [
        (30, "30 points: 50.00 USD spent on order #3001 (30.00 USD counted: the paid membership "
             "earns no points) (rule purchase, program v2)"),
        (0, "Reversed 0 points for refund 601 of order #3001: 20.00 USD of merchandise refunded "
            "(20.00 USD of it the paid membership, which earned no points) (rule purchase)"),
        (-30, "Reversed 30 points for refund 602 of order #3001: 30.00 USD of merchandise "
              "refunded (rule purchase)"),
    ]  # fmt: skip
    async with club.state.db.read() as session:
        assert await verify_shop(session, club.shop.shop_id) == []
