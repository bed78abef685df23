"""POST /api/v1/members/{id}/events: recorded once per idempotency key, an unknown type
recorded for nothing, and every bad request refused with the field it is about."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from app.engage.models import MemberEvent
from tests.engage.conftest import CUSTOMER, Club

PROGRAM = {"rules": [{"key": "review", "type": "event", "event": "review", "points": 20}]}


@pytest.fixture
async def member(club: Club) -> Club:
    await club.publish(PROGRAM)
    await club.join()
    return club


async def _events(club: Club) -> int:
    async with club.state.db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(MemberEvent)) or 0)


class TestIdempotency:
    async def test_the_same_key_again_answers_the_same_and_earns_nothing_more(
        self, member: Club
    ) -> None:
        first = await member.event("review", "review-8812")
        assert first.status_code == 201, first.text
        again = await member.event("review", "review-8812")
        assert again.status_code == 200
        assert again.json() == {**first.json(), "created": False}
        assert await member.available() == 20
        assert await _events(member) == 1

    async def test_the_same_key_for_another_event_is_a_conflict(self, member: Club) -> None:
        when = datetime.now(UTC) - timedelta(hours=1)
        assert (await member.event("review", "k", when)).status_code == 201
        for kind, at in (("survey", when), ("review", when - timedelta(minutes=1))):
            r = await member.event(kind, "k", at)
            assert r.status_code == 409
            assert r.json()["error"]["code"] == "idempotency_conflict"
        assert await member.available() == 20

    async def test_keys_are_per_member(self, member: Club) -> None:
        await member.join("5551234567", "Sara", "Karimi")
        assert await member.earned("review", "k") == 20
        assert await member.earned("review", "k", customer_id="5551234567") == 20


class TestUnknownType:
    async def test_a_type_no_rule_awards_is_recorded_for_0_points_and_says_so(
        self, member: Club
    ) -> None:
        r = await member.event("unboxing_video", "u1")
        assert r.status_code == 201, r.text
        body = r.json()
        assert (body["points"], body["rules"]) == (0, [])
        assert "no rule of program v2 awards 'unboxing_video' events" in body["message"]
        assert await _events(member) == 1
        assert await member.available() == 0


class TestRefused:
    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"idempotency_key": "k"}, "body.type"),
            ({"type": "Review!", "idempotency_key": "k"}, "body.type"),
            ({"type": "review"}, "body.idempotency_key"),
            ({"type": "review", "idempotency_key": ""}, "body.idempotency_key"),
            ({"type": "review", "idempotency_key": "k" * 151}, "body.idempotency_key"),
            ({"type": "review", "idempotency_key": "a\x00b"}, "body.idempotency_key"),
            ({"type": "review", "idempotency_key": "k", "occurred_at": "2026-11-30T10:00:00"},
             "body.occurred_at"),
            ({"type": "review", "idempotency_key": "k", "occurred_at": "yesterday"},
             "body.occurred_at"),
            ({"type": "review", "idempotency_key": "k", "points": 1000}, "body.points"),
        ],
    )  # fmt: skip
    async def test_a_malformed_body_is_a_422_naming_the_field(
        self, member: Club, body: dict[str, Any], field: str
    ) -> None:
        r = await member.client.post(
            f"/api/v1/members/{CUSTOMER}/events", json=body, headers=member.shop.auth
        )
        assert r.status_code == 422, r.text
        error = r.json()["error"]
        assert error["code"] == "validation_error"
        assert field in [d["field"] for d in error["details"]]
        assert await _events(member) == 0

    @pytest.mark.parametrize(
        ("shift", "says"),
        [(timedelta(minutes=10), "is in the future"), (timedelta(days=-400), "366 days ago")],
    )
    async def test_a_time_in_the_future_or_long_ago_is_a_422(
        self, member: Club, shift: timedelta, says: str
    ) -> None:
        r = await member.event("review", "k", datetime.now(UTC) + shift)
        assert r.status_code == 422, r.text
        message = r.json()["error"]["message"]
        assert message.startswith("body.occurred_at: ")
        assert says in message
        assert await _events(member) == 0

    async def test_a_little_clock_skew_is_accepted(self, member: Club) -> None:
        r = await member.event("review", "k", datetime.now(UTC) + timedelta(minutes=2))
        assert r.status_code == 201, r.text

    async def test_an_unknown_member_is_a_404(self, member: Club) -> None:
        for r in (
            await member.event("review", "k", customer_id="999"),
            await member.client.get("/api/v1/members/999/badges", headers=member.shop.auth),
            await member.client.put("/api/v1/members/999/profile", json={"birthday": "05-17"},
                                    headers=member.shop.auth),
            await member.client.put("/api/v1/members/999/leaderboard", json={"opt_in": True},
                                    headers=member.shop.auth),
        ):  # fmt: skip
            assert r.status_code == 404, r.text
            assert r.json()["error"]["code"] == "member_not_found"
        assert await _events(member) == 0

    async def test_no_key_no_access(self, member: Club) -> None:
        r = await member.client.post(
            f"/api/v1/members/{CUSTOMER}/events", json={"type": "review", "idempotency_key": "k"}
        )
        assert r.status_code == 401
        assert await _events(member) == 0
