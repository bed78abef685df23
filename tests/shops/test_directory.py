"""The shop directory's caches: bounded whatever the requests name, and fresh within their TTL."""

from __future__ import annotations

import asyncio

import pytest

from app.connectors.base import Platform
from app.db import Database
from app.shops import service
from app.shops.cache import ExpiringLRU
from app.shops.service import ShopDirectory
from app.state import AppState
from tests.conftest import make_shopify_shop, make_woo_shop


class TestExpiringLRU:
    def test_the_least_recently_used_entry_makes_room(self) -> None:
        cache: ExpiringLRU[str, int] = ExpiringLRU(maxsize=2)
        cache.put("a", 1, expires=100)
        cache.put("b", 2, expires=100)
        assert cache.get("a", now=0) == (100, 1)  # "a" is now the most recently used
        cache.put("c", 3, expires=100)
        assert list(cache) == ["a", "c"]
        assert cache.get("b", now=0) is None

    def test_an_expired_entry_is_gone(self) -> None:
        cache: ExpiringLRU[str, int] = ExpiringLRU(maxsize=2)
        cache.put("a", 1, expires=10)
        assert cache.get("a", now=9.9) == (10, 1)
        assert cache.get("a", now=10) is None
        assert len(cache) == 0


class TestBoundedDirectory:
    async def test_ten_thousand_unknown_domains_and_ids_leave_the_caches_as_they_were(
        self, state: AppState, db: Database
    ) -> None:
        shop = await make_shopify_shop(state)
        shops = ShopDirectory(db, state.vault, ttl=60)
        known = await shops.by_domain(Platform.SHOPIFY, shop.domain)
        assert known is not None
        assert await shops.by_admin_key(shop.admin_api_key) is known
        assert shops.cached() == 3  # the domain, the shop, its key
        for n in range(10_000):  # unsigned requests naming a fresh shop each
            assert await shops.by_domain(Platform.SHOPIFY, f"x{n}.myshopify.com") is None
        for n in range(200):
            assert await shops.by_id(10_000 + n) is None
            assert await shops.by_admin_key(f"vafa_sk_{20_000 + n}_guess") is None
        assert shops.cached() == 3
        assert await shops.by_domain(Platform.SHOPIFY, shop.domain) is known  # still cached

    async def test_more_shops_than_the_bound_evict_the_least_recently_used(
        self, state: AppState, db: Database
    ) -> None:
        made = [await make_woo_shop(state, url=f"https://store{n}.example") for n in range(5)]
        shops = ShopDirectory(db, state.vault, ttl=60, max_shops=3)
        for woo in made:
            ctx = await shops.by_id(woo.shop_id)
            assert ctx is not None
            assert ctx.webhook_secrets == (woo.secret,)
            assert await shops.by_admin_key(woo.admin_api_key) is ctx
        assert list(shops._by_id) == [w.shop_id for w in made[2:]]
        assert len(shops._by_admin_key) == 3
        first = await shops.by_id(made[0].shop_id)  # read again, not lost
        assert first is not None
        assert first.shop_id == made[0].shop_id

    async def test_a_new_shop_is_found_at_once_after_a_miss(
        self, state: AppState, db: Database
    ) -> None:
        shops = ShopDirectory(db, state.vault, ttl=60)
        assert await shops.by_domain(Platform.SHOPIFY, "late.myshopify.com") is None
        await make_shopify_shop(state, domain="late.myshopify.com")
        assert await shops.by_domain(Platform.SHOPIFY, "late.myshopify.com") is not None


class TestCacheFreshness:
    @pytest.mark.parametrize("change", ["disable", "rotate_secret", "rotate_key"])
    async def test_a_change_reaches_the_directory_within_its_ttl(
        self, state: AppState, db: Database, change: str
    ) -> None:
        shop = await make_shopify_shop(state)
        shops = ShopDirectory(db, state.vault, ttl=0.3)
        before = await shops.by_admin_key(shop.admin_api_key)
        assert before is not None
        async with db.write() as session:
            if change == "disable":
                await service.set_status(session, shop.shop_id, service.DISABLED)
            elif change == "rotate_secret":
                await service.rotate_webhook_secret(session, state.vault, shop.shop_id, "next")
            else:
                await service.rotate_admin_key(session, shop.shop_id)
        assert await shops.by_id(shop.shop_id) is before  # cached: unchanged for now
        await asyncio.sleep(0.35)
        after = await shops.by_id(shop.shop_id)
        assert after is not None
        if change == "disable":
            assert after.status == "disabled"
            assert await shops.by_admin_key(shop.admin_api_key) is None
        elif change == "rotate_secret":
            assert after.webhook_secrets == ("next", shop.secret)
        else:
            assert await shops.by_admin_key(shop.admin_api_key) is None
