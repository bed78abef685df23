"""A campaign for a segment, driven as a shop drives it: segments and program through the API,
orders as signed Shopify webhooks, the refresh run by the scheduler's daily task."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from sqlalchemy import select

from app.program.models import Order
from app.segments import tasks
from app.state import AppState
from tests.conftest import ShopifyShop
from tests.program.club import Club, paid_shopify_order

REGULAR = 1073339475  # three orders before the refresh: in "regulars"
NEWCOMER = 2073339475  # one order: not in it
REGULARS = {"names": {"en": "Regulars", "fa": "مشتریان همیشگی"},
            "conditions": [{"type": "orders", "at_least": 3}]}  # fmt: skip
PROGRAM = {
    "rules": [
        {"key": "stars", "type": "purchase", "points": 1},
        {"key": "regulars-bonus", "type": "campaign", "bonus": 25, "segment": "regulars",
         "names": {"en": "Regulars' bonus"},
         "starts_at": "2027-03-01T00:00:00Z", "ends_at": "2027-04-01T00:00:00Z"},
    ],
}  # fmt: skip
REFRESHED = datetime(2027, 3, 10, tzinfo=UTC)


async def _refresh_at(state: AppState, shop: ShopifyShop, when: datetime) -> None:
    """The scheduler's daily task at ``when`` (it asks for the shop's refresh) and the job run
    then."""
    context = await state.shops.by_id(shop.shop_id)
    assert context is not None
    assert await tasks.schedule_refresh(state.db, context, when) == 1
    await state.worker.drain(when)


async def _orders_before(club: Club) -> None:
    for n, day in enumerate(("2027-03-02", "2027-03-03", "2027-03-04")):
        order = paid_shopify_order(4001 + n, "10.00", f"{day}T12:00:00Z", customer_id=REGULAR)
        await club.deliver("orders/paid", order)
    await club.deliver(
        "orders/paid",
        paid_shopify_order(5001, "10.00", "2027-03-05T12:00:00Z", customer_id=NEWCOMER),
    )


async def test_a_segments_campaign_pays_its_members_only(
    client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
) -> None:
    club = Club(client, state, shopify_shop)
    auth = shopify_shop.auth
    r = await client.put("/api/v1/segments/regulars", json=REGULARS, headers=auth)
    assert r.status_code == 201, r.text
    await club.set(PROGRAM)
    await _orders_before(club)  # paid before any refresh counted them: no bonus
    assert (await club.points(REGULAR))["available"] == 30
    await _refresh_at(state, shopify_shop, REFRESHED)
    r = await client.get("/api/v1/segments/regulars/members", headers=auth)
    assert [m["customer_id"] for m in r.json()["members"]] == [str(REGULAR)]

    await club.deliver("orders/paid", paid_shopify_order(
        4004, "10.00", "2027-03-12T12:00:00Z", customer_id=REGULAR))  # fmt: skip
    await club.deliver("orders/paid", paid_shopify_order(
        5002, "10.00", "2027-03-12T12:00:00Z", customer_id=NEWCOMER))  # fmt: skip
    assert (await club.points(REGULAR))["available"] == 40 + 25
    assert (await club.points(NEWCOMER))["available"] == 20
    assert (await club.lines(REGULAR))[-1] == (
        25, "25 points: campaign Regulars' bonus: a 25-point bonus on order #4004 "
            "(segment regulars) (rule regulars-bonus, program v2)",
    )  # fmt: skip
    async with state.db.read() as session:
        recorded = await session.scalar(
            select(Order.segments).where(
                Order.shop_id == shopify_shop.shop_id, Order.order_id == "4004"
            )
        )
    assert recorded == ["new", "regulars"]  # a first order within 30 days: RFM's "new" too
    await club.verify()


async def test_what_an_order_was_judged_by_stays_when_the_member_leaves(
    client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
) -> None:
    """The member leaves the segment (the rule is made stricter and refreshed); the order paid
    while they were in it, delivered again, keeps its bonus; the next one earns none."""
    club = Club(client, state, shopify_shop)
    auth = shopify_shop.auth
    await client.put("/api/v1/segments/regulars", json=REGULARS, headers=auth)
    await club.set(PROGRAM)
    await _orders_before(club)
    await _refresh_at(state, shopify_shop, REFRESHED)
    paid = paid_shopify_order(4004, "10.00", "2027-03-12T12:00:00Z", customer_id=REGULAR)
    await club.deliver("orders/paid", paid)
    stricter = {**REGULARS, "conditions": [{"type": "orders", "at_least": 10}]}
    r = await client.put("/api/v1/segments/regulars", json=stricter, headers=auth)
    assert r.status_code == 200, r.text
    await state.worker.drain(datetime(2027, 3, 13, tzinfo=UTC))
    r = await client.get(f"/api/v1/members/{REGULAR}/segments", headers=auth)
    assert "regulars" not in [s["key"] for s in r.json()["segments"]]
    await club.deliver("orders/updated", {**paid, "updated_at": "2027-03-14T00:00:00Z"})
    await club.deliver("orders/paid", paid_shopify_order(
        4005, "10.00", "2027-03-15T12:00:00Z", customer_id=REGULAR))  # fmt: skip
    assert (await club.points(REGULAR))["available"] == 50 + 25
    await club.verify()


async def test_a_program_naming_an_unknown_segment_is_refused_at_that_field(
    client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
) -> None:
    club = Club(client, state, shopify_shop)
    r = await club.put(PROGRAM)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "validation_error"
    assert error["details"][0]["field"] == "body.rules.1.campaign.segment"
    assert "no segment 'regulars'" in error["message"]
    # An RFM segment is always there.
    rfm = {"rules": [PROGRAM["rules"][0], {**PROGRAM["rules"][1], "segment": "at_risk"}]}  # type: ignore[index]
    assert (await club.put(rfm)).status_code == 201


async def test_a_segment_the_program_names_cannot_be_deleted(
    client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
) -> None:
    club = Club(client, state, shopify_shop)
    auth = shopify_shop.auth
    await client.put("/api/v1/segments/regulars", json=REGULARS, headers=auth)
    await club.set(PROGRAM)
    r = await client.delete("/api/v1/segments/regulars", headers=auth)
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "segment_in_use"
    await club.set({"rules": PROGRAM["rules"][:1]}, effective_at="2027-02-01T00:00:00Z")
    assert (await client.delete("/api/v1/segments/regulars", headers=auth)).status_code == 204
    r = await client.get("/api/v1/segments/regulars", headers=auth)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "segment_not_found"


async def test_a_simulation_of_the_live_program_judges_segments_as_the_worker_did(
    client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
) -> None:
    """The replay reads the live spans: the bonus paid live is paid in the replay too."""
    from app.orm import utcnow
    from app.program import versions
    from app.program.simulate import simulate

    club = Club(client, state, shopify_shop)
    await client.put("/api/v1/segments/regulars", json=REGULARS, headers=shopify_shop.auth)
    await club.set(PROGRAM)
    await _orders_before(club)
    await _refresh_at(state, shopify_shop, REFRESHED)
    await club.deliver("orders/paid", paid_shopify_order(
        4004, "10.00", "2027-03-12T12:00:00Z", customer_id=REGULAR))  # fmt: skip
    async with state.db.read() as session:
        document = (await versions.load(session, shopify_shop.shop_id)).latest.document
    report = await simulate(state.db, shopify_shop.shop_id, document, now=utcnow())
    assert report.live.points_issued == 40 + 25 + 10
    assert report.draft.points_issued == report.live.points_issued
