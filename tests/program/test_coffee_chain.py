"""The coffee chain (Shopify, dollars): a star per whole dollar, double stars in a campaign
week — from its first second to its last, judged by when each order was paid."""

from __future__ import annotations

import httpx

from app.state import AppState
from tests.conftest import ShopifyShop, make_shopify_shop
from tests.program.club import Club, paid_shopify_order

CUSTOMER = 1073339475
PROGRAM = {
    "timezone": "America/New_York",
    "rules": [
        {"key": "stars", "type": "purchase", "points": 1},
        {"key": "double-week", "type": "campaign", "multiplier": "2",
         "names": {"en": "Double stars week"},
         "starts_at": "2027-03-01T00:00:00-05:00", "ends_at": "2027-03-08T00:00:00-05:00"},
    ],
}  # fmt: skip


async def test_double_stars_in_the_campaign_week_only(
    client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
) -> None:
    club = Club(client, state, shopify_shop)
    assert await club.set(PROGRAM) == 2
    orders = [
        (2001, "12.50", "2027-03-01T04:59:59Z"),  # a second before the week: 12
        (2002, "7.99", "2027-03-01T05:00:00Z"),  # its first second: 7 + 7
        (2003, "5.00", "2027-03-08T04:59:59Z"),  # its last second: 5 + 5
        (2004, "3.00", "2027-03-08T05:00:00Z"),  # over: 3
    ]
    for order_id, amount, paid in orders:
        await club.deliver("orders/paid", paid_shopify_order(order_id, amount, paid))
    assert (await club.points(CUSTOMER))["available"] == 12 + 14 + 10 + 3
    assert await club.lines(CUSTOMER) == [
        (12, "12 points: 12.50 USD spent on order #2001 (rule stars, program v2)"),
        (7, "7 points: 7.99 USD spent on order #2002 (rule stars, program v2)"),
        (7, "7 points: campaign Double stars week: 7 purchase points ×2 on order #2002 "
            "(rule double-week, program v2)"),
        (5, "5 points: 5.00 USD spent on order #2003 (rule stars, program v2)"),
        (5, "5 points: campaign Double stars week: 5 purchase points ×2 on order #2003 "
            "(rule double-week, program v2)"),
        (3, "3 points: 3.00 USD spent on order #2004 (rule stars, program v2)"),
    ]  # fmt: skip
    await club.verify()


async def test_a_campaign_for_a_tier_doubles_only_that_tiers_orders(
    client: httpx.AsyncClient, state: AppState
) -> None:
    """The tier an order records is the member's when it is paid (members.tier, which the
    tiers fill); the gold level's own ×1.5 posts under its own segment."""
    from sqlalchemy import update

    from app.members.models import Member

    shop = await make_shopify_shop(state)
    club = Club(client, state, shop)
    program = {
        **PROGRAM,
        "rules": [PROGRAM["rules"][0], {**PROGRAM["rules"][1], "tiers": ["gold"]}],  # type: ignore[index]
        "tiers": {"levels": [
            {"key": "green", "threshold": 0, "names": {"en": "Green"}},
            {"key": "gold", "threshold": 300, "names": {"en": "Gold"}, "multiplier": "1.5"},
        ]},
    }  # fmt: skip
    await club.set(program)
    await club.deliver("orders/paid", paid_shopify_order(3001, "10.00", "2027-03-02T12:00:00Z"))
    async with state.db.write() as session:
        await session.execute(
            update(Member).where(Member.shop_id == shop.shop_id).values(tier="gold")
        )
    await club.deliver("orders/paid", paid_shopify_order(3002, "10.00", "2027-03-03T12:00:00Z"))
    # green: 10; gold: 10, +5 for the tier (⌊10 × 1.5⌋ − 10), +10 for the campaign.
    assert (await club.points(CUSTOMER))["available"] == 10 + 10 + 5 + 10
    lines = await club.lines(CUSTOMER)
    assert lines[2] == (5, "5 points: Gold tier: 10 purchase points ×1.5 on order #3002 "
                           "(tier gold, program v2)")  # fmt: skip
    # The member's tier changing later does not change what the orders earned.
    async with state.db.write() as session:
        await session.execute(
            update(Member).where(Member.shop_id == shop.shop_id).values(tier="green")
        )
    await club.deliver("orders/updated", paid_shopify_order(3002, "10.00", "2027-03-03T12:00:00Z"))
    assert (await club.points(CUSTOMER))["available"] == 35
    await club.verify()
