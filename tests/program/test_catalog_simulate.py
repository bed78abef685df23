"""Simulating a draft that adds a collection rule to a program that has none: the live orders
record no groups and the cache is empty, so the products are asked of the store before the
replays (never judged as in no group), and the live ledger is left as it was."""

from __future__ import annotations

from app.orm import utcnow
from app.program.document import ProgramDocument
from app.program.simulate import simulate
from app.program.simulation.prefetch import store_catalog
from app.state import AppState
from tests.fakes.shopify import FakeShopify
from tests.program.club import Club
from tests.program.test_catalog import (  # noqa: F401  (fixture)
    CUSTOMER,
    GROUPS_OPERATION,
    ORDER,
    SHOPIFY_PROGRAM,
    lines_order,
    shopify_club,
)

PLAIN = {"rules": [{"key": "purchase", "type": "purchase", "points": 1}]}
# Product 11 counts three times, named by its id: no group to ask the store about.
BY_PRODUCT = {
    "rules": [
        {
            "key": "purchase",
            "type": "purchase",
            "points": 1,
            "multipliers": [{"match": {"product_ids": ["11"]}, "multiplier": "3"}],
        }
    ]
}


async def test_simulating_a_collection_rule_shows_what_it_would_give(
    shopify_club: Club,  # noqa: F811
    fake_shopify: FakeShopify,
    state: AppState,
) -> None:
    """Live: 1 point per dollar, 75.50 spent → 75. The summer ×2 / gift cards excluded draft:
    40×2 + 25.50 = 105.50 → 105 points."""
    await shopify_club.set(PLAIN)
    await shopify_club.deliver("orders/paid", lines_order(5001, ORDER))
    assert (await shopify_club.points(CUSTOMER))["available"] == 75
    assert fake_shopify.graphql_requests(GROUPS_OPERATION) == []
    draft = ProgramDocument.model_validate(SHOPIFY_PROGRAM)
    fetched: list[tuple[int, int]] = []
    async with store_catalog(state.db, state.vault) as catalog:
        report = await simulate(
            state.db,
            shopify_club.shop.shop_id,
            draft,
            now=utcnow(),
            catalog=catalog,
            fetching=lambda done, total: fetched.append((done, total)),
        )
    assert report.live.points_issued == 75
    assert report.draft.points_issued == 105
    assert fetched[-1] == (3, 3)  # the order's three products
    assert len(fake_shopify.graphql_requests(GROUPS_OPERATION)) == 1
    assert (await shopify_club.points(CUSTOMER))["available"] == 75  # live: as it was
    await shopify_club.verify()

    # Simulated again (the answer is fresh in the cache): the store is not asked again.
    async with store_catalog(state.db, state.vault) as catalog:
        again = await simulate(
            state.db, shopify_club.shop.shop_id, draft, now=utcnow(), catalog=catalog
        )
    assert again.draft.points_issued == 105
    assert len(fake_shopify.graphql_requests(GROUPS_OPERATION)) == 1


async def test_a_draft_without_collections_asks_the_store_nothing(
    shopify_club: Club,  # noqa: F811
    fake_shopify: FakeShopify,
    state: AppState,
) -> None:
    """100 points by product id ×3: 40×3 + 25.50 + 10 = 155.50 → 155."""
    await shopify_club.set(PLAIN)
    await shopify_club.deliver("orders/paid", lines_order(5001, ORDER))
    before = len(fake_shopify.graphql_requests())
    async with store_catalog(state.db, state.vault) as catalog:
        report = await simulate(
            state.db,
            shopify_club.shop.shop_id,
            ProgramDocument.model_validate(BY_PRODUCT),
            now=utcnow(),
            catalog=catalog,
        )
    assert report.draft.points_issued == 155
    assert len(fake_shopify.graphql_requests()) == before


async def test_a_store_that_cannot_answer_fails_the_simulation_with_a_502(
    shopify_club: Club,  # noqa: F811
    fake_shopify: FakeShopify,
) -> None:
    await shopify_club.set(PLAIN)
    await shopify_club.deliver("orders/paid", lines_order(5001, ORDER))
    fake_shopify.fail_next(1, status=503)  # the client does not retry a 5xx itself
    response = await shopify_club.client.post(
        "/api/v1/program/simulate", headers=shopify_club.shop.auth, json={"draft": SHOPIFY_PROGRAM}
    )
    assert response.status_code == 502, response.text
    error = response.json()["error"]
    assert error["code"] == "store_unavailable"
    assert "503" in error["message"]

    # Back up: the same request answers what the draft would give.
    response = await shopify_club.client.post(
        "/api/v1/program/simulate", headers=shopify_club.shop.auth, json={"draft": SHOPIFY_PROGRAM}
    )
    assert response.status_code == 200, response.text
    assert response.json()["draft"]["points_issued"] == 105
