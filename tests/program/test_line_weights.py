"""A purchase rule's line multipliers and exclusions, and what refunds take back: an order judged
since Vafa records how its lines were weighed has a refund of a line take back what that line
counted; an order judged before keeps the money share its refunds were taken back by."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import func, select

from app.program import judging
from app.program.models import Order
from app.state import AppState
from tests.program.club import Club
from tests.program.test_catalog import (  # noqa: F401  (fixture)
    CUSTOMER,
    ORDER,
    line_refund,
    lines_order,
    shopify_club,
)

# The product 11 line counts three times.
TRIPLE = {
    "rules": [
        {
            "key": "purchase",
            "type": "purchase",
            "points": 1,
            "multipliers": [{"match": {"product_ids": ["11"]}, "multiplier": "3"}],
        }
    ]
}
TWO_LINES = [(1, 11, "100.00"), (2, 12, "100.00")]


async def _recorded(state: AppState, club: Club) -> int:
    """How many of the shop's orders record their lines' groups or weights."""
    async with state.db.read() as session:
        found = await session.scalar(
            select(func.count())
            .select_from(Order)
            .where(Order.shop_id == club.shop.shop_id, Order.product_groups.is_not(None))
        )
    return int(found or 0)


async def test_refunding_the_tripled_line_takes_back_what_it_counted(
    shopify_club: Club,  # noqa: F811
) -> None:
    await shopify_club.set(TRIPLE)
    await shopify_club.deliver("orders/paid", lines_order(5001, TWO_LINES))
    assert (await shopify_club.points(CUSTOMER))["available"] == 400  # 100 × 3 + 100
    await shopify_club.deliver("refunds/create", line_refund(901, 5001, 1, "100.00"))
    assert (await shopify_club.points(CUSTOMER))["available"] == 100  # the 300 it counted


async def test_an_order_judged_before_weights_were_recorded_keeps_its_money_share(
    shopify_club: Club,  # noqa: F811
    state: AppState,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """400 points earned (100 × 3 + 100) by Vafa before it recorded line weights; the tripled
    line's refund took back its money's share then (100 of 200: 200 points). After the
    upgrade an orders/updated that changes nothing leaves the member's 200 as they were."""
    await shopify_club.set(TRIPLE)
    judge = judging.judge

    async def judged_before(
        session: Any, shop_id: int, programs: Any, orders: Sequence[Any]
    ) -> None:
        await judge(session, shop_id, programs, orders)
        for order in orders:
            order.product_groups = None  # what such an order's row holds

    monkeypatch.setattr(judging, "judge", judged_before)
    await shopify_club.deliver("orders/paid", lines_order(5001, TWO_LINES))
    await shopify_club.deliver("refunds/create", line_refund(901, 5001, 1, "100.00"))
    assert (await shopify_club.points(CUSTOMER))["available"] == 200
    assert await _recorded(state, shopify_club) == 0

    monkeypatch.setattr(judging, "judge", judge)  # the upgrade
    await shopify_club.deliver(
        "orders/updated", lines_order(5001, TWO_LINES, updated_at="2027-02-05T10:00:00Z")
    )
    assert (await shopify_club.points(CUSTOMER))["available"] == 200


async def test_a_program_that_weighs_no_line_records_nothing_on_its_orders(
    shopify_club: Club,  # noqa: F811
    state: AppState,
) -> None:
    """Its orders are stored with NULL (not JSON null): a simulation copies none of them."""
    await shopify_club.set({"rules": [{"key": "purchase", "type": "purchase", "points": 1}]})
    await shopify_club.deliver("orders/paid", lines_order(5001, ORDER))
    assert (await shopify_club.points(CUSTOMER))["available"] == 75
    assert await _recorded(state, shopify_club) == 0
