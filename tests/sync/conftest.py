"""The app.sync tests call the fake stores through the worker's own store clients: their HTTP
client is closed after each test (``run_forever`` closes it itself; ``drain`` does not)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from app.config import Settings
from app.db import Database
from app.state import AppState


@pytest.fixture
async def state(settings: Settings, db: Database) -> AsyncIterator[AppState]:
    app_state = AppState.build(settings, db)
    yield app_state
    for source in app_state.worker.sources:
        await source.close()
