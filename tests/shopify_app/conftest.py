"""Vafa as an installed Shopify app, against the fake Shopify: the app's client id and secret
are the fake's, its admin (grant screen, token endpoint, Admin API) is the fake's server, and
VAFA_PUBLIC_URL is set (the callback and webhook addresses are built from it)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace

import httpx
import pytest

from app.config import Settings, get_settings
from app.db import Database
from app.main import create_app
from app.shopify_app.config import ShopifyApp
from app.shopify_app.endpoints import shopify_app
from app.state import AppState
from tests.fakes.server import ServedApp
from tests.fakes.shopify import FakeShopify

PUBLIC_URL = "https://vafa.example"
# As long as Shopify's own (shpss_ and 32 hex digits): HS256 wants a key of 32 bytes or more.
CLIENT_SECRET = "shpss_0123456789abcdef0123456789abcdef"


@pytest.fixture
def fake_shopify(shopify_server: ServedApp) -> Iterator[FakeShopify]:
    """The fake Shopify, as the app's store: its client secret a real-sized one."""
    with FakeShopify(client_secret=CLIENT_SECRET).running(on=shopify_server) as fake:
        yield fake


@pytest.fixture
def public_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """VAFA_PUBLIC_URL set, as an operator exports it (the webhook job reads it too)."""
    monkeypatch.setenv("VAFA_PUBLIC_URL", PUBLIC_URL)
    get_settings.cache_clear()
    yield PUBLIC_URL
    get_settings.cache_clear()


@pytest.fixture
def settings(settings: Settings, fake_shopify: FakeShopify, public_url: str) -> Settings:
    return settings.model_copy(
        update={
            "shopify_client_id": fake_shopify.client_id,
            "shopify_client_secret": fake_shopify.client_secret,
            "public_url": public_url,
        }
    )


@pytest.fixture
async def state(settings: Settings, db: Database) -> AsyncIterator[AppState]:
    app_state = AppState.build(settings, db)
    yield app_state
    for source in app_state.worker.sources:
        await source.close()  # the worker's store clients


@pytest.fixture
async def client(
    settings: Settings, state: AppState, fake_shopify: FakeShopify
) -> AsyncIterator[httpx.AsyncClient]:
    """Vafa, whose Shopify app reaches the fake Shopify for every shop."""
    app = create_app(settings, state)
    configured = ShopifyApp.from_settings(settings)
    assert configured is not None
    on_fake = replace(configured, admin_url=lambda shop: fake_shopify.base_url)
    app.dependency_overrides[shopify_app] = lambda: on_fake
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://vafa.example") as c:
        yield c
