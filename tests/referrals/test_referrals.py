"""Referrals end to end: a member's code reaches a friend, the friend's first paid order
arrives as a signed webhook carrying it, and both are rewarded once the order is past the hold
period, as the program's referral rule says."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import httpx
import structlog

from app.ledger.verify import verify_shop
from app.orm import utcnow
from app.state import AppState
from tests.conftest import ShopifyShop, WooShop, make_woo_shop
from tests.payloads import shopify_refund
from tests.referrals.scenario import LEILA, NEDA, OMID, REZA, SARA, Club, shopify, woo

HOLD = timedelta(days=14)
ADVOCATE_LINE = (
    "500 points: referred customer 2002, whose first order is #2 (rule friends, program v2)"
)
FRIEND_LINE = "200 points: first order #2, referred by customer 1001 (rule friends, program v2)"


async def _club(client: httpx.AsyncClient, state: AppState, shop: ShopifyShop | WooShop) -> Club:
    """The program in force, and Sara, a member with an order of her own, holding her code."""
    club = Club(client, state, shop)
    await club.program()
    first = (
        shopify(1, SARA, club.at(minutes=1))
        if isinstance(shop, ShopifyShop)
        else woo(1, SARA, club.at(minutes=1))
    )
    await club.deliver("orders/paid" if isinstance(shop, ShopifyShop) else "order.updated",
                       first, club.at(minutes=2))  # fmt: skip
    return club


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)


class TestCodeAndLink:
    async def test_a_member_keeps_one_code_and_the_link_carries_it(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        club = await _club(client, state, shopify_shop)
        r = await client.get("/api/v1/members/1001/referral", headers=shopify_shop.auth)
        assert r.status_code == 200, r.text
        body = r.json()
        code = body["code"]
        assert code.startswith("REF-")
        assert len(code) == 15
        assert body["link"] == f"https://vafa-test.myshopify.com/?vafa_ref={code}"
        assert await club.code(SARA) == code  # the same code every time
        await club.deliver("orders/paid", shopify(5, REZA, club.at(minutes=3)), club.at(minutes=4))
        assert await club.code(REZA) != code

    async def test_a_woocommerce_link_is_the_store_url_with_the_code(
        self, client: httpx.AsyncClient, state: AppState
    ) -> None:
        shop = await make_woo_shop(state, url="https://shop.example.ir")
        club = await _club(client, state, shop)
        code = await club.code(SARA)
        r = await client.get("/api/v1/members/1001/referral", headers=shop.auth)
        assert r.json()["link"] == f"https://shop.example.ir/?vafa_ref={code}"

    async def test_an_unknown_member_has_no_code(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        r = await client.get("/api/v1/members/777/referral", headers=shopify_shop.auth)
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "member_not_found"


class TestRewardedAfterTheHold:
    async def test_the_code_used_as_a_discount_code_on_shopify(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        club = await _club(client, state, shopify_shop)
        code = await club.code(SARA)
        paid = club.at(hours=1)
        order = shopify(2, REZA, paid, codes=("NOWRUZ", code.lower()))  # stores lower-case them
        await club.deliver("orders/paid", order, club.at(hours=2))
        referral = await club.only_referral()
        assert (referral["status"], referral["via"], referral["code"]) == (
            "pending",
            "discount_code",
            code,
        )
        assert (referral["advocate_id"], referral["friend_id"], referral["order_id"]) == (
            "1001",
            "2002",
            "2",
        )
        assert _time(referral["release_at"]) == paid + HOLD

        await club.tick(paid + HOLD - timedelta(seconds=1))
        assert (await club.only_referral())["status"] == "pending"
        assert await club.rewards(SARA) == await club.rewards(REZA) == []

        await club.tick(paid + HOLD)
        referral = await club.only_referral()
        assert referral["status"] == "rewarded"
        assert _time(referral["rewarded_at"]) == paid + HOLD
        assert await club.rewards(SARA) == [(500, ADVOCATE_LINE)]
        assert await club.rewards(REZA) == [(200, FRIEND_LINE)]
        async with state.db.read() as session:
            assert await verify_shop(session, shopify_shop.shop_id) == []

    async def test_the_code_as_a_note_attribute_on_shopify(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        club = await _club(client, state, shopify_shop)
        code = await club.code(SARA)
        paid = club.at(hours=1)
        await club.deliver("orders/paid", shopify(2, REZA, paid, attribute=code), club.at(hours=2))
        assert (await club.only_referral())["via"] == "attribute"
        await club.tick(paid + HOLD)
        assert (await club.only_referral())["status"] == "rewarded"
        assert await club.rewards(SARA) == [(500, ADVOCATE_LINE)]
        assert await club.rewards(REZA) == [(200, FRIEND_LINE)]

    async def test_the_code_in_meta_data_on_woocommerce(
        self, client: httpx.AsyncClient, state: AppState, woo_shop: WooShop
    ) -> None:
        club = await _club(client, state, woo_shop)
        code = await club.code(SARA)
        paid = club.at(hours=1)
        await club.deliver("order.updated", woo(2, REZA, paid, attribute=code), club.at(hours=2))
        referral = await club.only_referral()
        assert (referral["status"], referral["via"]) == ("pending", "attribute")
        await club.tick(paid + HOLD)
        assert (await club.only_referral())["status"] == "rewarded"
        assert await club.rewards(SARA) == [(500, ADVOCATE_LINE)]
        assert await club.rewards(REZA) == [(200, FRIEND_LINE)]

    async def test_no_hold_rewards_when_the_order_arrives(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        club = Club(client, state, shopify_shop)
        await club.program(hold_days=0, friend_points=None)
        await club.deliver("orders/paid", shopify(1, SARA, club.at(minutes=1)), club.at(minutes=2))
        code = await club.code(SARA)
        await club.deliver("orders/paid", shopify(2, REZA, club.at(hours=1), attribute=code),
                           club.at(hours=1))  # fmt: skip
        assert (await club.only_referral())["status"] == "rewarded"
        assert [p for p, _ in await club.rewards(SARA)] == [500]
        assert await club.rewards(REZA) == []  # the rule rewards the advocate only

    async def test_a_reward_the_rule_names_is_granted_free_of_points(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        r = await client.post(
            "/api/v1/rewards",
            json={"name": "10 off", "kind": "amount_off", "points_cost": 1000, "value": 1000},
            headers=shopify_shop.auth,
        )
        assert r.status_code == 201, r.text
        reward_id = r.json()["id"]
        club = Club(client, state, shopify_shop)
        await club.program(hold_days=0, friend_points=None, friend_reward_id=reward_id)
        await club.deliver("orders/paid", shopify(1, SARA, club.at(minutes=1)), club.at(minutes=2))
        code = await club.code(SARA)
        await club.deliver("orders/paid", shopify(2, REZA, club.at(hours=1), attribute=code),
                           club.at(hours=1))  # fmt: skip
        r = await client.get("/api/v1/members/2002/redemptions", headers=shopify_shop.auth)
        [redemption] = r.json()["redemptions"]
        assert (redemption["reward_id"], redemption["points"]) == (reward_id, 0)
        assert [p for p, _ in await club.rewards(SARA)] == [500]

    async def test_a_reward_deactivated_since_is_reported_and_the_points_still_paid(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        r = await client.post(
            "/api/v1/rewards",
            json={"name": "10 off", "kind": "amount_off", "points_cost": 1000, "value": 1000},
            headers=shopify_shop.auth,
        )
        reward_id = r.json()["id"]
        club = Club(client, state, shopify_shop)
        await club.program(advocate_reward_id=reward_id)
        await club.deliver("orders/paid", shopify(1, SARA, club.at(minutes=1)), club.at(minutes=2))
        paid = club.at(hours=1)
        code = await club.code(SARA)
        order = shopify(2, REZA, paid, attribute=code)
        await club.deliver("orders/paid", order, club.at(hours=2))
        r = await client.patch(
            f"/api/v1/rewards/{reward_id}", json={"active": False}, headers=shopify_shop.auth
        )
        assert r.status_code == 200, r.text
        await club.tick(paid + HOLD)
        referral = await club.only_referral()
        assert referral["status"] == "rewarded"
        assert referral["failure"] == f"advocate: reward {reward_id} is not active"
        assert [p for p, _ in await club.rewards(SARA)] == [500]
        assert [p for p, _ in await club.rewards(REZA)] == [200]

    async def test_a_code_no_member_holds_is_no_referral(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        club = await _club(client, state, shopify_shop)
        code = await club.code(SARA)
        guessed = code[:-1] + ("A" if code[-1] != "A" else "B")
        order = shopify(2, REZA, club.at(hours=1), attribute=guessed, codes=("REF-AAAAA-AAAAA",))
        await club.deliver("orders/paid", order, club.at(hours=1))
        assert await club.referrals() == []

    async def test_a_code_without_a_referral_rule_in_force_is_no_referral(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        club = await _club(client, state, shopify_shop)
        code = await club.code(SARA)
        before = club.t0 - timedelta(seconds=1)  # paid under version 1, which has no referrals
        await club.deliver(
            "orders/paid", shopify(2, REZA, before, attribute=code), club.at(hours=1)
        )
        assert await club.referrals() == []


class TestNoRewardWhenTheOrderIsUndone:
    async def test_a_refund_before_the_hold_ends_voids_the_referral(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        club = await _club(client, state, shopify_shop)
        code = await club.code(SARA)
        paid = club.at(hours=1)
        await club.deliver("orders/paid", shopify(2, REZA, paid, attribute=code), club.at(hours=2))
        refund = shopify_refund(90, 2, merchandise="30.00", created_at=club.at(days=3).isoformat())
        await club.deliver("refunds/create", refund, club.at(days=3))
        referral = await club.only_referral()
        assert (referral["status"], referral["note"]) == (
            "void",
            "the order was refunded before its hold period ended",
        )
        await club.tick(paid + HOLD)
        assert (await club.only_referral())["status"] == "void"
        assert await club.rewards(SARA) == await club.rewards(REZA) == []

    async def test_a_cancellation_before_the_hold_ends_voids_the_referral(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        club = await _club(client, state, shopify_shop)
        code = await club.code(SARA)
        paid = club.at(hours=1)
        await club.deliver("orders/paid", shopify(2, REZA, paid, codes=(code,)), club.at(hours=2))
        cancelled = shopify(2, REZA, paid, codes=(code,), updated_at=club.at(days=1),
                            cancelled_at=club.at(days=1))  # fmt: skip
        await club.deliver("orders/cancelled", cancelled, club.at(days=1))
        assert (await club.only_referral())["status"] == "void"
        await club.tick(paid + HOLD)
        assert await club.rewards(SARA) == await club.rewards(REZA) == []

    async def test_a_woocommerce_order_cancelled_within_the_hold_voids_the_referral(
        self, client: httpx.AsyncClient, state: AppState, woo_shop: WooShop
    ) -> None:
        club = await _club(client, state, woo_shop)
        code = await club.code(SARA)
        paid = club.at(hours=1)
        await club.deliver("order.updated", woo(2, REZA, paid, attribute=code), club.at(hours=2))
        cancelled = woo(2, REZA, paid, attribute=code, status="cancelled")
        cancelled["date_modified_gmt"] = club.at(days=2).replace(tzinfo=None).isoformat()
        await club.deliver("order.updated", cancelled, club.at(days=2))
        referral = await club.only_referral()
        assert (referral["status"], referral["note"]) == (
            "void",
            "the order was cancelled before its hold period ended",
        )
        await club.tick(paid + HOLD)
        assert await club.rewards(SARA) == await club.rewards(REZA) == []

    async def test_a_refund_after_the_reward_takes_nothing_back(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        club = await _club(client, state, shopify_shop)
        code = await club.code(SARA)
        paid = club.at(hours=1)
        await club.deliver("orders/paid", shopify(2, REZA, paid, attribute=code), club.at(hours=2))
        await club.tick(paid + HOLD)
        refund = shopify_refund(
            91, 2, merchandise="100.00", created_at=club.at(days=20).isoformat()
        )
        await club.deliver("refunds/create", refund, club.at(days=20))
        assert (await club.only_referral())["status"] == "rewarded"
        assert await club.rewards(SARA) == [(500, ADVOCATE_LINE)]


class TestFraudChecks:
    async def test_a_member_using_their_own_code_is_rejected(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        club = Club(client, state, shopify_shop)
        await club.program()
        # Sara becomes a member by a customer profile, then pays her first order with her code.
        await club.deliver(
            "orders/create",
            shopify(1, SARA, club.at(minutes=1), financial_status="pending"),
            club.at(minutes=1),
        )
        code = await club.code(SARA)
        await club.deliver(
            "orders/paid",
            shopify(1, SARA, club.at(minutes=5), codes=(code,), updated_at=club.at(minutes=5)),
            club.at(minutes=6),
        )
        referral = await club.only_referral()
        assert (referral["status"], referral["flags"]) == ("rejected", ["self_referral"])
        assert referral["note"] == "the advocate used their own referral code"
        await club.tick(club.at(days=30))
        assert await club.rewards(SARA) == []

    async def test_the_same_email_written_otherwise_is_held_for_review(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        club = Club(client, state, shopify_shop)
        await club.program()
        gmail = "sara.karimi@gmail.com"
        await club.deliver("orders/paid", shopify(1, SARA, club.at(minutes=1), email=gmail),
                           club.at(minutes=2))  # fmt: skip
        code = await club.code(SARA)
        # Another customer account, the same inbox: case, dots and a +tag do not make it new.
        other = "Sara.Karimi+club@GoogleMail.com"
        await club.deliver("orders/paid", shopify(2, REZA, club.at(hours=1), attribute=code,
                                                 email=other), club.at(hours=2))  # fmt: skip
        referral = await club.only_referral()
        assert (referral["status"], referral["flags"]) == ("review", ["same_email"])
        assert [r["id"] for r in await club.referrals("review")] == [referral["id"]]
        await club.tick(club.at(days=30))  # held: the hold period's end pays nothing
        assert (await club.only_referral())["status"] == "review"
        assert await club.rewards(SARA) == []

    async def test_the_same_phone_in_another_format_is_held_for_review(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        club = await _club(client, state, shopify_shop)
        code = await club.code(SARA)
        order = shopify(2, REZA, club.at(hours=1), attribute=code, phone="0912-000-0001")
        await club.deliver("orders/paid", order, club.at(hours=2))
        referral = await club.only_referral()
        assert (referral["status"], referral["flags"]) == ("review", ["same_phone"])

    async def test_the_same_address_in_other_case_and_punctuation_is_held_for_review(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        club = await _club(client, state, shopify_shop)
        code = await club.code(SARA)
        order = shopify(2, REZA, club.at(hours=1), attribute=code, street="12, VALI-ASR street")
        await club.deliver("orders/paid", order, club.at(hours=2))
        referral = await club.only_referral()
        assert (referral["status"], referral["flags"]) == ("review", ["same_address"])

    async def test_a_disposable_email_is_held_for_review(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        club = await _club(client, state, shopify_shop)
        code = await club.code(SARA)
        order = shopify(2, REZA, club.at(hours=1), attribute=code, email="r1@eu.mailinator.com")
        await club.deliver("orders/paid", order, club.at(hours=2))
        referral = await club.only_referral()
        assert (referral["status"], referral["flags"]) == ("review", ["disposable_email"])

    async def test_more_referrals_in_a_day_than_the_rule_allows_are_held_for_review(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        club = Club(client, state, shopify_shop)
        await club.program(max_per_advocate_per_day=2)
        # 00:30 on a day in Tehran (UTC+3:30) is still the day before in UTC.
        day = datetime.fromisoformat("2027-01-10T00:30:00+03:30")
        await club.deliver("orders/paid", shopify(1, SARA, club.at(minutes=1)), club.at(minutes=2))
        code = await club.code(SARA)
        friends = [
            (2, REZA, day),
            (3, NEDA, day + timedelta(hours=20)),
            (4, OMID, day + timedelta(hours=23)),
            (5, LEILA, day + timedelta(hours=24)),
        ]
        for order_id, friend, paid in friends:
            await club.deliver("orders/paid", shopify(order_id, friend, paid, attribute=code),
                               paid + timedelta(minutes=1))  # fmt: skip
        by_friend = {r["friend_id"]: (r["status"], r["flags"]) for r in await club.referrals()}
        assert by_friend == {
            "2002": ("pending", []),
            "3003": ("pending", []),
            "4004": ("review", ["velocity"]),  # the third that day
            "5005": ("pending", []),  # the next day in Tehran
        }

    async def test_referrals_beyond_the_rules_cap_are_no_referrals(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        club = Club(client, state, shopify_shop)
        await club.program(max_per_member=2)
        await club.deliver("orders/paid", shopify(1, SARA, club.at(minutes=1)), club.at(minutes=2))
        code = await club.code(SARA)
        for order_id, friend in ((2, REZA), (3, NEDA), (4, OMID)):
            paid = club.at(days=order_id)
            order = shopify(order_id, friend, paid, attribute=code)
            await club.deliver("orders/paid", order, paid)
        by_friend = {r["friend_id"]: (r["status"], r["flags"]) for r in await club.referrals()}
        assert by_friend == {
            "2002": ("pending", []),
            "3003": ("pending", []),
            "4004": ("rejected", ["cap_reached"]),
        }

    async def test_a_friend_who_had_paid_before_is_no_referral(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        club = await _club(client, state, shopify_shop)
        code = await club.code(SARA)
        await club.deliver("orders/paid", shopify(2, REZA, club.at(hours=1)), club.at(hours=1))
        await club.deliver("orders/paid", shopify(3, REZA, club.at(hours=5), attribute=code),
                           club.at(hours=5))  # fmt: skip
        referral = await club.only_referral()
        assert (referral["status"], referral["flags"]) == ("rejected", ["not_first_order"])
        await club.tick(club.at(days=30))
        assert await club.rewards(SARA) == await club.rewards(REZA) == []

    async def test_an_earlier_order_delivered_late_stops_the_payout(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        club = await _club(client, state, shopify_shop)
        code = await club.code(SARA)
        await club.deliver("orders/paid", shopify(3, REZA, club.at(hours=5), attribute=code),
                           club.at(hours=5))  # fmt: skip
        assert (await club.only_referral())["status"] == "pending"
        # Reza's order of an hour before arrives a day late.
        await club.deliver("orders/paid", shopify(2, REZA, club.at(hours=4)), club.at(days=1))
        await club.tick(club.at(days=30))
        referral = await club.only_referral()
        assert (referral["status"], referral["flags"]) == ("rejected", ["not_first_order"])
        assert await club.rewards(SARA) == []

    async def test_an_order_below_the_rules_minimum_is_no_referral(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        club = Club(client, state, shopify_shop)
        await club.program(min_order_minor=5000)
        await club.deliver("orders/paid", shopify(1, SARA, club.at(minutes=1)), club.at(minutes=2))
        code = await club.code(SARA)
        order = shopify(2, REZA, club.at(hours=1), attribute=code, merchandise="49.99")
        await club.deliver("orders/paid", order, club.at(hours=1))
        referral = await club.only_referral()
        assert (referral["status"], referral["flags"]) == ("rejected", ["below_minimum"])


class TestReview:
    async def _held(self, club: Club, paid: datetime | None = None) -> dict[str, object]:
        code = await club.code(SARA)
        paid = paid or club.at(hours=1)
        order = shopify(2, REZA, paid, attribute=code, phone="00989120000001")
        await club.deliver("orders/paid", order, club.at(hours=2))
        referral = await club.only_referral()
        assert referral["status"] == "review"
        return referral

    async def test_approved_after_the_hold_pays_both_at_once(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        # The API decides at the real time: an order paid when the program began, no hold.
        club = Club(client, state, shopify_shop)
        await club.program(hold_days=0)
        await club.deliver("orders/paid", shopify(1, SARA, club.t0), club.t0)
        held = await self._held(club, paid=club.t0)
        await club.tick(club.at(days=20))
        await asyncio.sleep(max((club.t0 - utcnow()).total_seconds(), 0) + 0.01)
        r = await client.post(f"/api/v1/referrals/{held['id']}/approve", headers=shopify_shop.auth)
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["approved"]) == ("rewarded", True)
        assert await club.rewards(SARA) == [(500, ADVOCATE_LINE)]
        assert await club.rewards(REZA) == [(200, FRIEND_LINE)]
        again = await client.post(
            f"/api/v1/referrals/{held['id']}/approve", headers=shopify_shop.auth
        )
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "referral_decided"
        assert await club.rewards(SARA) == [(500, ADVOCATE_LINE)]

    async def test_approved_within_the_hold_pays_when_it_ends(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        club = await _club(client, state, shopify_shop)
        held = await self._held(club)
        r = await client.post(f"/api/v1/referrals/{held['id']}/approve", headers=shopify_shop.auth)
        assert r.json()["status"] == "pending"
        assert await club.rewards(SARA) == []
        await club.tick(club.at(hours=1) + HOLD)
        referral = await club.only_referral()
        assert (referral["status"], referral["flags"]) == ("rewarded", ["same_phone"])
        assert await club.rewards(REZA) == [(200, FRIEND_LINE)]

    async def test_rejected_records_why_and_pays_nothing(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        club = await _club(client, state, shopify_shop)
        held = await self._held(club)
        r = await client.post(
            f"/api/v1/referrals/{held['id']}/reject",
            json={"reason": "same household, one person"},
            headers=shopify_shop.auth,
        )
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["note"]) == ("rejected", "same household, one person")
        await club.tick(club.at(days=30))
        assert await club.referrals("review") == []
        assert await club.rewards(SARA) == await club.rewards(REZA) == []
        approve = await client.post(
            f"/api/v1/referrals/{held['id']}/approve", headers=shopify_shop.auth
        )
        assert approve.status_code == 409

    async def test_a_rejection_needs_a_reason_and_an_existing_referral(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        club = await _club(client, state, shopify_shop)
        held = await self._held(club)
        r = await client.post(
            f"/api/v1/referrals/{held['id']}/reject", json={}, headers=shopify_shop.auth
        )
        assert r.status_code == 422
        assert r.json()["error"]["code"] == "validation_error"
        r = await client.post(
            "/api/v1/referrals/999/reject", json={"reason": "no"}, headers=shopify_shop.auth
        )
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "referral_not_found"
        r = await client.get(
            "/api/v1/referrals", params={"status": "odd"}, headers=shopify_shop.auth
        )
        assert r.status_code == 422


class TestOnce:
    async def test_redelivered_webhooks_and_repeated_ticks_reward_once(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        club = await _club(client, state, shopify_shop)
        code = await club.code(SARA)
        paid = club.at(hours=1)
        order = shopify(2, REZA, paid, attribute=code)
        await club.deliver("orders/paid", order, club.at(hours=2), event_id="paid-2")
        await club.deliver("orders/paid", order, club.at(hours=3), event_id="paid-2")  # duplicate
        await club.deliver("orders/updated", order, club.at(hours=4))  # same order, new event
        assert len(await club.referrals()) == 1
        await club.tick(paid + HOLD)
        await club.tick(paid + HOLD + timedelta(hours=1))
        await club.deliver("orders/updated", order, paid + HOLD + timedelta(hours=2))
        await club.deliver("orders/fulfilled", order, paid + HOLD + timedelta(hours=3))
        assert [r["status"] for r in await club.referrals()] == ["rewarded"]
        assert await club.rewards(SARA) == [(500, ADVOCATE_LINE)]
        assert await club.rewards(REZA) == [(200, FRIEND_LINE)]

    async def test_a_second_code_order_of_a_referred_friend_is_not_another_referral(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        club = await _club(client, state, shopify_shop)
        code = await club.code(SARA)
        await club.deliver("orders/paid", shopify(2, REZA, club.at(hours=1), attribute=code),
                           club.at(hours=1))  # fmt: skip
        await club.deliver("orders/paid", shopify(3, REZA, club.at(hours=2), attribute=code),
                           club.at(hours=2))  # fmt: skip
        assert [r["order_id"] for r in await club.referrals()] == ["2"]


async def test_no_contact_detail_reaches_a_log_line(
    client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
) -> None:
    with structlog.testing.capture_logs() as logs:
        club = await _club(client, state, shopify_shop)
        code = await club.code(SARA)
        await club.deliver("orders/paid", shopify(2, REZA, club.at(hours=1), attribute=code,
                                                 phone=SARA.phone), club.at(hours=2))  # fmt: skip
        await club.tick(club.at(days=30))
    text = repr(logs)
    for person in (SARA, REZA):
        for detail in (person.email, person.phone, person.street, person.phone.replace(" ", "")):
            assert detail not in text
