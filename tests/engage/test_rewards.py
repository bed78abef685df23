"""Rules that give a reward instead of points: a free redemption through grant_reward, once
per award; a reward the owner paused is not given, and nothing counts against the rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.engage.conftest import CUSTOMER, Club


async def _reward(club: Club) -> int:
    r = await club.client.post(
        "/api/v1/rewards",
        json={"name": "10% off", "kind": "percent_off", "points_cost": 500, "value": 10,
              "code_valid_days": 30, "active": True},
        headers=club.shop.auth,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    reward_id: int = r.json()["id"]
    return reward_id


async def _granted(club: Club) -> list[dict[str, Any]]:
    r = await club.client.get(f"/api/v1/members/{CUSTOMER}/redemptions", headers=club.shop.auth)
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()["redemptions"]
    return found


class TestRewardRules:
    async def test_a_badge_can_give_a_reward_once(self, club: Club) -> None:
        reward_id = await _reward(club)
        await club.publish({"rules": [
            {"key": "regular", "type": "badge", "names": {"en": "Regular"}, "metric": "orders",
             "count": 2, "within_days": 30, "reward_id": reward_id},
        ]})  # fmt: skip
        await club.join()
        now = datetime.now(UTC).replace(microsecond=0)
        for i in range(3):
            await club.order(40 + i, now - timedelta(days=3 - i), "10.00")
        (granted,) = await _granted(club)
        assert (granted["reward_id"], granted["points"]) == (reward_id, 0)
        assert (await club.badges())["regular"]["completed_at"] is not None

    async def test_a_paused_reward_is_not_given_and_uses_no_cap(self, club: Club) -> None:
        reward_id = await _reward(club)
        await club.publish({"rules": [
            {"key": "survey", "type": "event", "event": "survey", "reward_id": reward_id,
             "max_per_member": 1},
        ]})  # fmt: skip
        await club.join()
        r = await club.client.patch(
            f"/api/v1/rewards/{reward_id}", json={"active": False}, headers=club.shop.auth
        )
        assert r.status_code == 200, r.text
        r = await club.event("survey", "s1")
        assert r.status_code == 201, r.text
        (rule,) = r.json()["rules"]
        assert (rule["status"], rule["redemption_id"]) == ("reward_unavailable", None)
        assert f"reward {reward_id} is not active" in rule["message"]
        assert await _granted(club) == []

        r = await club.client.patch(
            f"/api/v1/rewards/{reward_id}", json={"active": True}, headers=club.shop.auth
        )
        assert r.status_code == 200, r.text
        r = await club.event("survey", "s2")
        (rule,) = r.json()["rules"]
        assert rule["status"] == "awarded"
        (granted,) = await _granted(club)
        assert granted["id"] == rule["redemption_id"]
        assert (await club.event("survey", "s3")).json()["rules"][0]["status"] == "capped"
