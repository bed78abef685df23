"""`vafa shop resume|sync-webhooks|backfill`, and the webhook subscriptions `vafa shop add-…`
asks for: what an operator runs, against the fake WooCommerce store."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.config import get_settings
from tests.cli.test_cli import _fresh, _sql
from tests.cli.test_shop_commands import _apart, _vafa
from tests.fakes.woocommerce import FakeWooCommerce
from tests.payloads import woo_order

PUBLIC_URL = "https://vafa.example"


@pytest.fixture
def public_url(env: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("VAFA_PUBLIC_URL", PUBLIC_URL)
    get_settings.cache_clear()
    return PUBLIC_URL


def _add_woo(store: FakeWooCommerce) -> dict[str, Any]:
    result = _vafa(
        "shop", "add-woocommerce", "--url", store.url, "--consumer-key", store.consumer_key,
        "--consumer-secret", store.consumer_secret,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    shop: dict[str, Any] = json.loads(result.stdout)
    return shop


class TestAddAsksForWebhooks:
    def test_with_a_public_url_the_new_shop_has_its_webhook_sync_queued(
        self, env: str, public_url: str, woo_store: FakeWooCommerce
    ) -> None:
        _fresh(env)
        result = _vafa(
            "shop", "add-woocommerce", "--url", woo_store.url, "--consumer-key", "ck_1",
            "--consumer-secret", "cs_1",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        shop_id = json.loads(result.stdout)["shop_id"]
        assert f"{public_url}/webhooks/woocommerce/{shop_id}" in result.stderr
        jobs = _apart(_sql, env, "SELECT shop_id, kind, status FROM jobs")
        assert jobs == [(shop_id, "webhooks.sync", "pending")]

    def test_without_one_the_shop_is_added_and_told_what_to_set(
        self, env: str, woo_store: FakeWooCommerce
    ) -> None:
        _fresh(env)
        result = _vafa(
            "shop", "add-woocommerce", "--url", woo_store.url, "--consumer-key", "ck_1",
            "--consumer-secret", "cs_1",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["shop_id"] == 1
        assert "VAFA_PUBLIC_URL is not set" in result.stderr
        assert "vafa shop sync-webhooks 1" in result.stderr
        assert _apart(_sql, env, "SELECT count(*) FROM jobs") == [(0,)]


class TestSyncWebhooks:
    def test_run_twice_one_subscription_per_topic(
        self, env: str, public_url: str, woo_store: FakeWooCommerce
    ) -> None:
        _fresh(env)
        shop = _add_woo(woo_store)
        for _ in range(2):
            result = _vafa("shop", "sync-webhooks", str(shop["shop_id"]))
            assert result.exit_code == 0, result.output
            assert "6 webhook subscription(s) in place" in result.stderr
        address = f"{public_url}/webhooks/woocommerce/{shop['shop_id']}"
        assert len(woo_store.webhooks) == 6
        assert {h["delivery_url"] for h in woo_store.webhooks} == {address}

    def test_without_a_public_url_it_is_a_clear_error(
        self, env: str, woo_store: FakeWooCommerce
    ) -> None:
        _fresh(env)
        shop = _add_woo(woo_store)
        result = _vafa("shop", "sync-webhooks", str(shop["shop_id"]))
        assert result.exit_code == 1
        assert "VAFA_PUBLIC_URL is not set" in result.output
        assert woo_store.webhooks == []

    def test_refused_credentials_are_a_clear_error(
        self, env: str, public_url: str, woo_store: FakeWooCommerce
    ) -> None:
        _fresh(env)
        result = _vafa(
            "shop", "add-woocommerce", "--url", woo_store.url, "--consumer-key", "ck_wrong",
            "--consumer-secret", "cs_wrong",
        )  # fmt: skip
        shop_id = json.loads(result.stdout)["shop_id"]
        refused = _vafa("shop", "sync-webhooks", str(shop_id))
        assert refused.exit_code == 1
        assert "the store refused" in refused.output
        assert "401" in refused.output


class TestResume:
    def test_show_says_why_a_shop_is_paused_and_resume_makes_it_active(
        self, env: str, woo_store: FakeWooCommerce
    ) -> None:
        _fresh(env)
        shop_id = _add_woo(woo_store)["shop_id"]
        _apart(
            _sql, env,
            "UPDATE shops SET status = 'paused', status_reason = 'the store refused (401)'",
        )  # fmt: skip
        shown = json.loads(_vafa("shop", "show", str(shop_id)).stdout)
        assert (shown["status"], shown["status_reason"]) == ("paused", "the store refused (401)")
        resumed = _vafa("shop", "resume", str(shop_id))
        assert resumed.exit_code == 0, resumed.output
        assert "active" in resumed.output
        shown = json.loads(_vafa("shop", "show", str(shop_id)).stdout)
        assert (shown["status"], shown["status_reason"]) == ("active", None)

    def test_an_unknown_shop_is_a_clear_error(self, env: str) -> None:
        _fresh(env)
        result = _vafa("shop", "resume", "999")
        assert result.exit_code == 1
        assert result.output.strip() == "error: no shop 999"


class TestBackfill:
    @pytest.mark.parametrize(("flag", "points"), [([], 0), (["--award"], 58)])
    def test_past_orders_are_imported_with_points_only_when_asked(
        self, env: str, woo_store: FakeWooCommerce, flag: list[str], points: int
    ) -> None:
        from datetime import UTC, datetime

        _fresh(env)
        customer = woo_store.add_customer("sara@example.com")["id"]
        for order_id in (501, 502):
            woo_store.add_order(
                woo_order(order_id, customer_id=customer),
                modified=datetime(2025, 3, 1, tzinfo=UTC),
            )
        shop_id = _add_woo(woo_store)["shop_id"]
        result = _vafa("shop", "backfill", str(shop_id), "--since", "2025-01-01", *flag)
        assert result.exit_code == 0, result.output
        assert "imported 2 order(s) changed since 2025-01-01" in result.stderr
        assert _apart(_sql, env, "SELECT count(*) FROM orders WHERE known") == [(2,)]
        balances = _apart(
            _sql, env, "SELECT coalesce(sum(balance), 0) FROM accounts WHERE owner <> ''"
        )
        assert balances == [(points,)]

    def test_a_date_that_is_not_one_is_refused(self, env: str) -> None:
        result = _vafa("shop", "backfill", "1", "--since", "last tuesday")
        assert result.exit_code == 2
        assert "--since" in result.output
