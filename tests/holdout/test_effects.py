"""What being held out does, as the shop and the shopper notice it: a holdout customer's signed
order webhooks are recorded but earn nothing (no points, no welcome bonus, no event award)
while a member's earn; the admin API says ``holdout``; the storefront answers so that the
widget hides; a customer released by a smaller share earns from then on, and what they bought
while held out still earns nothing when its refund arrives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select

from app.program.models import Order
from app.state import AppState
from app.tiers.models import MemberTier
from tests.engage.conftest import Club
from tests.holdout.conftest import customers, hold_out
from tests.payloads import shopify_order, shopify_refund
from tests.storefront.signing import app_proxy_query

PROGRAM = {
    "rules": [
        {"key": "purchase", "type": "purchase", "points": 1},
        {"key": "welcome", "type": "signup", "points": 25},
        {"key": "review", "type": "event", "event": "review", "points": 5},
    ]
}
PAID = datetime(2026, 11, 2, 10, tzinfo=UTC)


async def _storefront(client: httpx.AsyncClient, club: Club, customer: str) -> httpx.Response:
    query = app_proxy_query(club.shop.secret, club.shop.domain, customer)
    return await client.get(f"/storefront/shopify/member?{query}")


async def test_a_holdout_customer_earns_nothing_and_is_shown_no_club_while_a_member_earns(
    client: httpx.AsyncClient, state: AppState, club: Club
) -> None:
    await club.publish(PROGRAM)
    await hold_out(client, club.shop.auth, "50")
    (held,) = customers(5000, held_out=True)
    (member,) = customers(5000, held_out=False)

    await club.join(held, "Hana", "Out")
    await club.join(member, "Mina", "In")
    await club.order(1, PAID, "100.00", held)
    await club.order(2, PAID, "100.00", member)
    assert await club.earned("review", "r1", customer_id=member) == 5
    assert await club.earned("review", "r1", customer_id=held) == 0

    assert await club.available(member) == 25 + 100 + 5
    assert await club.available(held) == 0
    assert await club.reasons(held) == []
    async with state.db.read() as session:
        order = await session.scalar(
            select(Order).where(Order.shop_id == club.shop.shop_id, Order.order_id == "1")
        )
    assert order is not None  # recorded, for the lift report
    assert (order.customer_id, order.merchandise_minor, order.financial_state) == (
        held, 10_000, "paid",
    )  # fmt: skip

    shown = (await client.get(f"/api/v1/members/{held}", headers=club.shop.auth)).json()
    assert shown["holdout"] is True
    shown = (await client.get(f"/api/v1/members/{member}", headers=club.shop.auth)).json()
    assert shown["holdout"] is False

    answer = (await _storefront(client, club, held)).json()
    assert answer == {"signed_in": True, "holdout": True, "member": None, "rewards": []}
    answer = (await _storefront(client, club, member)).json()
    assert "holdout" not in answer
    assert answer["member"]["points"]["available"] == 130


async def test_a_released_customer_earns_from_then_on_but_not_for_what_they_bought_while_out(
    client: httpx.AsyncClient, club: Club
) -> None:
    await club.publish(PROGRAM)
    await hold_out(client, club.shop.auth, "50")
    (held,) = customers(5000, held_out=True, start=9000)
    await club.order(11, PAID, "100.00", held)
    assert await club.available(held) == 0

    await hold_out(client, club.shop.auth, "0")  # the holdout turned off: they join the club
    shown = (await client.get(f"/api/v1/members/{held}", headers=club.shop.auth)).json()
    assert shown["holdout"] is False
    assert "holdout" not in (await _storefront(client, club, held)).json()

    later = datetime.now(UTC) + timedelta(minutes=5)
    await club.order(12, later, "40.00", held)
    assert await club.available(held) == 40
    # The order paid while held out, processed again with a refund: still nothing to take back.
    refunded = shopify_order(11, customer_id=int(held), merchandise="100.00",
                             updated_at=(PAID + timedelta(days=3)).isoformat(),
                             refunds=[shopify_refund(901, 11, merchandise="30.00")])  # fmt: skip
    refunded["processed_at"] = PAID.isoformat()
    await club.deliver("orders/updated", refunded)
    assert await club.available(held) == 40


async def test_a_holdout_customer_reaches_no_tier_by_spending(
    client: httpx.AsyncClient, state: AppState, club: Club
) -> None:
    await club.publish({
        "rules": [{"key": "purchase", "type": "purchase", "points": 1}],
        "tiers": {"basis": "amount_spent", "levels": [
            {"key": "bronze", "threshold": 0, "names": {"en": "Bronze"}},
            {"key": "silver", "threshold": 5_000, "names": {"en": "Silver"}},
        ]},
    })  # fmt: skip
    await hold_out(client, club.shop.auth, "50")
    (held,) = customers(5000, held_out=True, start=7000)
    (member,) = customers(5000, held_out=False, start=7000)
    await club.order(21, PAID, "100.00", held)
    await club.order(22, PAID, "100.00", member)
    tier_of = {}
    for customer in (held, member):
        r = await client.get(f"/api/v1/members/{customer}", headers=club.shop.auth)
        tier_of[customer] = r.json()["tier"]
    assert tier_of == {held: None, member: "silver"}
    async with state.db.read() as session:
        evaluated = dict(
            (await session.execute(
                select(MemberTier.customer_id, MemberTier.qualified)
                .where(MemberTier.shop_id == club.shop.shop_id)
            )).all()
        )  # fmt: skip
    assert evaluated == {member: "silver"}  # the holdout customer was never evaluated
