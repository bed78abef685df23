"""A referral pays no one held out of the club: a member who refers a holdout customer is paid,
the holdout friend is not (and the referral says why)."""

from __future__ import annotations

import httpx

from app.state import AppState
from tests.conftest import ShopifyShop
from tests.holdout.conftest import customers, hold_out
from tests.referrals.scenario import Club, Person, shopify


async def test_a_holdout_friend_gets_no_referral_reward_and_the_member_who_referred_does(
    client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
) -> None:
    await hold_out(client, shopify_shop.auth, "50")
    (advocate_id,) = customers(5000, held_out=False)
    (friend_id,) = customers(5000, held_out=True)
    advocate = Person(int(advocate_id), "sara.k@example.com", "+98 912 000 0001", "12 Vali Asr")
    friend = Person(int(friend_id), "reza.m@example.org", "+98 935 000 0002", "7 Enghelab")
    club = Club(client, state, shopify_shop)
    await club.program(hold_days=0)
    await club.deliver("orders/paid", shopify(1, advocate, club.at(minutes=1)), club.at(minutes=2))
    code = await club.code(advocate)
    await club.deliver("orders/paid", shopify(2, friend, club.at(hours=1), attribute=code),
                       club.at(hours=1))  # fmt: skip
    referral = await club.only_referral()
    assert referral["status"] == "rewarded"
    assert [points for points, _ in await club.rewards(advocate)] == [500]
    assert await club.rewards(friend) == []
    assert referral["failure"] == "friend: in the holdout, not paid"
