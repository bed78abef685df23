"""The member document reads the shop's program from a per-process cache: a version another
process publishes shows on the very next read, and the cache holds a bounded number of shops."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from app.config import Settings
from app.db import Database
from app.program import versions
from app.program.document import ProgramDocument
from app.state import AppState
from tests.conftest import ShopifyShop, make_shopify_shop
from tests.tiers.helpers import program

CUSTOMER = "42"


async def _member(client: httpx.AsyncClient, shop: ShopifyShop) -> dict[str, object]:
    r = await client.get(f"/api/v1/members/{CUSTOMER}", headers=shop.auth)
    assert r.status_code == 200
    document: dict[str, object] = r.json()
    return document


async def _publish_elsewhere(settings: Settings, shop_id: int, document: dict[str, object]) -> None:
    """As another `vafa serve` process would: its own engine, nothing of this process's."""
    other = Database(settings.database_url)
    try:
        async with other.write() as session:
            await versions.publish(
                session, shop_id, ProgramDocument.model_validate(document), datetime.now(UTC)
            )
    finally:
        await other.dispose()


async def _give_points(client: httpx.AsyncClient, shop: ShopifyShop, key: str) -> None:
    r = await client.post(
        f"/api/v1/members/{CUSTOMER}/adjustments",
        json={"points": 120, "reason": "welcome", "idempotency_key": key},
        headers=shop.auth,
    )
    assert r.status_code == 201


class TestProgramCache:
    async def test_a_version_published_by_another_process_shows_on_the_next_read(
        self,
        client: httpx.AsyncClient,
        settings: Settings,
        state: AppState,
        shopify_shop: ShopifyShop,
    ) -> None:
        await _give_points(client, shopify_shop, "k1")
        for _ in range(2):  # the second read is the cached program's
            member = await _member(client, shopify_shop)
            assert member["tier_progress"] is None  # no tiers yet
        await _publish_elsewhere(settings, shopify_shop.shop_id, program())
        member = await _member(client, shopify_shop)
        assert member["tier"] == "bronze"
        assert member["tier_progress"] is not None
        assert member["tier_progress"]["next_tier"] == "silver"  # type: ignore[index]
        # And a later one without tiers takes them away again at once.
        await _publish_elsewhere(settings, shopify_shop.shop_id, {"rules": program()["rules"]})
        assert (await _member(client, shopify_shop))["tier_progress"] is None

    async def test_the_cache_keeps_at_most_its_size_in_shops(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        shops = [shopify_shop]
        for n in range(2):
            shops.append(await make_shopify_shop(state, domain=f"shop-{n}.myshopify.com"))
        state.programs = versions.HistoryCache(size=2)
        for n, shop in enumerate(shops):
            await _give_points(client, shop, f"k{n}")
            assert (await _member(client, shop))["tier_progress"] is None
        assert len(state.programs) == 2
