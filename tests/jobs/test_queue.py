"""The job queue: retries, parking, coalescing, backoff, the per-shop pause, leases."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from app.jobs import service as jobs
from app.jobs import worker
from app.jobs.kinds import JobContext, JobKinds
from app.jobs.models import Job, JobStatus
from app.jobs.queue import RetryPolicy
from app.jobs.runner import Runner
from app.shops.models import Shop
from app.state import AppState, build_runner
from tests.conftest import ShopifyShop, make_shopify_shop
from tests.logcapture import EMAIL, CapturedLog, fail_with_email

T0 = datetime.now(UTC) + timedelta(days=1)  # a runner's clock: every job enqueued is due


class Recorder:
    """A job kind's handler that fails its first ``failures`` calls, then records payloads."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.calls: list[dict[str, Any]] = []
        self.done: list[dict[str, Any]] = []

    async def __call__(self, ctx: JobContext, payload: Mapping[str, Any]) -> None:
        self.calls.append(dict(payload))
        if len(self.calls) <= self.failures:
            raise RuntimeError(f"platform unavailable (call {len(self.calls)})")
        self.done.append(dict(payload))


def runner(state: AppState, **handlers: Any) -> Runner:
    kinds = JobKinds()
    for kind, handler in handlers.items():
        kinds.register(kind, handler)
    return build_runner(state.db, state.shops, state.settings, kinds)


async def enqueue(state: AppState, shop_id: int, kind: str, payload: dict[str, Any],
                  key: str | None = None) -> int:  # fmt: skip
    async with state.db.write() as session:
        return await jobs.enqueue(session, shop_id, kind, payload, key=key)


async def job(state: AppState, job_id: int) -> Job:
    async with state.db.read() as session:
        found = await session.get(Job, job_id)
    assert found is not None
    return found


async def set_shop_status(state: AppState, shop_id: int, status: str) -> None:
    async with state.db.write() as session:
        await session.execute(update(Shop).where(Shop.id == shop_id).values(status=status))
    state.shops.forget()


