"""What the CLI tests share: the environment an operator sets, and databases in odd states."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from app.config import get_settings
from tests.conftest import ENV_URL, SECRET_KEY, USES_POSTGRES
from tests.migration_check import _admin


@pytest.fixture
def env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """VAFA_DATABASE_URL (a migrated database) and VAFA_SECRET_KEY, as an operator exports them."""
    monkeypatch.setenv("VAFA_DATABASE_URL", database_url)
    monkeypatch.setenv("VAFA_SECRET_KEY", SECRET_KEY)
    get_settings.cache_clear()
    yield database_url
    get_settings.cache_clear()


@pytest.fixture
def empty_database(tmp_path: Path) -> Iterator[str]:
    """A database with nothing in it, of the engine under test (a SQLite file not yet made)."""
    if not USES_POSTGRES:
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    name = f"vafa_cli_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(ENV_URL, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(ENV_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(ENV_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
