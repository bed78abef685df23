"""Redeeming points for a code on the store, two-phase, against the fake stores over HTTP."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import func, select, update

from app.jobs.models import Job, JobStatus
from app.ledger.models import Hold, LedgerTransaction, TxKind
from app.orm import utcnow
from app.rewards import tasks
from app.rewards.models import Redemption
from app.state import AppState
from app.sync.writeback import BALANCE_WRITE
from tests.fakes.shopify import FakeShopify
from tests.fakes.woocommerce import FakeWooCommerce
from tests.rewards.conftest import (
    StoreShop,
    add_reward,
    balance,
    give_points,
    ledger_differences,
    redeem,
    redemption,
    shopify_store_shop,
)


async def _create_code_jobs(state: AppState, shop_id: int) -> int:
    """The shop's create-code jobs (adding a shop queues a webhook sync of its own)."""
    async with state.db.read() as session:
        found = await session.scalar(
            select(func.count())
            .select_from(Job)
            .where(Job.shop_id == shop_id, Job.kind == tasks.CREATE_CODE)
        )
    return int(found or 0)


async def _count(state: AppState, shop_id: int, model: Any) -> int:
    async with state.db.read() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(model).where(model.shop_id == shop_id)
            )  # fmt: skip
            or 0
        )


class TestRedeemOnShopify:
    async def test_the_code_is_made_on_the_store_and_the_points_spent_once(
        self, client: httpx.AsyncClient, state: AppState, on_shopify: StoreShop,
        fake_shopify: FakeShopify,
    ) -> None:  # fmt: skip
        reward_id = await add_reward(client, on_shopify, value=500, min_order_minor=2000)
        await give_points(client, on_shopify, 250)
        r = await redeem(client, on_shopify, reward_id)
        assert r.status_code == 202  # no worker ran within the (zero) wait
        pending = r.json()
        assert (pending["status"], pending["points"], pending["code"]) == ("pending", 100, None)
        held = await balance(state, on_shopify)
        assert (held.available, held.held) == (150, 100)

        await state.worker.drain()
        await state.worker.drain()  # a second run finds nothing to do

        issued = await redemption(client, on_shopify, pending["id"])
        assert issued["status"] == "issued"
        code = issued["code"]
        assert code.startswith("VAFA-")
        discount = fake_shopify.discount(code)
        assert discount is not None
        assert discount["customerGets"]["value"]["discountAmount"]["amount"] == "5.00"
        assert discount["customers"] == [f"gid://shopify/Customer/{on_shopify.customer_id}"]
        assert (discount["usageLimit"], discount["appliesOncePerCustomer"]) == (1, True)
        assert discount["minimumRequirement"] is not None
        ends = datetime.fromisoformat(discount["endsAt"].replace("Z", "+00:00"))
        assert datetime.fromisoformat(issued["expires_at"]) == ends
        starts = datetime.fromisoformat(discount["startsAt"].replace("Z", "+00:00"))
        assert ends - starts == timedelta(days=30)
        assert len(fake_shopify.graphql_requests("VafaDiscountBasicCreate")) == 1
        spent = await balance(state, on_shopify)
        assert (spent.available, spent.held) == (150, 0)
        async with state.db.read() as session:
            captures = await session.scalar(
                select(func.count()).where(
                    LedgerTransaction.shop_id == on_shopify.shop_id,
                    LedgerTransaction.kind == TxKind.CAPTURE,
                )
            )
        assert captures == 1
        assert await ledger_differences(state.db, on_shopify.shop_id) == []

    async def test_201_with_the_code_when_the_store_answers_within_the_wait(
        self, waiting_client: tuple[httpx.AsyncClient, AppState], on_shopify: StoreShop,
        fake_shopify: FakeShopify,
    ) -> None:  # fmt: skip
        client, _ = waiting_client
        reward_id = await add_reward(client, on_shopify, kind="percent_off", value=15)
        await give_points(client, on_shopify, 100)
        r = await redeem(client, on_shopify, reward_id)
        assert r.status_code == 201, r.text
        assert r.json()["status"] == "issued"
        discount = fake_shopify.discount(r.json()["code"])
        assert discount is not None
        assert discount["customerGets"]["value"]["percentage"] == 0.15

    async def test_the_same_idempotency_key_gives_the_same_redemption(
        self, client: httpx.AsyncClient, state: AppState, on_shopify: StoreShop
    ) -> None:
        reward_id = await add_reward(client, on_shopify)
        await give_points(client, on_shopify, 500)
        first = await redeem(client, on_shopify, reward_id, key="checkout-1")
        again = await redeem(client, on_shopify, reward_id, key="checkout-1")
        assert (first.status_code, again.status_code) == (202, 200)
        assert again.json() == first.json()
        assert (await balance(state, on_shopify)).held == 100
        other = await add_reward(client, on_shopify, name="other")
        conflict = await redeem(client, on_shopify, other, key="checkout-1")
        assert conflict.status_code == 409
        assert conflict.json()["error"]["code"] == "idempotency_conflict"

    async def test_too_few_points_is_409_and_nothing_is_held_or_created(
        self, client: httpx.AsyncClient, state: AppState, on_shopify: StoreShop
    ) -> None:
        reward_id = await add_reward(client, on_shopify, points_cost=300)
        await give_points(client, on_shopify, 299)
        r = await redeem(client, on_shopify, reward_id)
        assert r.status_code == 409
        assert r.json()["error"]["code"] == "insufficient_points"
        assert (await balance(state, on_shopify)).available == 299
        assert await _count(state, on_shopify.shop_id, Redemption) == 0
        assert await _count(state, on_shopify.shop_id, Hold) == 0
        assert await _create_code_jobs(state, on_shopify.shop_id) == 0

    async def test_store_5xx_twice_then_success_makes_one_code(
        self, client: httpx.AsyncClient, state: AppState, on_shopify: StoreShop,
        fake_shopify: FakeShopify,
    ) -> None:  # fmt: skip
        reward_id = await add_reward(client, on_shopify)
        await give_points(client, on_shopify, 100)
        r = await redeem(client, on_shopify, reward_id)
        fake_shopify.fail_next(2, status=503)
        await state.worker.drain()
        issued = await redemption(client, on_shopify, r.json()["id"])
        assert issued["status"] == "issued"
        assert len(fake_shopify.discounts) == 1
        assert (await balance(state, on_shopify)).available == 0

    async def test_a_store_failing_for_good_gives_the_points_back(
        self, client: httpx.AsyncClient, state: AppState, on_shopify: StoreShop,
        fake_shopify: FakeShopify,
    ) -> None:  # fmt: skip
        reward_id = await add_reward(client, on_shopify)
        await give_points(client, on_shopify, 100)
        r = await redeem(client, on_shopify, reward_id)
        fake_shopify.fail_next(50, status=502)
        await state.worker.drain()
        failed = await redemption(client, on_shopify, r.json()["id"])
        assert failed["status"] == "failed"
        assert "could not create the code" in failed["failure"]
        assert "502" in failed["failure"]
        assert failed["code"] is None
        after = await balance(state, on_shopify)
        assert (after.available, after.held) == (100, 0)
        assert fake_shopify.discounts == {}
        assert await ledger_differences(state.db, on_shopify.shop_id) == []

    async def test_a_code_the_store_refuses_is_failed_with_the_reason_at_once(
        self, client: httpx.AsyncClient, state: AppState, on_shopify: StoreShop,
        fake_shopify: FakeShopify,
    ) -> None:  # fmt: skip
        # A product the store does not have: Shopify answers with userErrors.
        reward_id = await add_reward(
            client, on_shopify, kind="free_product", value=None, product_id="999"
        )
        await give_points(client, on_shopify, 100)
        r = await redeem(client, on_shopify, reward_id)
        await state.worker.drain()
        failed = await redemption(client, on_shopify, r.json()["id"])
        assert failed["status"] == "failed"
        assert "refused" in failed["failure"]
        assert (await balance(state, on_shopify)).available == 100
        assert len(fake_shopify.graphql_requests("VafaDiscountBasicCreate")) == 1  # not retried

    async def test_a_worker_killed_after_the_store_made_the_code_finds_it_on_restart(
        self, client: httpx.AsyncClient, state: AppState, on_shopify: StoreShop,
        fake_shopify: FakeShopify, monkeypatch: Any,
    ) -> None:  # fmt: skip
        reward_id = await add_reward(client, on_shopify)
        await give_points(client, on_shopify, 100)
        r = await redeem(client, on_shopify, reward_id)

        real_issue = tasks.service.issue

        async def killed(*args: Any, **kwargs: Any) -> None:
            raise SystemError("the worker died before recording the code")

        monkeypatch.setattr(tasks.service, "issue", killed)
        await state.worker.run_once()
        assert len(fake_shopify.discounts) == 1  # the store made it
        assert (await redemption(client, on_shopify, r.json()["id"]))["status"] == "pending"

        monkeypatch.setattr(tasks.service, "issue", real_issue)
        await state.worker.drain()  # the restarted worker
        issued = await redemption(client, on_shopify, r.json()["id"])
        assert issued["status"] == "issued"
        assert len(fake_shopify.discounts) == 1
        assert list(fake_shopify.discounts) == [issued["code"]]
        assert (await balance(state, on_shopify)).available == 0

    async def test_a_throttled_store_is_not_asked_again_before_it_allows(
        self, client: httpx.AsyncClient, state: AppState, on_shopify: StoreShop,
        fake_shopify: FakeShopify,
    ) -> None:  # fmt: skip
        reward_id = await add_reward(client, on_shopify)
        await give_points(client, on_shopify, 100)
        r = await redeem(client, on_shopify, reward_id)
        later = utcnow() + timedelta(days=1)
        async with state.db.write() as session:  # the balance write-backs would take the 429
            await session.execute(  # if they fell due first (their delay is a second)
                update(Job).where(Job.kind == BALANCE_WRITE).values(run_after=later)
            )
        fake_shopify.fail_next(1, status=429, retry_after=60.0)
        await state.worker.drain()
        assert (await redemption(client, on_shopify, r.json()["id"]))["status"] == "pending"
        async with state.db.read() as session:
            job = await session.scalar(
                select(Job).where(Job.shop_id == on_shopify.shop_id, Job.kind == tasks.CREATE_CODE)
            )
        assert job is not None
        assert job.status == JobStatus.PENDING
        assert job.run_after - job.created_at >= timedelta(seconds=59)
        assert len(fake_shopify.graphql_requests()) == 1  # nothing asked since
        await state.worker.drain(now=job.run_after + timedelta(seconds=1))
        assert (await redemption(client, on_shopify, r.json()["id"]))["status"] == "issued"

    async def test_a_job_parked_after_its_runner_died_gives_the_points_back(
        self, client: httpx.AsyncClient, state: AppState, settings: Any, on_shopify: StoreShop,
        fake_shopify: FakeShopify,
    ) -> None:  # fmt: skip
        reward_id = await add_reward(client, on_shopify)
        await give_points(client, on_shopify, 100)
        r = await redeem(client, on_shopify, reward_id)
        async with state.db.write() as session:  # the last attempt's runner died mid-job
            await session.execute(
                update(Job).values(
                    status=JobStatus.RUNNING,
                    attempts=settings.worker_max_attempts,
                    run_after=utcnow() - timedelta(seconds=1),
                )
            )
        await state.worker.drain()
        async with state.db.read() as session:
            assert await session.scalar(select(Job.status)) == JobStatus.FAILED
        assert fake_shopify.discounts == {}
        done = await state.worker.run_scheduled()
        assert done["codes_expired"] == 1
        failed = await redemption(client, on_shopify, r.json()["id"])
        assert failed["status"] == "failed"
        assert "did not confirm the code in time" in failed["failure"]
        assert (await balance(state, on_shopify)).available == 100


