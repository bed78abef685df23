"""`vafa shop show|disable|enable|rotate-secret|rotate-key|settings`: what an operator does to a
shop without writing SQL, and what the stores and the API then see."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import httpx
import pytest
from typer.testing import CliRunner, Result

from app.cli import cli
from app.config import get_settings
from tests.cli.test_cli import _fresh, _sql
from tests.signing import shopify_headers, woocommerce_headers

runner = CliRunner()
DOMAIN = "cafe-vafa.myshopify.com"
PRODUCT = b'{"id": 1, "title": "mug"}'  # a topic Vafa ignores: signed, it is still a 200


T = TypeVar("T")


def _apart(fn: Callable[..., T], *args: Any) -> T:
    # On a thread of its own: the command (like _sql) runs its own event loop with asyncio.run,
    # and an async test is already inside one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(fn, *args).result()


def _vafa(*args: str) -> Result:
    return _apart(runner.invoke, cli, list(args))


def _add_shopify(secret: str = "first-secret") -> dict[str, Any]:
    result = _vafa(
        "shop", "add-shopify", "--domain", DOMAIN, "--access-token", "shpat_private",
        "--api-secret", secret,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    shop: dict[str, Any] = json.loads(result.stdout)
    return shop


def _add_woo() -> dict[str, Any]:
    result = _vafa(
        "shop", "add-woocommerce", "--url", "https://store.example", "--consumer-key", "ck_1",
        "--consumer-secret", "cs_private",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    shop: dict[str, Any] = json.loads(result.stdout)
    return shop


async def _shopify_delivery(client: httpx.AsyncClient, secret: str) -> int:
    headers = shopify_headers(PRODUCT, secret=secret, topic="products/create", domain=DOMAIN)
    r = await client.post("/webhooks/shopify", content=PRODUCT, headers=headers)
    return r.status_code


async def _woo_delivery(client: httpx.AsyncClient, shop: dict[str, Any], secret: str) -> int:
    headers = woocommerce_headers(PRODUCT, secret=secret, topic="product.created")
    r = await client.post(shop["webhook_url"], content=PRODUCT, headers=headers)
    return r.status_code


async def _api(client: httpx.AsyncClient, key: str) -> int:
    r = await client.get("/api/v1/members/26", headers={"Authorization": f"Bearer {key}"})
    return r.status_code


class TestShow:
    def test_prints_the_shop_without_any_secret(self, env: str) -> None:
        _fresh(env)
        added = _add_woo()
        result = _vafa("shop", "show", str(added["shop_id"]))
        assert result.exit_code == 0, result.output
        shown = json.loads(result.stdout)
        assert shown["shop_id"] == added["shop_id"]
        assert shown["platform"] == "woocommerce"
        assert shown["domain"] == "https://store.example"
        assert shown["status"] == "active"
        assert shown["webhook_url"] == f"/webhooks/woocommerce/{added['shop_id']}"
        assert shown["settings"]["hold_days"] == 0
        for secret in ("cs_private", "ck_1", added["webhook_secret"], added["admin_api_key"]):
            assert secret not in result.output
        [(key_hash,)] = _sql(env, "SELECT admin_key_hash FROM shops")
        assert str(key_hash) not in result.output

    def test_shopify_shows_the_shared_webhook_url(self, env: str) -> None:
        _fresh(env)
        added = _add_shopify()
        shown = json.loads(_vafa("shop", "show", str(added["shop_id"])).stdout)
        assert (shown["platform"], shown["domain"]) == ("shopify", DOMAIN)
        assert shown["webhook_url"] == "/webhooks/shopify"

    @pytest.mark.parametrize(
        "args",
        [["show"], ["disable"], ["enable"], ["rotate-key"], ["rotate-secret"], ["settings"]],
        ids=" ".join,
    )
    def test_an_unknown_shop_is_a_clear_error(self, env: str, args: list[str]) -> None:
        _fresh(env)
        result = _vafa("shop", *args, "999")
        assert result.exit_code == 1
        assert result.output.strip() == "error: no shop 999"


class TestDisable:
    async def test_a_disabled_shop_is_refused_until_enabled(
        self, env: str, client: httpx.AsyncClient
    ) -> None:
        shop = _add_shopify()
        key = shop["admin_api_key"]
        assert await _shopify_delivery(client, "first-secret") == 200
        assert await _api(client, key) == 404  # authenticated; the member does not exist

        disabled = _vafa("shop", "disable", str(shop["shop_id"]))
        assert disabled.exit_code == 0, disabled.output
        assert "disabled" in disabled.output
        assert "VAFA_SHOP_CACHE_SECONDS" in disabled.output  # when running servers see it
        assert await _shopify_delivery(client, "first-secret") == 401
        assert await _api(client, key) == 401
        assert _apart(_sql, env, "SELECT status FROM shops") == [("disabled",)]

        enabled = _vafa("shop", "enable", str(shop["shop_id"]))
        assert enabled.exit_code == 0, enabled.output
        assert await _shopify_delivery(client, "first-secret") == 200
        assert await _api(client, key) == 404


class TestRotateSecret:
    async def test_woocommerce_gets_a_new_secret_and_the_previous_one_still_verifies(
        self, env: str, client: httpx.AsyncClient
    ) -> None:
        shop = _add_woo()
        first = shop["webhook_secret"]
        rotated = _vafa("shop", "rotate-secret", str(shop["shop_id"]))
        assert rotated.exit_code == 0, rotated.output
        second = json.loads(rotated.stdout)["webhook_secret"]
        assert second != first
        assert second.isalnum()  # WooCommerce HTML-decodes secrets: letters and digits only
        assert "VAFA_SHOP_CACHE_SECONDS" in rotated.stderr
        assert await _woo_delivery(client, shop, second) == 200
        assert await _woo_delivery(client, shop, first) == 200  # stores not updated yet

        again = _vafa("shop", "rotate-secret", str(shop["shop_id"]))
        third = json.loads(again.stdout)["webhook_secret"]
        assert await _woo_delivery(client, shop, third) == 200
        assert await _woo_delivery(client, shop, second) == 200
        assert await _woo_delivery(client, shop, first) == 401  # two rotations ago

    async def test_shopify_takes_the_new_api_secret_and_does_not_print_it(
        self, env: str, client: httpx.AsyncClient
    ) -> None:
        shop = _add_shopify()
        missing = _vafa("shop", "rotate-secret", str(shop["shop_id"]))
        assert missing.exit_code == 1
        assert "--secret" in missing.output

        rotated = _vafa("shop", "rotate-secret", str(shop["shop_id"]), "--secret", "second-secret")
        assert rotated.exit_code == 0, rotated.output
        assert rotated.stdout == ""
        assert "second-secret" not in rotated.output
        assert await _shopify_delivery(client, "second-secret") == 200
        assert await _shopify_delivery(client, "first-secret") == 200
        assert await _shopify_delivery(client, "guessed-secret") == 401


class TestRotateKey:
    async def test_the_new_key_works_once_printed_and_the_old_one_stops(
        self, env: str, client: httpx.AsyncClient
    ) -> None:
        shop = _add_shopify()
        old = shop["admin_api_key"]
        assert await _api(client, old) == 404
        rotated = _vafa("shop", "rotate-key", str(shop["shop_id"]))
        assert rotated.exit_code == 0, rotated.output
        new = json.loads(rotated.stdout)["admin_api_key"]
        assert new.startswith(f"vafa_sk_{shop['shop_id']}_")
        assert new != old
        assert "VAFA_SHOP_CACHE_SECONDS" in rotated.stderr
        assert await _api(client, new) == 404
        assert await _api(client, old) == 401
        shown = _vafa("shop", "show", str(shop["shop_id"]))
        assert new not in shown.output


class TestSettings:
    def test_prints_the_settings_and_changes_them_validated(self, env: str) -> None:
        _fresh(env)
        shop_id = str(_add_shopify()["shop_id"])
        shown = _vafa("shop", "settings", shop_id)
        assert shown.exit_code == 0, shown.output
        assert json.loads(shown.stdout)["hold_days"] == 0

        changed = _vafa(
            "shop", "settings", shop_id, "--set", "hold_days=14", "--set", "points_per_unit=0.1",
            "--set", "allow_negative_balance=false", "--set", 'currency_exponents={"IRR": 0}',
            "--set", "expiry_days=365",
        )  # fmt: skip
        assert changed.exit_code == 0, changed.output
        settings = json.loads(changed.stdout)
        assert settings["hold_days"] == 14
        assert settings["points_per_unit"] == "0.1"  # exact, not a float's 0.1000000000000000055
        assert settings["allow_negative_balance"] is False
        assert settings["currency_exponents"] == {"IRR": 0}
        assert settings["expiry_days"] == 365
        assert "VAFA_SHOP_CACHE_SECONDS" in changed.stderr
        assert json.loads(_vafa("shop", "show", shop_id).stdout)["settings"] == settings

        cleared = _vafa("shop", "settings", shop_id, "--set", "expiry_days=null")
        assert json.loads(cleared.stdout)["expiry_days"] is None

    @pytest.mark.parametrize(
        ("assignment", "message"),
        [
            ("hold_days=-1", "hold_days: Input should be greater than or equal to 0"),
            ("hold_days=soon", "hold_days: Input should be a valid integer"),
            ("points_per_unit=lots", "points_per_unit: Input should be a valid decimal"),
            ("currency_exponents={IRR: 0}", "is not valid JSON"),
            ("hold_dayz=3", "unknown setting 'hold_dayz'; the settings are: points_per_unit,"),
            ("hold_days", "--set takes key=value, not 'hold_days'"),
        ],
    )
    def test_a_bad_key_or_value_is_a_clear_error_and_changes_nothing(
        self, env: str, assignment: str, message: str
    ) -> None:
        _fresh(env)
        shop_id = str(_add_shopify()["shop_id"])
        result = _vafa("shop", "settings", shop_id, "--set", "expiry_days=30", "--set", assignment)
        assert result.exit_code == 1
        assert "Traceback" not in result.output
        assert message in result.output
        assert json.loads(_vafa("shop", "settings", shop_id).stdout)["expiry_days"] is None


class TestWithoutTheSecretKey:
    def test_commands_that_touch_no_credentials_work_without_it(
        self, env: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        _fresh(env)
        shop_id = str(_add_shopify()["shop_id"])
        monkeypatch.delenv("VAFA_SECRET_KEY")
        get_settings.cache_clear()
        for args in (["show"], ["disable"], ["enable"], ["rotate-key"], ["settings"]):
            result = _vafa("shop", *args, shop_id)
            assert result.exit_code == 0, (args, result.output)
        result = _vafa("shop", "rotate-secret", shop_id, "--secret", "s2")
        assert result.exit_code == 1
        assert "VAFA_SECRET_KEY is not set" in result.output
