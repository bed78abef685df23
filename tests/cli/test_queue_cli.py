"""``vafa jobs list|retry`` and ``vafa events list|replay`` as an operator uses them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

from app.cli import cli
from app.config import Settings
from app.jobs import service as jobs
from app.jobs.kinds import JobContext, JobKinds
from app.state import AppState, build_runner
from tests.cli.test_cli import _add_shopify, _fresh, _sql, runner
from tests.conftest import SECRET_KEY


def _work(database_url: str, handler: Any, shop_id: int | None = None) -> int | None:
    """Enqueue a ``sync`` job for ``shop_id`` (if given), then run every due job with
    ``handler``, as a worker process would; the job's id."""

    async def go() -> int | None:
        settings = Settings(database_url=database_url, secret_key=SECRET_KEY,
                            worker_backoff_base_seconds=0.0, worker_max_attempts=3)  # fmt: skip
        state = AppState.build(settings)
        job_id = None
        try:
            if shop_id is not None:
                async with state.db.write() as session:
                    job_id = await jobs.enqueue(session, shop_id, "sync", {"customer": "7"})
            kinds = JobKinds()
            kinds.register("sync", handler)
            await build_runner(state.db, state.shops, settings, kinds).drain()
        finally:
            await state.db.dispose()
        return job_id

    return asyncio.run(go())


class TestJobsCommands:
    def test_a_parked_job_is_listed_and_retried_by_vafa_jobs_retry(self, env: str) -> None:
        _fresh(env)
        shop_id = json.loads(_add_shopify("shop-j.myshopify.com").stdout)["shop_id"]
        runs: list[str] = []

        async def platform_down(ctx: JobContext, payload: Mapping[str, Any]) -> None:
            runs.append("down")
            raise ConnectionError("the platform is unreachable")

        job_id = _work(env, platform_down, shop_id)
        assert runs == ["down"] * 3

        listed = runner.invoke(cli, ["jobs", "list", "--status", "failed"])
        assert listed.exit_code == 0, listed.output
        assert f"│ {job_id} " in listed.output
        assert "unreachable" in listed.output  # the table may fold the error over lines
        retried = runner.invoke(cli, ["jobs", "retry", "--id", str(job_id)])
        assert retried.exit_code == 0, retried.output
        assert "queued 1 job(s) again" in retried.output
        assert _sql(env, "SELECT status, attempts FROM jobs") == [("pending", 0)]

        async def platform_up(ctx: JobContext, payload: Mapping[str, Any]) -> None:
            runs.append(f"up {payload['customer']}")

        _work(env, platform_up)
        assert runs[-1] == "up 7"
        assert _sql(env, "SELECT status, attempts FROM jobs") == [("done", 1)]
        again = runner.invoke(cli, ["jobs", "retry", "--shop", str(shop_id)])
        assert "queued 0 job(s) again" in again.output  # nothing is parked any more

    def test_an_unknown_status_is_refused_with_the_valid_ones(self, env: str) -> None:
        result = runner.invoke(cli, ["jobs", "list", "--status", "stuck"])
        assert result.exit_code == 2
        assert "'stuck' is not one of" in result.output
        assert "failed" in result.output


class TestEventsStatuses:
    def test_rejected_events_are_listed_and_replayed(self, env: str) -> None:
        _fresh(env)
        shop_id = json.loads(_add_shopify("shop-r.myshopify.com").stdout)["shop_id"]
        body = "'not json'" if env.startswith("sqlite") else "'not json'::bytea"
        _sql(
            env,
            "INSERT INTO webhook_events (shop_id, topic, dedupe_key, status, body, headers, "
            f"received_at, attempts, last_error) VALUES ({shop_id}, 'orders/paid', 'k1', "
            f"'rejected', {body}, '{{}}', '2026-11-24 10:00:00', 0, 'the body is not JSON')",
        )
        listed = runner.invoke(cli, ["events", "list", "--status", "rejected"])
        assert listed.exit_code == 0, listed.output
        assert "not JSON" in listed.output
        replayed = runner.invoke(cli, ["events", "replay", "--status", "rejected"])
        assert replayed.exit_code == 0, replayed.output
        assert "queued 1 event(s) again" in replayed.output
        assert _sql(env, "SELECT status FROM webhook_events") == [("pending",)]
        processed = runner.invoke(cli, ["events", "process"])
        assert processed.exit_code == 0, processed.output
        # The parser still cannot read it: rejected again, with the reason.
        assert _sql(env, "SELECT status FROM webhook_events") == [("rejected",)]

    def test_an_unknown_status_is_refused(self, env: str) -> None:
        for command in (["events", "list"], ["events", "replay"]):
            result = runner.invoke(cli, [*command, "--status", "rejectd"])
            assert result.exit_code == 2, command
            assert "'rejectd' is not one of" in result.output
            assert "rejected" in result.output
