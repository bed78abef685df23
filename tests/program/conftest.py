from __future__ import annotations

import httpx
import pytest

from app.members import endpoints as members_endpoints
from app.shops import service as shops
from app.state import AppState
from tests.conftest import ShopifyShop
from tests.fakes.shopify import DEFAULT_TOKEN, FakeShopify
from tests.program.club import TierClub
from tests.tiers.helpers import CUSTOMER

TIER_DOMAIN = "ladder.myshopify.com"


@pytest.fixture
async def tier_club(
    client: httpx.AsyncClient,
    state: AppState,
    fake_shopify: FakeShopify,
    monkeypatch: pytest.MonkeyPatch,
) -> TierClub:
    """A shop on the (fake) Shopify store for the tier scenarios, its customer known there so
    that ``vafa.tier`` is written back. As in tests/tiers, the member document is read as of
    the time the test last processed or reviewed at."""
    fake_shopify.add_customer(CUSTOMER)
    async with state.db.write() as session:
        new = await shops.add_shopify(
            session, state.vault, domain=TIER_DOMAIN, access_token=DEFAULT_TOKEN,
            api_secret="hush", api_url=fake_shopify.base_url,
        )  # fmt: skip
    shop = ShopifyShop(new.shop_id, new.admin_api_key, TIER_DOMAIN, "hush")
    club = TierClub(client, state, shop)
    monkeypatch.setattr(members_endpoints, "utcnow", club.clock)
    return club
