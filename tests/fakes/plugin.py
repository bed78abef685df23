"""Pytest fixtures for the fake stores (loaded by tests/conftest.py's ``pytest_plugins``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.server import ServedApp
from tests.fakes.shopify import FakeShopify
from tests.fakes.woocommerce import FakeWooCommerce


@pytest.fixture(scope="session")
def fake_server() -> Iterator[ServedApp]:
    """One HTTP server for the session; each test mounts its own fresh fake on it."""
    with ServedApp() as served:
        yield served


@pytest.fixture
def woo_store(fake_server: ServedApp) -> Iterator[FakeWooCommerce]:
    """A fake WooCommerce store reached over plain HTTP (OAuth 1.0a signatures), empty, with
    one read/write API key (``consumer_key`` / ``consumer_secret``)."""
    with FakeWooCommerce().start(on=fake_server) as store:
        yield store


@pytest.fixture(scope="session")
def shopify_server() -> Iterator[ServedApp]:
    """The fake Shopify's own server, so that a test can use both fake stores at once."""
    with ServedApp() as served:
        yield served


@pytest.fixture
def fake_shopify(shopify_server: ServedApp) -> Iterator[FakeShopify]:
    """A fake Shopify Admin API on a local port, with fresh state for each test."""
    with FakeShopify().running(on=shopify_server) as fake:
        yield fake
