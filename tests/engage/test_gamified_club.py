"""The gamified club (issue 11): points for joining, a review, a survey, a completed profile and
a follow; a badge for 3 orders in 30 days driven by signed order webhooks; an opt-in
leaderboard. Every balance below is computed by hand from the program."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from app.ledger.verify import verify_shop
from app.webhooks.processing import replay
from tests.engage.conftest import CUSTOMER, Club

SARA = "5551234567"
NIMA = "5551234500"

GAMIFIED: dict[str, Any] = {
    "timezone": "Asia/Tehran",
    "rules": [
        {"key": "purchase", "type": "purchase", "points": 1},  # 1 point per whole unit
        {"key": "welcome", "type": "signup", "points": 25},
        {"key": "review", "type": "event", "event": "review", "points": 20, "max_per_member": 5},
        {"key": "survey", "type": "event", "event": "survey", "points": 30,
         "max_per_period": {"unit": "month", "count": 1}},
        {"key": "profile", "type": "event", "event": "profile_completed", "points": 50},
        {"key": "follow", "type": "event", "event": "social_follow", "points": 10,
         "max_per_member": 1},
        {"key": "regular", "type": "badge", "names": {"en": "Regular", "fa": "مشتری همیشگی"},
         "metric": "orders", "count": 3, "within_days": 30, "points": 100},
        {"key": "critic", "type": "badge", "names": {"en": "Critic"}, "metric": "events",
         "event": "review", "count": 3},
    ],
    "leaderboard": {"enabled": True, "size": 10, "window": "month"},
}  # fmt: skip


class TestGamifiedClub:
    async def test_a_member_earns_by_hand_computed_points_a_badge_and_a_leaderboard_place(
        self, club: Club
    ) -> None:
        version = await club.publish(GAMIFIED)
        await club.join()  # customers/create: joining the club earns 25
        assert await club.available() == 25

        assert await club.earned("review", "review-1") == 20
        assert await club.earned("survey", "survey-1") == 30
        assert await club.earned("profile_completed", "profile-1") == 50
        assert await club.earned("social_follow", "follow-1") == 10
        assert await club.earned("social_follow", "follow-2") == 0  # once per member
        assert await club.available() == 135

        now = datetime.now(UTC).replace(microsecond=0)
        paid = [now - timedelta(days=20), now - timedelta(days=10), now - timedelta(days=1)]
        await club.order(9001, paid[0], "10.00")
        await club.order(9002, paid[1], "20.00")
        assert (await club.badges())["regular"]["completed_at"] is None
        await club.order(9003, paid[2], "30.50")  # the third within 30 days: the badge
        # 135 + 10 + 20 + 30 purchase points + 100 for the badge
        assert await club.available() == 295

        reasons = await club.reasons()
        assert f"25 points: joined the club (rule welcome, program v{version})" in reasons
        assert f"20 points: review (rule review, program v{version})" in reasons
        assert f"30 points: survey (rule survey, program v{version})" in reasons
        assert f"50 points: profile_completed (rule profile, program v{version})" in reasons
        assert f"100 points: badge Regular completed (rule regular, program v{version})" in reasons
        assert reasons.count(f"10 points: social_follow (rule follow, program v{version})") == 1

        badges = await club.badges()
        regular = badges["regular"]
        assert (regular["current"], regular["target"]) == (3, 3)
        assert datetime.fromisoformat(regular["completed_at"]) == paid[2]
        critic = badges["critic"]
        assert (critic["current"], critic["target"], critic["completed_at"]) == (1, 3, None)

        # Two other members; Nima does not opt in.
        await club.join(SARA, "Sara", "Karimi")
        await club.join(NIMA, "Nima", "Ahmadi")
        assert await club.earned("review", "sara-review-1", customer_id=SARA) == 20
        for customer in (CUSTOMER, SARA):
            r = await club.client.put(
                f"/api/v1/members/{customer}/leaderboard", json={"opt_in": True},
                headers=club.shop.auth,
            )  # fmt: skip
            assert r.status_code == 200, r.text
        r = await club.client.get("/api/v1/leaderboard", headers=club.shop.auth)
        assert r.status_code == 200, r.text
        board = r.json()
        assert board["window"] == "month"
        assert [(e["rank"], e["display_name"], e["points"]) for e in board["entries"]] == [
            (1, "B.N. ··51", 295),
            (2, "S.K. ··67", 45),
        ]
        for private in ("Bob", "Norman", "Sara", "Karimi", "@"):
            assert private not in r.text
        assert CUSTOMER not in r.text

        async with club.state.db.read() as session:
            assert await verify_shop(session, club.shop.shop_id) == []

    async def test_replaying_every_webhook_awards_nothing_twice(self, club: Club) -> None:
        await club.publish(GAMIFIED)
        await club.join()
        now = datetime.now(UTC).replace(microsecond=0)
        for i in range(3):
            await club.order(9100 + i, now - timedelta(days=3 - i), "10.00")
        assert await club.available() == 25 + 30 + 100
        requeued = await replay(
            club.state.db, shop_id=club.shop.shop_id, event_ids=[], status="processed"
        )
        assert requeued == 4
        await club.state.worker.drain()
        assert await club.available() == 25 + 30 + 100
        async with club.state.db.read() as session:
            assert await verify_shop(session, club.shop.shop_id) == []
