from __future__ import annotations

import httpx
import pytest

from app.config import Settings
from app.members import endpoints as members_endpoints
from app.state import AppState
from tests.conftest import make_shopify_shop
from tests.tiers.helpers import Club


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """No wait for a redemption's code: no worker runs the job here."""
    return settings.model_copy(update={"redemption_wait_seconds": 0.0})


@pytest.fixture
async def club(client: httpx.AsyncClient, state: AppState, monkeypatch: pytest.MonkeyPatch) -> Club:
    club = Club(client, state, await make_shopify_shop(state))
    # The member document is read as of the time the test last processed or reviewed at.
    monkeypatch.setattr(members_endpoints, "utcnow", club.clock)
    return club
