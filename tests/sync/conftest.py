"""The app.sync tests call the fake stores through the worker's own store clients: their HTTP
client is closed after each test (``run_forever`` closes it itself; ``drain`` does not)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from app.config import Settings, get_settings
from app.connectors.clients import StoreClients
from app.db import Database
from app.state import AppState


@pytest.fixture
async def state(settings: Settings, db: Database) -> AsyncIterator[AppState]:
    app_state = AppState.build(settings, db)
    yield app_state
    for source in app_state.worker.sources:
        await source.close()


PUBLIC_URL = "https://vafa.example"


@pytest.fixture
def public_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """VAFA_PUBLIC_URL set, as an operator exports it."""
    monkeypatch.setenv("VAFA_PUBLIC_URL", PUBLIC_URL)
    get_settings.cache_clear()
    yield PUBLIC_URL
    get_settings.cache_clear()


@pytest.fixture
async def stores(state: AppState) -> AsyncIterator[StoreClients]:
    """Store clients of the test's own, as a command builds them."""
    clients = StoreClients(state.db, state.vault)
    yield clients
    await clients.aclose()
