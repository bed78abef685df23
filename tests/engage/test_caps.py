"""Caps per member and per calendar period (in the shop's time zone), time frames at their
edges, and the version in force when the event happened."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from app.program.document import ProgramDocument
from tests.engage.conftest import TEHRAN, Club


def _program(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"timezone": "Asia/Tehran", "rules": list(rules)}


REVIEW = {"key": "review", "type": "event", "event": "review", "points": 20, "max_per_member": 5}
SURVEY = {"key": "survey", "type": "event", "event": "survey", "points": 30,
          "max_per_period": {"unit": "month", "count": 1}}  # fmt: skip


class TestPerMember:
    async def test_the_fifth_review_earns_and_the_sixth_does_not(self, club: Club) -> None:
        await club.publish(_program(REVIEW))
        await club.join()
        earned = [await club.earned("review", f"review-{i}") for i in range(1, 7)]
        assert earned == [20, 20, 20, 20, 20, 0]
        assert await club.available() == 100
        r = await club.event("review", "review-7")
        (rule,) = r.json()["rules"]
        assert rule["status"] == "capped"
        assert "5 times at most" in rule["message"]

    async def test_a_profile_is_completed_once(self, club: Club) -> None:
        await club.publish(_program(
            {"key": "profile", "type": "event", "event": "profile_completed", "points": 50}
        ))  # fmt: skip
        await club.join()
        assert [await club.earned("profile_completed", k) for k in ("p1", "p2")] == [50, 0]

    def test_an_uncapped_self_reported_rule_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="social_share is self-reported"):
            ProgramDocument.model_validate(_program(
                {"key": "share", "type": "event", "event": "social_share", "points": 5}
            ))  # fmt: skip


class TestPerPeriod:
    async def test_a_monthly_cap_resets_at_local_midnight_of_the_first_in_tehran(
        self, club: Club
    ) -> None:
        await club.publish(_program(SURVEY))
        await club.join()
        first = datetime.now(TEHRAN).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        midnight = first.astimezone(UTC)
        assert (midnight.hour, midnight.minute) == (20, 30)  # the day before, in UTC
        second = timedelta(seconds=1)
        assert await club.earned("survey", "last-month", midnight - second) == 30
        assert await club.earned("survey", "last-month-2", midnight - 2 * second) == 0
        assert await club.earned("survey", "this-month", midnight) == 30
        r = await club.event("survey", "this-month-2", midnight + second)
        assert r.json()["points"] == 0
        (rule,) = r.json()["rules"]
        assert rule["status"] == "capped"
        assert f"month from {first.date().isoformat()} (Asia/Tehran)" in rule["message"]
        assert await club.available() == 60


class TestTimeFrame:
    async def test_a_rule_applies_from_its_start_included_to_its_end_excluded(
        self, club: Club
    ) -> None:
        now = datetime.now(UTC).replace(microsecond=0)
        starts, ends = now - timedelta(days=10), now - timedelta(days=5)
        await club.publish(_program({
            "key": "quiz", "type": "event", "event": "quiz", "points": 15,
            "starts_at": starts.isoformat(), "ends_at": ends.isoformat(),
        }))  # fmt: skip
        await club.join()
        tick = timedelta(microseconds=1)
        at = {"before": starts - tick, "start": starts, "last": ends - tick, "end": ends}
        earned = {name: await club.earned("quiz", name, when) for name, when in at.items()}
        assert earned == {"before": 0, "start": 15, "last": 15, "end": 0}
        r = await club.event("quiz", "end")
        assert r.json()["rules"][0]["status"] == "outside_frame"


class TestVersions:
    async def test_an_event_is_judged_by_the_version_in_force_when_it_happened(
        self, club: Club
    ) -> None:
        await club.publish(_program(REVIEW))
        now = datetime.now(UTC)
        changed = now - timedelta(days=1)
        v3 = await club.publish(_program({**REVIEW, "points": 40}), effective_at=changed)
        await club.join()
        assert await club.earned("review", "old", changed - timedelta(hours=1)) == 20
        assert await club.earned("review", "new", changed) == 40
        r = await club.event("review", "new")
        assert r.json()["program_version"] == v3
        assert f"40 points: review (rule review, program v{v3})" in await club.reasons()


class TestConcurrency:
    async def test_concurrent_events_never_pass_a_cap_nor_record_a_key_twice(
        self, club: Club
    ) -> None:
        await club.publish(_program(REVIEW))
        await club.join()
        answers = await asyncio.gather(
            *(club.event("review", f"review-{i}") for i in range(8)),
            *(club.event("review", "same") for _ in range(4)),
        )
        assert all(r.status_code in (200, 201) for r in answers), [r.text for r in answers]
        assert sum(r.json()["points"] for r in answers[:8]) <= 100
        same = {r.json()["id"] for r in answers[8:]}
        assert len(same) == 1
        assert sum(r.status_code == 201 for r in answers[8:]) == 1
        assert await club.available() == 100  # 5 reviews of 9 keys earned
