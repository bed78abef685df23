"""A Shopify shop with the holdout on at a known salt, and customers known to fall in or out."""

from __future__ import annotations

import httpx

from app.holdout.membership import bucket
from tests.browser import browser, live
from tests.engage.conftest import club
from tests.rewards.conftest import on_shopify, settings

__all__ = ["browser", "club", "live", "on_shopify", "settings"]

SALT = "holdout-test-salt"


def customers(share_bp: int, *, held_out: bool, count: int = 1, start: int = 5000) -> list[str]:
    """``count`` numeric customer ids (Shopify's are numbers) the hash puts in (or out of) a
    holdout of ``share_bp`` with :data:`SALT`."""
    found: list[str] = []
    n = start
    while len(found) < count:
        n += 1
        if (bucket(SALT, str(n)) < share_bp) == held_out:
            found.append(str(n))
    return found


async def hold_out(
    client: httpx.AsyncClient, auth: dict[str, str], percent: str, salt: str | None = SALT
) -> httpx.Response:
    body = {"share_percent": percent} | ({"salt": salt} if salt else {})
    r = await client.put("/api/v1/holdout", json=body, headers=auth)
    assert r.status_code == 200, r.text
    return r
