"""The key exchange's tests run against the fake store on 127.0.0.1, so private stores are
allowed here (as ``make demo`` allows them); tests/woocommerce_app/test_addresses.py turns it
off to see what a stranger's URL meets."""

from __future__ import annotations

import pytest

from app.config import Settings
from tests.sync.conftest import public_url, state

__all__ = ["public_url", "settings", "state"]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"allow_private_stores": True})
