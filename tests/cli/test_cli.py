"""The ``vafa`` command as an operator uses it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from app.cli import cli
from app.config import get_settings
from app.crypto import Vault
from tests.conftest import SECRET_KEY

runner = CliRunner()


def _sql(database_url: str, sql: str) -> list[tuple[object, ...]]:
    """Run one statement outside the app, as an operator with psql or sqlite3 would."""

    async def run() -> list[tuple[object, ...]]:
        engine = create_async_engine(database_url)
        async with engine.begin() as conn:
            result = await conn.execute(text(sql))
            rows = [tuple(r) for r in result] if result.returns_rows else []
        await engine.dispose()
        return rows

    return asyncio.run(run())


def _fresh(database_url: str) -> None:
    if database_url.startswith("postgresql"):  # SQLite tests get a fresh file already
        _sql(database_url, "TRUNCATE shops RESTART IDENTITY CASCADE")


def _add_shopify(domain: str) -> Any:
    return runner.invoke(
        cli,
        ["shop", "add-shopify", "--domain", domain, "--access-token", "t", "--api-secret", "s"],
    )


class TestShopAdd:
    def test_add_shopify_prints_the_shop_and_stores_secrets_encrypted(self, env: str) -> None:
        _fresh(env)
        result = runner.invoke(
            cli,
            [
                "shop", "add-shopify", "--domain", "Cafe-Vafa.myshopify.com",
                "--access-token", "shpat_verysecret", "--api-secret", "apisecret123",
            ],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        shop = json.loads(result.stdout)
        assert shop["shop_id"] >= 1
        assert shop["admin_api_key"].startswith(f"vafa_sk_{shop['shop_id']}_")
        assert "shpat_verysecret" not in result.output
        [(domain, credentials, key_hash)] = _sql(
            env, "SELECT domain, credentials, admin_key_hash FROM shops"
        )
        assert domain == "cafe-vafa.myshopify.com"
        assert isinstance(credentials, str)
        assert "shpat_verysecret" not in credentials
        assert "apisecret123" not in credentials
        assert shop["admin_api_key"] not in str(key_hash)
        opened = Vault(SECRET_KEY).open(credentials)
        assert opened["access_token"] == "shpat_verysecret"
        assert opened["api_secrets"] == ["apisecret123"]

    def test_add_woocommerce_prints_webhook_url_and_secret(self, env: str) -> None:
        _fresh(env)
        result = runner.invoke(
            cli,
            [
                "shop", "add-woocommerce", "--url", "https://store.example/",
                "--consumer-key", "ck_1", "--consumer-secret", "cs_1",
            ],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        shop = json.loads(result.stdout)
        assert shop["webhook_url"] == f"/webhooks/woocommerce/{shop['shop_id']}"
        assert shop["webhook_secret"].isalnum()
        assert len(shop["webhook_secret"]) >= 24

    def test_the_same_shop_twice_is_a_clear_error(self, env: str) -> None:
        _fresh(env)
        assert _add_shopify("shop-a.myshopify.com").exit_code == 0
        again = _add_shopify("shop-a.myshopify.com")
        assert again.exit_code == 1
        assert "already exists" in again.output

    def test_a_domain_that_is_not_myshopify_is_refused(self, env: str) -> None:
        result = _add_shopify("evil.example.com")
        assert result.exit_code == 1
        assert "myshopify.com" in result.output

    def test_a_missing_secret_key_is_a_clear_error(
        self, env: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("VAFA_SECRET_KEY", "")
        get_settings.cache_clear()
        result = _add_shopify("shop-b.myshopify.com")
        assert result.exit_code == 1
        assert "VAFA_SECRET_KEY" in result.output


class TestLedgerVerify:
    def test_clean_ledger_exits_0_and_a_corrupted_one_exits_1(self, env: str) -> None:
        _fresh(env)
        add = _add_shopify("shop-c.myshopify.com")
        shop_id = json.loads(add.stdout)["shop_id"]
        _sql(
            env,
            f"INSERT INTO accounts (shop_id, owner, kind, balance) VALUES ({shop_id}, '7', "
            "'available', 5)",
        )
        result = runner.invoke(cli, ["ledger", "verify"])
        assert result.exit_code == 1
        assert "balance 5, postings say 0" in result.output
        _sql(env, "UPDATE accounts SET balance = 0")
        result = runner.invoke(cli, ["ledger", "verify", "--shop", str(shop_id)])
        assert result.exit_code == 0, result.output
        assert "ledger OK" in result.output


class TestEvents:
    def test_failed_events_are_listed_and_replayed(self, env: str) -> None:
        _fresh(env)
        add = _add_shopify("shop-e.myshopify.com")
        shop_id = json.loads(add.stdout)["shop_id"]
        # An event the worker gave up on, as an operator finds it.
        _sql(
            env,
            "INSERT INTO webhook_events (shop_id, topic, dedupe_key, status, body, headers, "
            f"received_at, attempts, last_error) VALUES ({shop_id}, 'orders/paid', 'k1', "
            "'failed', x'7b7d', '{}', '2026-11-24 10:00:00', 8, 'RuntimeError: boom')".replace(
                "x'7b7d'", "'{}'" if env.startswith("sqlite") else "'\\x7b7d'::bytea"
            ),
        )
        listed = runner.invoke(cli, ["events", "list", "--status", "failed"])
        assert listed.exit_code == 0, listed.output
        assert "orders/paid" in listed.output
        assert "RuntimeError" in listed.output  # the table may fold the error over two lines
        assert "boom" in listed.output
        replayed = runner.invoke(cli, ["events", "replay", "--shop", str(shop_id)])
        assert replayed.exit_code == 0, replayed.output
        assert "queued 1 event(s) again" in replayed.output
        [(status, attempts)] = _sql(env, "SELECT status, attempts FROM webhook_events")
        assert (status, attempts) == ("pending", 0)
