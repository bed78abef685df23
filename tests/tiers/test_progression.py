"""Bronze → silver → gold → platinum from signed webhooks: each upgrade at once, recorded in
the tier history with its program version, shown on the member document with the progress to
the next tier, and written back to the store without any points moving."""

from __future__ import annotations

from datetime import timedelta

from app.tiers import service
from tests.tiers.helpers import CUSTOMER, Club, program, utc


class TestUpgrades:
    async def test_points_earned_climb_every_level_at_once(self, club: Club) -> None:
        version = await club.publish(program(basis="points_earned", window="lifetime"))
        await club.paid(1001, "50.00", "2026-02-01T10:00:00Z")
        member = await club.member()
        assert (member["tier"], member["points"]["lifetime_earned"]) == ("bronze", 50)
        assert member["tier_progress"] == {
            "basis": "points_earned", "window": "lifetime", "qualifying": 50,
            "next_tier": "silver", "needed": 50, "window_ends_at": None, "tier_until": None,
        }  # fmt: skip
        await club.paid(1002, "60.00", "2026-02-02T10:00:00Z")
        assert await club.tier() == "silver"  # 110 points
        await club.paid(1003, "400.00", "2026-02-03T10:00:00Z")
        assert await club.tier() == "gold"  # 510 points
        await club.paid(1004, "489.99", "2026-02-04T10:00:00Z")
        member = await club.member()
        assert member["tier"] == "gold"  # 999 points: one short
        assert member["tier_progress"]["needed"] == 1
        await club.paid(1005, "1.00", "2026-02-05T10:00:00Z")
        member = await club.member()
        assert member["tier"] == "platinum"
        assert member["tier_progress"]["next_tier"] is None
        assert member["tier_progress"]["needed"] is None
        assert await club.history() == [
            (None, "bronze", "qualified"),
            ("bronze", "silver", "qualified"),
            ("silver", "gold", "qualified"),
            ("gold", "platinum", "qualified"),
        ]
        r = await club.client.get(
            f"/api/v1/members/{CUSTOMER}/tier-history?limit=1", headers=club.shop.auth
        )
        [newest] = r.json()["changes"]
        assert (newest["from"], newest["to"]) == ("gold", "platinum")
        assert newest["program_version"] == version
        assert r.json()["next_before_id"] == newest["id"]

    async def test_an_order_delivered_twice_changes_the_tier_once(self, club: Club) -> None:
        await club.publish(program())
        order = await club.paid(1001, "150.00", "2026-02-01T10:00:00Z")
        await club.deliver("orders/paid", order)
        await club.process(utc("2026-02-01T11:00:00Z"))
        assert await club.history() == [(None, "silver", "qualified")]

    async def test_money_spent_qualifies_net_of_refunds(self, club: Club) -> None:
        # Thresholds in minor units: silver at 1.00, gold at 5.00 ... of merchandise.
        await club.publish(program(basis="amount_spent", on_refund="downgrade_now"))
        await club.paid(1001, "4.99", "2026-02-01T10:00:00Z")
        assert await club.tier() == "silver"
        await club.paid(1002, "0.01", "2026-02-02T10:00:00Z")
        assert await club.tier() == "gold"
        await club.refund(501, 1002, "0.01", "2026-02-03T10:00:00Z")
        assert await club.tier() == "silver"
        assert (await club.member())["tier_progress"]["qualifying"] == 499

    async def test_a_member_with_no_order_yet_has_the_first_level(self, club: Club) -> None:
        await club.publish(program())
        async with club.state.db.write() as session:
            tiers = await service.tier_of(session, club.shop.shop_id, ["nobody"])
        assert tiers == {"nobody": "bronze"}


class TestWithoutTiers:
    async def test_the_default_program_has_no_tier_and_no_progress(self, club: Club) -> None:
        await club.paid(1001, "150.00", "2026-02-01T10:00:00Z")
        member = await club.member()
        assert (member["tier"], member["tier_progress"]) == (None, None)
        assert await club.history() == []
        async with club.state.db.write() as session:
            assert await service.tier_of(session, club.shop.shop_id, [CUSTOMER]) == {CUSTOMER: None}


class TestWriteBack:
    async def test_every_tier_change_enqueues_the_write_back(self, club: Club) -> None:
        await club.publish(program(window="calendar_year"))
        await club.paid(1001, "150.00", "2025-06-01T10:00:00Z")
        [job] = await club.writebacks()
        assert job.dedupe_key == f"member:{CUSTOMER}"
        # Done, as the worker would; the downgrade at the end of 2026 moves no points.
        async with club.state.db.write() as session:
            await session.delete(await session.get(type(job), job.id))
        assert await club.review(utc("2027-01-01T00:00:00Z") + timedelta(seconds=1)) == 1
        assert await club.tier() == "bronze"
        [job] = await club.writebacks()
        assert job.payload == {"customer_id": CUSTOMER}


class TestTierHistory:
    async def test_an_unknown_member_is_404(self, club: Club) -> None:
        r = await club.client.get("/api/v1/members/nobody/tier-history", headers=club.shop.auth)
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "member_not_found"

    async def test_the_history_and_the_progress_are_documented(self, club: Club) -> None:
        spec = (await club.client.get("/openapi.json")).json()
        assert "/api/v1/members/{customer_id}/tier-history" in spec["paths"]
        member = spec["components"]["schemas"]["MemberOut"]["properties"]
        assert "tier_progress" in member

    async def test_another_shops_member_is_not_reachable(self, club: Club) -> None:
        from tests.conftest import make_shopify_shop

        await club.publish(program())
        await club.paid(1001, "150.00", "2026-02-01T10:00:00Z")
        other = await make_shopify_shop(club.state, domain="other.myshopify.com")
        r = await club.client.get(f"/api/v1/members/{CUSTOMER}/tier-history", headers=other.auth)
        assert r.status_code == 404
