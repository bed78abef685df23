"""`vafa shop rotate-storefront-secret ID`: a new secret, printed once; the storefront accepts
only it from then on, and a shop with keys has it written into its store's plugin."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from typer.testing import CliRunner, Result

from app.cli import cli
from app.config import get_settings
from app.shops import service as shops
from app.state import AppState
from tests.conftest import SECRET_KEY
from tests.fakes.woocommerce import FakeWooCommerce
from tests.storefront.signing import plugin_token

runner = CliRunner()


@pytest.fixture
def env(database_url: str, public_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("VAFA_DATABASE_URL", database_url)
    monkeypatch.setenv("VAFA_SECRET_KEY", SECRET_KEY)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _vafa(*args: str) -> Result:
    # A thread of its own: the command runs its own event loop, and the test is inside one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(runner.invoke, cli, list(args)).result()


async def _member(client: httpx.AsyncClient, shop_id: int, secret: str) -> int:
    token = plugin_token(secret, "42")
    answer = await client.get(
        f"/storefront/woocommerce/{shop_id}/member", headers={"Authorization": f"Bearer {token}"}
    )
    return answer.status_code


async def test_the_new_secret_replaces_the_old_and_reaches_the_store(
    client: httpx.AsyncClient, state: AppState, env: None, woo_store: FakeWooCommerce
) -> None:
    async with state.db.write() as session:
        shop = await shops.add_woocommerce(
            session, state.vault, url=woo_store.url, consumer_key=woo_store.consumer_key,
            consumer_secret=woo_store.consumer_secret,
        )  # fmt: skip
    old = shop.storefront_secret
    assert old is not None
    assert await _member(client, shop.shop_id, old) == 200
    result = _vafa("shop", "rotate-storefront-secret", str(shop.shop_id))
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    new = shown["storefront_secret"]
    assert shown == {"shop_id": shop.shop_id, "storefront_secret": new, "pushed_to_store": True}
    assert new != old
    assert woo_store.setting_values("vafa") == {
        "vafa_url": "https://vafa.example", "shop_id": str(shop.shop_id),
        "storefront_secret": new,
    }  # fmt: skip
    assert await _member(client, shop.shop_id, old) == 401
    assert await _member(client, shop.shop_id, new) == 200


async def test_a_store_that_refuses_it_is_told_plainly_and_the_secret_still_changes(
    client: httpx.AsyncClient, state: AppState, env: None, woo_store: FakeWooCommerce
) -> None:
    async with state.db.write() as session:
        shop = await shops.add_woocommerce(
            session, state.vault, url=woo_store.url, consumer_key="ck_revoked",
            consumer_secret="cs_revoked",
        )  # fmt: skip
    result = _vafa("shop", "rotate-storefront-secret", str(shop.shop_id))
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["pushed_to_store"] is False
    assert "the store did not take it" in result.stderr
    assert "paste it under WooCommerce" in result.stderr
    assert await _member(client, shop.shop_id, shown["storefront_secret"]) == 200


async def test_a_pending_shop_gets_a_new_secret_and_is_told_it_has_no_keys(
    client: httpx.AsyncClient, state: AppState, env: None, woo_store: FakeWooCommerce
) -> None:
    connect = await client.get("/woocommerce/connect", params={"store_url": woo_store.url})
    assert connect.status_code == 302
    result = _vafa("shop", "rotate-storefront-secret", "1")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["pushed_to_store"] is False
    assert "no keys for its store yet" in result.stderr
    assert woo_store.requests == []


async def test_a_shopify_shop_has_no_storefront_secret_to_rotate(
    state: AppState, env: None
) -> None:
    async with state.db.write() as session:
        shop = await shops.add_shopify(
            session, state.vault, domain="cafe.myshopify.com", access_token="shpat_1",
            api_secret="s",
        )  # fmt: skip
    result = _vafa("shop", "rotate-storefront-secret", str(shop.shop_id))
    assert result.exit_code == 1
    assert "not a WooCommerce shop" in result.stderr
