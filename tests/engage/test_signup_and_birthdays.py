"""Joining the club (customers/create, customer.created, or the signup event) earns the
signup rule once per member; the birthday rule is granted on the member's birthday in the
shop's time zone, once a year (29 February: on the 28th in other years)."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

import httpx
import pytest

from app.state import AppState
from tests.conftest import WooShop, fixture_json
from tests.engage.conftest import CUSTOMER, TEHRAN, Club
from tests.payloads import dumps

SIGNUP = {"rules": [{"key": "welcome", "type": "signup", "points": 25}]}
BIRTHDAY: dict[str, Any] = {
    "timezone": "Asia/Tehran",
    "rules": [{"key": "birthday", "type": "birthday", "points": 100}],
}


class TestSignup:
    async def test_customers_create_earns_once_even_delivered_again(self, club: Club) -> None:
        await club.publish(SIGNUP)
        await club.join()
        await club.join()  # delivered again (another event id)
        assert await club.available() == 25
        r = await club.event("signup", "joined")  # the same joining, told by the shop
        assert r.json()["points"] == 0
        assert r.json()["rules"][0]["status"] == "capped"
        assert await club.available() == 25

    async def test_customers_update_is_not_joining(self, club: Club) -> None:
        await club.publish(SIGNUP)
        await club.join(topic="customers/update")
        assert await club.available() == 0
        assert await club.earned("signup", "joined") == 25  # the shop says when they joined
        await club.join()
        assert await club.available() == 25

    async def test_woocommerce_customer_created_earns_it_too(
        self, client: httpx.AsyncClient, state: AppState, woo_shop: WooShop
    ) -> None:
        club = Club(client, state, woo_shop)  # type: ignore[arg-type]
        await club.publish(SIGNUP)
        body = dumps(fixture_json("woocommerce/customer.json"))
        r = await client.post(
            woo_shop.webhook_url, content=body, headers=woo_shop.headers(body, "customer.created")
        )
        assert r.status_code == 200
        await state.worker.drain()
        assert await club.available("25") == 25


def _local(*args: int) -> datetime:
    return datetime(*args, tzinfo=TEHRAN)  # type: ignore[misc]


class TestBirthday:
    async def _birthday(self, club: Club, birthday: str, customer: str = CUSTOMER) -> None:
        r = await club.client.put(
            f"/api/v1/members/{customer}/profile", json={"birthday": birthday},
            headers=club.shop.auth,
        )  # fmt: skip
        assert r.status_code == 200, r.text

    async def _tick(self, club: Club, local: datetime) -> int:
        counts = await club.state.worker.run_scheduled(local)
        return counts["birthdays"]

    async def test_granted_on_the_local_day_once_a_year(self, club: Club) -> None:
        version = await club.publish(BIRTHDAY)
        await club.join()
        await self._birthday(club, "1990-05-17")  # only month and day are kept
        ticks = [
            _local(2026, 5, 16, 23, 59, 59),  # the eve, in Tehran (already the 17th in +04:00)
            _local(2026, 5, 17, 0, 0),
            _local(2026, 5, 17, 23, 0),
            _local(2026, 5, 18, 0, 0),
            _local(2027, 5, 17, 9, 0),
        ]
        assert [await self._tick(club, t) for t in ticks] == [0, 1, 0, 0, 1]
        assert await club.available() == 200
        reasons = await club.reasons()
        assert f"100 points: birthday 2026 (rule birthday, program v{version})" in reasons
        assert f"100 points: birthday 2027 (rule birthday, program v{version})" in reasons

    async def test_29_february_is_celebrated_on_the_28th_in_other_years(self, club: Club) -> None:
        await club.publish(BIRTHDAY)
        await club.join()
        await self._birthday(club, "02-29")
        ticks = [
            _local(2027, 2, 28, 12, 0),
            _local(2027, 3, 1, 12, 0),
            _local(2028, 2, 28, 12, 0),  # 2028 has a 29th
            _local(2028, 2, 29, 12, 0),
        ]
        assert [await self._tick(club, t) for t in ticks] == [1, 0, 0, 1]

    async def test_the_platform_birthday_counts_unless_one_was_given(
        self, client: httpx.AsyncClient, state: AppState, woo_shop: WooShop
    ) -> None:
        club = Club(client, state, woo_shop)  # type: ignore[arg-type]
        await club.publish(BIRTHDAY)
        customer = copy.deepcopy(fixture_json("woocommerce/customer.json"))
        customer["meta_data"] = [{"id": 1, "key": "birthday", "value": "1990-03-08"}]
        body = dumps(customer)
        r = await client.post(
            woo_shop.webhook_url, content=body, headers=woo_shop.headers(body, "customer.created")
        )
        assert r.status_code == 200
        await state.worker.drain()
        assert await self._tick(club, _local(2026, 3, 8, 10, 0)) == 1
        await self._birthday(club, "04-01", customer="25")
        assert await self._tick(club, _local(2027, 3, 8, 10, 0)) == 0
        assert await self._tick(club, _local(2027, 4, 1, 10, 0)) == 1
        assert await club.available("25") == 200

    async def test_a_reward_birthday_grants_a_free_redemption(self, club: Club) -> None:
        r = await club.client.post(
            "/api/v1/rewards",
            json={"name": "Birthday 10%", "kind": "percent_off", "points_cost": 500,
                  "value": 10, "code_valid_days": 30, "active": True},
            headers=club.shop.auth,
        )  # fmt: skip
        assert r.status_code == 201, r.text
        reward_id = r.json()["id"]
        await club.publish({"timezone": "Asia/Tehran", "rules": [
            {"key": "birthday", "type": "birthday", "reward_id": reward_id}]})  # fmt: skip
        await club.join()
        await self._birthday(club, "05-17")
        assert await self._tick(club, _local(2026, 5, 17, 8, 0)) == 1
        assert await self._tick(club, _local(2026, 5, 17, 9, 0)) == 0
        r = await club.client.get(f"/api/v1/members/{CUSTOMER}/redemptions", headers=club.shop.auth)
        (granted,) = r.json()["redemptions"]
        assert (granted["reward_id"], granted["points"]) == (reward_id, 0)
        assert await club.available() == 0

    @pytest.mark.parametrize("birthday", ["02-30", "1991-02-29", "13-01", "5-17", "May 17"])
    async def test_an_impossible_birthday_is_a_422(self, club: Club, birthday: str) -> None:
        await club.join()
        r = await club.client.put(
            f"/api/v1/members/{CUSTOMER}/profile", json={"birthday": birthday},
            headers=club.shop.auth,
        )  # fmt: skip
        assert r.status_code == 422, r.text
        assert [d["field"] for d in r.json()["error"]["details"]] == ["body.birthday"]
