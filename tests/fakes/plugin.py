"""Pytest fixtures for the fake stores (loaded by tests/conftest.py's ``pytest_plugins``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.server import ServedApp
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