class TestRedeemRequests:
    async def test_an_unknown_member_is_404(
        self, client: httpx.AsyncClient, on_shopify: StoreShop
    ) -> None:
        reward_id = await add_reward(client, on_shopify)
        r = await client.post(
            "/api/v1/members/nobody/redemptions",
            json={"reward_id": reward_id, "idempotency_key": "k"},
            headers=on_shopify.auth,
        )
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "member_not_found"

    async def test_points_for_a_fixed_price_reward_must_be_its_cost(
        self, client: httpx.AsyncClient, state: AppState, on_shopify: StoreShop
    ) -> None:
        reward_id = await add_reward(client, on_shopify, points_cost=100)
        await give_points(client, on_shopify, 500)
        r = await redeem(client, on_shopify, reward_id, points=200)
        assert r.status_code == 422
        assert "exactly 100 points" in r.json()["error"]["message"]
        assert (await balance(state, on_shopify)).held == 0

    async def test_redemptions_are_listed_newest_first(
        self, client: httpx.AsyncClient, on_shopify: StoreShop
    ) -> None:
        reward_id = await add_reward(client, on_shopify)
        await give_points(client, on_shopify, 500)
        ids = [(await redeem(client, on_shopify, reward_id, key=f"k{i}")).json()["id"]
               for i in range(3)]  # fmt: skip
        r = await client.get(
            f"/api/v1/members/{on_shopify.customer_id}/redemptions", headers=on_shopify.auth
        )
        assert [x["id"] for x in r.json()["redemptions"]] == ids[::-1]
        assert set(r.json()["redemptions"][0]) == {
            "id", "reward_id", "status", "points", "code", "expires_at", "failure",
        }  # fmt: skip

    async def test_an_amount_off_code_without_a_known_currency_fails_with_the_reason(
        self, client: httpx.AsyncClient, state: AppState, fake_shopify: FakeShopify
    ) -> None:
        shop = await shopify_store_shop(state, fake_shopify, {"currency": None})
        reward_id = await add_reward(client, shop, value=500)
        await give_points(client, shop, 100)
        r = await redeem(client, shop, reward_id)
        await state.worker.drain()
        failed = await redemption(client, shop, r.json()["id"])
        assert failed["status"] == "failed"
        assert "currency" in failed["failure"]
        assert (await balance(state, shop)).available == 100
        assert fake_shopify.discounts == {}


