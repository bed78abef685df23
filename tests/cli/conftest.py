"""What the CLI tests share: the environment an operator sets, and databases in odd states."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.config import get_settings
from tests.conftest import SECRET_KEY


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """VAFA_DATABASE_URL (a migrated database) and VAFA_SECRET_KEY, as an operator exports them."""
    monkeypatch.setenv("VAFA_DATABASE_URL", database_url)
    monkeypatch.setenv("VAFA_SECRET_KEY", SECRET_KEY)
    get_settings.cache_clear()
    yield database_url
    get_settings.cache_clear()
