"""The leaderboard: on only where the program enables it, opted-in members only, ranked by
points earned in the window, shown without names, e-mails or whole ids."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from app.engage.leaderboard import display_name
from tests.engage.conftest import CUSTOMER, TEHRAN, Club

SARA = "5551234567"


def _program(enabled: bool = True, **board: Any) -> dict[str, Any]:
    return {
        "timezone": "Asia/Tehran",
        "rules": [{"key": "review", "type": "event", "event": "review", "points": 20}],
        "leaderboard": {"enabled": enabled, **board},
    }


async def _opt(club: Club, customer: str, opt_in: Any) -> int:
    r = await club.client.put(
        f"/api/v1/members/{customer}/leaderboard", json={"opt_in": opt_in}, headers=club.shop.auth
    )
    return r.status_code


async def _board(club: Club) -> dict[str, Any]:
    r = await club.client.get("/api/v1/leaderboard", headers=club.shop.auth)
    assert r.status_code == 200, r.text
    board: dict[str, Any] = r.json()
    return board


class TestLeaderboard:
    async def test_off_unless_the_program_enables_it(self, club: Club) -> None:
        await club.publish(_program(enabled=False))
        r = await club.client.get("/api/v1/leaderboard", headers=club.shop.auth)
        assert r.status_code == 409
        assert r.json()["error"]["code"] == "leaderboard_disabled"

    async def test_only_opted_in_members_in_order_of_points_this_month(self, club: Club) -> None:
        await club.publish(_program(size=1))
        await club.join()
        await club.join(SARA, "Sara", "Karimi")
        for key in ("a", "b"):
            await club.earned("review", key)
        await club.earned("review", "s", customer_id=SARA)
        assert (await _board(club))["entries"] == []  # nobody opted in

        assert await _opt(club, SARA, True) == 200
        board = await _board(club)
        assert [(e["display_name"], e["points"]) for e in board["entries"]] == [("S.K. ··67", 20)]
        month = datetime.now(TEHRAN).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        assert datetime.fromisoformat(board["since"]) == month.astimezone(UTC)

        assert await _opt(club, CUSTOMER, True) == 200
        (top,) = (await _board(club))["entries"]  # size 1: the top member only
        assert (top["rank"], top["display_name"], top["points"]) == (1, "B.N. ··51", 40)

        assert await _opt(club, CUSTOMER, False) == 200
        (top,) = (await _board(club))["entries"]
        assert top["display_name"] == "S.K. ··67"

    @pytest.mark.parametrize("value", ["yes", 1, None])
    async def test_opt_in_must_be_true_or_false(self, club: Club, value: Any) -> None:
        await club.join()
        assert await _opt(club, CUSTOMER, value) == 422

    def test_a_member_without_a_name_is_shown_as_member(self) -> None:
        assert display_name("820982911946154508", None, " ") == "Member ··08"
        assert display_name("7", "ali", None) == "A. ··7"