class TestRedeemOnWooCommerce:
    async def test_the_coupon_is_bound_to_the_members_email_read_from_the_store(
        self, client: httpx.AsyncClient, state: AppState, on_woo: StoreShop,
        woo_store: FakeWooCommerce,
    ) -> None:  # fmt: skip
        reward_id = await add_reward(
            client, on_woo, kind="points_to_money", points_cost=100, value=250,
            min_points=200, max_points=1000, code_valid_days=10,
        )  # fmt: skip
        await give_points(client, on_woo, 1000)
        odd = await redeem(client, on_woo, reward_id, key="odd", points=350)
        assert odd.status_code == 422
        r = await redeem(client, on_woo, reward_id, points=600)
        assert r.json()["points"] == 600
        await state.worker.drain()
        issued = await redemption(client, on_woo, r.json()["id"])
        assert issued["status"] == "issued"
        coupon = woo_store.coupon(issued["code"])
        assert coupon is not None
        assert coupon["code"] == issued["code"].lower()  # WooCommerce lower-cases codes
        assert (coupon["discount_type"], coupon["amount"]) == ("fixed_cart", "15.00")
        assert coupon["email_restrictions"] == ["sara@example.com"]
        assert coupon["usage_limit"] == 1
        assert coupon["date_expires_gmt"] is not None
        assert (await balance(state, on_woo)).available == 400


