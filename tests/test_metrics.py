"""``GET /metrics``: the counts move as webhooks arrive, and the queue's state is read from the
database when scraped."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.jobs import service as jobs
from app.state import AppState
from tests.conftest import ShopifyShop, WooShop, fixture_bytes
from tests.payloads import dumps, woo_order
from tests.signing import shopify_headers

ORDER = fixture_bytes("shopify/orders-create.json")


async def _scrape(client: httpx.AsyncClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    r = await client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(r.text)
        for sample in family.samples
    }


def _webhooks(scraped: dict[tuple[str, frozenset[tuple[str, str]]], float], **labels: str) -> float:
    return scraped.get(("vafa_webhooks_total", frozenset(labels.items())), 0.0)


def _jobs(scraped: dict[tuple[str, frozenset[tuple[str, str]]], float]) -> dict[str, float]:
    return {
        dict(labels)["status"]: value
        for (name, labels), value in scraped.items()
        if name == "vafa_jobs"
    }


def _events(scraped: dict[tuple[str, frozenset[tuple[str, str]]], float], status: str) -> float:
    return scraped[("vafa_webhook_events", frozenset({("status", status)}))]


class TestWebhookCounts:
    async def test_counts_move_as_signed_webhooks_arrive(
        self, client: httpx.AsyncClient, shopify_shop: ShopifyShop
    ) -> None:
        paid = {"platform": "shopify", "topic": "orders/paid"}
        before = await _scrape(client)
        headers = shopify_shop.headers(ORDER, "orders/paid", event_id="m-1")
        for expected in ("accepted", "duplicate"):
            r = await client.post("/webhooks/shopify", content=ORDER, headers=headers)
            assert r.json() == {"status": expected}
        broken = b"{not json"
        r = await client.post(
            "/webhooks/shopify", content=broken, headers=shopify_shop.headers(broken, "orders/paid")
        )
        assert r.json() == {"status": "rejected"}
        unsigned = shopify_headers(
            ORDER, secret="guess", topic="orders/paid", domain=shopify_shop.domain
        )
        assert (await client.post("/webhooks/shopify", content=ORDER, headers=unsigned)).is_error
        after = await _scrape(client)
        for outcome in ("accepted", "duplicate", "rejected", "unauthorized"):
            moved = _webhooks(after, **paid, outcome=outcome) - _webhooks(
                before, **paid, outcome=outcome
            )
            assert moved == 1, outcome
        acks = ("vafa_webhook_ack_seconds_count", frozenset({("platform", "shopify")}))
        assert after[acks] - before.get(acks, 0.0) == 4

    async def test_a_body_over_the_limit_and_an_unknown_topic_are_counted(
        self, client: httpx.AsyncClient, woo_shop: WooShop
    ) -> None:
        before = await _scrape(client)
        huge = b"x" * (5 * 1024 * 1024 + 1)
        r = await client.post(
            woo_shop.webhook_url, content=huge, headers=woo_shop.headers(huge, "order.updated")
        )
        assert r.status_code == 413
        body = b'{"id": 1}'
        r = await client.post(
            woo_shop.webhook_url, content=body, headers=woo_shop.headers(body, f"made.up.{id(r)}")
        )
        assert r.json() == {"status": "ignored"}
        after = await _scrape(client)
        woo = {"platform": "woocommerce"}
        too_large = {**woo, "topic": "order.updated", "outcome": "too_large"}
        assert _webhooks(after, **too_large) - _webhooks(before, **too_large) == 1
        # A topic Vafa does not act on is not a series of its own: the header is not signed.
        ignored = {**woo, "topic": "other", "outcome": "ignored"}
        assert _webhooks(after, **ignored) - _webhooks(before, **ignored) == 1


class TestQueueGauges:
    async def test_pending_and_rejected_events_and_the_lag_follow_the_database(
        self, client: httpx.AsyncClient, state: AppState, woo_shop: WooShop
    ) -> None:
        empty = await _scrape(client)
        assert (_events(empty, "pending"), _events(empty, "rejected")) == (0, 0)
        assert empty[("vafa_queue_lag_seconds", frozenset())] == 0
        body = dumps(woo_order(723, refunds=[]))
        r = await client.post(
            woo_shop.webhook_url, content=body, headers=woo_shop.headers(body, "order.updated")
        )
        assert r.json() == {"status": "accepted"}
        bad = b"[]"
        r = await client.post(
            woo_shop.webhook_url, content=bad, headers=woo_shop.headers(bad, "order.updated")
        )
        assert r.json() == {"status": "rejected"}
        waiting = await _scrape(client)
        assert (_events(waiting, "pending"), _events(waiting, "rejected")) == (1, 1)
        assert waiting[("vafa_queue_lag_seconds", frozenset())] > 0
        assert _events(waiting, "failed") == 0
        await state.worker.drain()
        done = await _scrape(client)
        assert (_events(done, "pending"), _events(done, "rejected")) == (0, 1)
        assert done[("vafa_queue_lag_seconds", frozenset())] == 0
        assert done[("vafa_metrics_database_up", frozenset())] == 1

    async def test_jobs_are_reported_by_status(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        assert _jobs(await _scrape(client)) == {"pending": 0, "running": 0, "failed": 0}
        async with state.db.write() as session:
            for n in range(3):
                await jobs.enqueue(session, shopify_shop.shop_id, "metrics-test", {"n": n})
        assert _jobs(await _scrape(client)) == {"pending": 3, "running": 0, "failed": 0}

    async def test_processed_events_and_ledger_transactions_are_counted_after_commit(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        before = await _scrape(client)
        r = await client.post(
            "/webhooks/shopify",
            content=ORDER,
            headers=shopify_headers(
                ORDER, secret=shopify_shop.secret, topic="orders/paid", domain=shopify_shop.domain
            ),
        )
        assert r.json() == {"status": "accepted"}
        await state.worker.drain()
        after = await _scrape(client)
        processed = ("vafa_events_processed_total", frozenset({("status", "processed")}))
        earned = ("vafa_ledger_transactions_total", frozenset({("kind", "earn")}))
        assert after[processed] - before.get(processed, 0) == 1
        assert after[earned] - before.get(earned, 0) == 1
        await state.worker.drain()  # nothing left: nothing more counted
        assert (await _scrape(client))[earned] == after[earned]

    async def test_an_unreachable_database_still_answers_with_the_counters(
        self, client: httpx.AsyncClient, state: AppState, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        class Unreachable:
            def connect(self) -> object:
                raise OSError("connection refused")

        monkeypatch.setattr(state.db, "reader", Unreachable())
        scraped = await _scrape(client)
        assert scraped[("vafa_metrics_database_up", frozenset())] == 0
        assert not any(name == "vafa_webhook_events" for name, _ in scraped)
