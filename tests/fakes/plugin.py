"""Pytest fixtures for the fake stores (loaded by tests/conftest.py's ``pytest_plugins``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.woocommerce import FakeWooCommerce


@pytest.fixture
def woo_store() -> Iterator[FakeWooCommerce]:
    """A fake WooCommerce store reached over plain HTTP (OAuth 1.0a signatures), empty, with
    one read/write API key (``consumer_key`` / ``consumer_secret``)."""
    with FakeWooCommerce() as store:
        yield store