class TestConcurrentRedemptions:
    async def test_100_at_once_by_a_member_who_can_afford_7_make_exactly_7_codes(
        self, client: httpx.AsyncClient, state: AppState, on_shopify: StoreShop,
        fake_shopify: FakeShopify,
    ) -> None:  # fmt: skip
        reward_id = await add_reward(client, on_shopify, points_cost=100)
        await give_points(client, on_shopify, 750)
        seen: list[int] = []
        done = asyncio.Event()

        async def watch() -> None:  # the member's balance as other readers see it meanwhile
            while not done.is_set():
                seen.append((await balance(state, on_shopify)).available)
                await asyncio.sleep(0.01)

        watcher = asyncio.create_task(watch())
        answers = await asyncio.gather(
            *(redeem(client, on_shopify, reward_id, key=f"k{i}") for i in range(100))
        )
        done.set()
        await watcher
        assert seen
        assert min(seen) >= 0
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [202] * 7 + [409] * 93
        assert all(a.json()["error"]["code"] == "insufficient_points"
                   for a in answers if a.status_code == 409)  # fmt: skip
        mid = await balance(state, on_shopify)
        assert (mid.available, mid.held) == (50, 700)
        await state.worker.drain()
        assert len(fake_shopify.discounts) == 7
        end = await balance(state, on_shopify)
        assert (end.available, end.held) == (50, 0)
        assert await ledger_differences(state.db, on_shopify.shop_id) == []