class TestRetries:
    async def test_a_kind_that_fails_twice_then_succeeds_runs_three_times_and_completes_once(
        self, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        flaky = Recorder(failures=2)
        job_id = await enqueue(state, shopify_shop.shop_id, "sync", {"n": 1})
        assert await runner(state, sync=flaky).drain() == 3
        assert flaky.calls == [{"n": 1}] * 3
        assert flaky.done == [{"n": 1}]
        finished = await job(state, job_id)
        assert finished.status == JobStatus.DONE
        assert finished.attempts == 3
        assert finished.last_error is None
        assert finished.finished_at is not None

    async def test_a_job_that_keeps_failing_is_parked_with_its_error(
        self, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        broken = Recorder(failures=100)
        job_id = await enqueue(state, shopify_shop.shop_id, "sync", {})
        await runner(state, sync=broken).drain()
        parked = await job(state, job_id)
        assert len(broken.calls) == state.settings.worker_max_attempts
        assert parked.status == JobStatus.FAILED
        assert parked.attempts == state.settings.worker_max_attempts
        assert parked.last_error == "RuntimeError: platform unavailable (call 8)"

        async with state.db.write() as session:
            assert await jobs.retry(session, kind="sync") == 1
        broken.failures = 0
        await runner(state, sync=broken).drain()
        assert (await job(state, job_id)).status == JobStatus.DONE

    async def test_a_runner_claims_only_the_kinds_it_knows(
        self, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        job_id = await enqueue(state, shopify_shop.shop_id, "newer-kind", {})
        assert await runner(state, sync=Recorder()).drain() == 0
        waiting = await job(state, job_id)
        assert (waiting.status, waiting.attempts) == (JobStatus.PENDING, 0)


class TestConcurrentRunners:
    async def test_two_runners_on_one_queue_run_every_job_exactly_once(
        self, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        for n in range(30):
            await enqueue(state, shopify_shop.shop_id, "sync", {"n": n})
        ran: list[int] = []

        async def record(ctx: JobContext, payload: Mapping[str, Any]) -> None:
            await asyncio.sleep(0)  # let the other runner claim meanwhile
            ran.append(payload["n"])

        settings = state.settings.model_copy(update={"jobs_batch_size": 4})
        kinds = JobKinds()
        kinds.register("sync", record)
        runners = [build_runner(state.db, state.shops, settings, kinds) for _ in range(2)]
        await asyncio.gather(*(r.drain() for r in runners))
        assert sorted(ran) == list(range(30))


class TestCoalescing:
    async def test_enqueueing_a_pending_key_keeps_one_job_with_the_latest_payload(
        self, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        ids = [
            await enqueue(state, shopify_shop.shop_id, "balance", {"points": p}, key="cust-7")
            for p in (10, 25, 40)
        ]
        assert len(set(ids)) == 1
        other = await enqueue(state, shopify_shop.shop_id, "balance", {"points": 5}, key="cust-8")
        writes = Recorder()
        await runner(state, balance=writes).drain()
        assert sorted(p["points"] for p in writes.done) == [5, 40]
        assert other != ids[0]

    async def test_a_key_enqueued_while_its_job_runs_runs_again_with_the_latest_payload(
        self, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        seen: list[int] = []

        async def write_balance(ctx: JobContext, payload: Mapping[str, Any]) -> None:
            seen.append(payload["points"])
            if len(seen) == 1:  # a new balance arrives while the first write is under way
                await enqueue(state, ctx.shop.shop_id, "balance", {"points": 99}, key="cust-7")

        job_id = await enqueue(state, shopify_shop.shop_id, "balance", {"points": 1}, key="cust-7")
        await runner(state, balance=write_balance).drain()
        assert seen == [1, 99]
        assert (await job(state, job_id)).status == JobStatus.DONE

    async def test_a_key_whose_job_is_done_or_parked_is_restarted_with_the_new_payload(
        self, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        writes = Recorder()
        first = await enqueue(state, shopify_shop.shop_id, "balance", {"points": 1}, key="c")
        await runner(state, balance=writes).drain()
        again = await enqueue(state, shopify_shop.shop_id, "balance", {"points": 2}, key="c")
        assert again == first
        restarted = await job(state, first)
        assert (restarted.status, restarted.attempts, restarted.finished_at) == (
            JobStatus.PENDING, 0, None)  # fmt: skip
        await runner(state, balance=writes).drain()
        assert writes.done == [{"points": 1}, {"points": 2}]

        await runner(state, balance=Recorder(failures=100)).drain()  # nothing is due
        await enqueue(state, shopify_shop.shop_id, "balance", {"points": 3}, key="c")
        await runner(state, balance=Recorder(failures=100)).drain()
        assert (await job(state, first)).status == JobStatus.FAILED
        await enqueue(state, shopify_shop.shop_id, "balance", {"points": 4}, key="c")
        restarted = await job(state, first)
        assert (restarted.status, restarted.attempts, restarted.last_error) == (
            JobStatus.PENDING, 0, None)  # fmt: skip
        await runner(state, balance=writes).drain()
        assert writes.done[-1] == {"points": 4}

    async def test_enqueueing_a_waiting_key_with_the_same_payload_gives_its_id(
        self, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        first = await enqueue(state, shopify_shop.shop_id, "balance", {"points": 1}, key="c")
        again = await enqueue(state, shopify_shop.shop_id, "balance", {"points": 1}, key="c")
        assert again == first
        assert (await job(state, first)).status == JobStatus.PENDING

    async def test_enqueueing_many_keys_at_once_coalesces_each_as_enqueue_does(
        self, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        shop_id = shopify_shop.shop_id
        done = await enqueue(state, shop_id, "balance", {"points": 1}, key="done")
        await runner(state, balance=Recorder()).drain()
        parked = await enqueue(state, shop_id, "balance", {"points": 1}, key="parked")
        await runner(state, balance=Recorder(failures=100)).drain()
        pending = await enqueue(state, shop_id, "other", {"points": 1}, key="pending")
        async with state.db.write() as session:
            many = {key: {"points": 2} for key in ("done", "parked", "new-a", "new-b")}
            await jobs.enqueue_many(session, shop_id, "balance", many)
            await jobs.enqueue_many(session, shop_id, "other", {"pending": {"points": 2}})
        async with state.db.read() as session:
            rows = (await session.scalars(select(Job).order_by(Job.dedupe_key))).all()
        found = {row.dedupe_key: (row.id, row.status, row.attempts, row.payload) for row in rows}
        assert found == {
            "done": (done, JobStatus.PENDING, 0, {"points": 2}),
            "parked": (parked, JobStatus.PENDING, 0, {"points": 2}),
            "pending": (pending, JobStatus.PENDING, 0, {"points": 2}),
            "new-a": (found["new-a"][0], JobStatus.PENDING, 0, {"points": 2}),
            "new-b": (found["new-b"][0], JobStatus.PENDING, 0, {"points": 2}),
        }

    async def test_the_same_key_in_two_shops_is_two_jobs(
        self, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        other = await make_shopify_shop(state, domain="other.myshopify.com")
        a = await enqueue(state, shopify_shop.shop_id, "balance", {"points": 1}, key="c")
        b = await enqueue(state, other.shop_id, "balance", {"points": 2}, key="c")
        assert a != b

    async def test_an_enqueue_rolled_back_with_its_transaction_leaves_no_job(
        self, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        async def work_that_fails() -> None:
            async with state.db.write() as session:
                await jobs.enqueue(session, shopify_shop.shop_id, "balance", {}, key="c")
                raise RuntimeError("the caller's work failed")

        with pytest.raises(RuntimeError):
            await work_that_fails()
        async with state.db.read() as session:
            assert (await session.scalars(select(Job))).all() == []


class TestBackoff:
    def test_the_delay_doubles_per_attempt_up_to_the_cap(self) -> None:
        longest = RetryPolicy(max_attempts=30, base_seconds=2, cap_seconds=600, rand=lambda: 0.0)
        assert [longest.delay(n).total_seconds() for n in range(1, 12)] == [
            2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600]  # fmt: skip
        assert longest.delay(10_000).total_seconds() == 600

    def test_jitter_takes_up_to_its_share_off_the_delay(self) -> None:
        shortest = RetryPolicy(max_attempts=30, base_seconds=2, cap_seconds=600, rand=lambda: 1.0)
        assert shortest.delay(3).total_seconds() == 4  # 8 less half of it
        assert shortest.delay(20).total_seconds() == 300
        policy = RetryPolicy(max_attempts=30, base_seconds=2, cap_seconds=600)
        delays = {policy.delay(5).total_seconds() for _ in range(50)}
        assert all(16 <= d <= 32 for d in delays)
        assert len(delays) > 1  # spread out, not in lockstep

    async def test_a_failing_job_waits_longer_after_each_attempt(
        self, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        settings = state.settings.model_copy(
            update={"worker_backoff_base_seconds": 10.0, "worker_backoff_max_seconds": 30.0}
        )
        kinds = JobKinds()
        kinds.register("sync", Recorder(failures=100))
        worker = build_runner(state.db, state.shops, settings, kinds)
        job_id = await enqueue(state, shopify_shop.shop_id, "sync", {})
        waits = []
        now = T0
        for _ in range(4):
            assert await worker.run_once(now) == 1
            assert await worker.run_once(now) == 0  # not due again yet
            due = (await job(state, job_id)).run_after
            waits.append((due - now).total_seconds())
            now = due
        assert 5 <= waits[0] <= 10
        assert 10 <= waits[1] <= 20
        assert 15 <= waits[2] <= 30
        assert 15 <= waits[3] <= 30  # capped


class TestShopPause:
    async def test_an_inactive_shops_jobs_wait_without_burning_attempts(
        self, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        other = await make_shopify_shop(state, domain="other.myshopify.com")
        paused = await enqueue(state, shopify_shop.shop_id, "sync", {"shop": "paused"})
        running = await enqueue(state, other.shop_id, "sync", {"shop": "active"})
        await set_shop_status(state, shopify_shop.shop_id, "paused")
        recorder = Recorder()
        assert await runner(state, sync=recorder).drain() == 1
        assert recorder.done == [{"shop": "active"}]
        waiting = await job(state, paused)
        assert (waiting.status, waiting.attempts) == (JobStatus.PENDING, 0)
        assert (await job(state, running)).status == JobStatus.DONE

        await set_shop_status(state, shopify_shop.shop_id, "active")
        assert await runner(state, sync=recorder).drain() == 1
        assert (await job(state, paused)).status == JobStatus.DONE


class TestLease:
    async def test_a_job_whose_runner_died_is_taken_over_when_its_lease_runs_out(
        self, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        started = asyncio.Event()

        async def hangs(ctx: JobContext, payload: Mapping[str, Any]) -> None:
            started.set()
            await asyncio.Event().wait()

        job_id = await enqueue(state, shopify_shop.shop_id, "sync", {})
        dying = asyncio.create_task(runner(state, sync=hangs).run_once(T0))
        await asyncio.wait_for(started.wait(), 10)
        dying.cancel()  # the runner is killed mid-job
        with pytest.raises(asyncio.CancelledError):
            await dying
        assert (await job(state, job_id)).status == JobStatus.RUNNING

        recorder = Recorder()
        assert await runner(state, sync=recorder).run_once(T0) == 0  # still leased
        lease = timedelta(seconds=state.settings.jobs_lease_seconds)
        assert await runner(state, sync=recorder).run_once(T0 + lease) == 1
        done = await job(state, job_id)
        assert (done.status, done.attempts) == (JobStatus.DONE, 2)

    async def test_a_job_whose_runner_died_in_its_last_attempt_is_parked(
        self, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        job_id = await enqueue(state, shopify_shop.shop_id, "sync", {})
        async with state.db.write() as session:  # as a runner that died in attempt 8 left it
            await session.execute(
                update(Job)
                .where(Job.id == job_id)
                .values(status=JobStatus.RUNNING, attempts=8, run_after=T0)
            )
        recorder = Recorder()
        await runner(state, sync=recorder).drain(T0)
        parked = await job(state, job_id)
        assert recorder.calls == []
        assert parked.status == JobStatus.FAILED
        assert parked.last_error is not None
        assert "lease ran out" in parked.last_error


class TestPersonalDataInErrors:
    async def test_a_failing_jobs_email_never_reaches_last_error_or_the_log(
        self, state: AppState, shopify_shop: ShopifyShop, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        captured = CapturedLog()
        monkeypatch.setattr(worker, "log", captured.logger)

        async def update_customer(ctx: JobContext, payload: Mapping[str, Any]) -> None:
            async with ctx.db.write() as session:
                await fail_with_email(session, ctx.shop.shop_id, payload["email"])

        job_id = await enqueue(state, shopify_shop.shop_id, "customer", {"email": EMAIL})
        await runner(state, customer=update_customer).drain()
        parked = await job(state, job_id)
        assert parked.status == JobStatus.FAILED
        assert parked.last_error is not None
        assert parked.last_error.startswith(("DBAPIError", "IntegrityError"))
        assert EMAIL not in parked.last_error
        assert "job parked" in captured.events[-1]
        assert str(job_id) in captured.events[-1]
        assert EMAIL not in captured.text


class TestConcurrency:
    async def test_the_jobs_of_a_batch_wait_on_their_stores_at_the_same_time(
        self, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        # Each job waits until three are waiting at once: run one after another, the first
        # would time out and fail.
        together = asyncio.Barrier(3)
        done: list[int] = []

        async def call_store(ctx: JobContext, payload: Mapping[str, Any]) -> None:
            await asyncio.wait_for(together.wait(), 5)
            done.append(int(payload["n"]))

        ids = [await enqueue(state, shopify_shop.shop_id, "call", {"n": n}) for n in range(3)]
        await runner(state, call=call_store).drain(T0)
        assert sorted(done) == [0, 1, 2]
        assert [(await job(state, i)).attempts for i in ids] == [1, 1, 1]
