"""Writing the Vafa club plugin's settings on the store: the client's ``set_setting`` against
the fake WooCommerce's settings API, which answers as WC_REST_Setting_Options_Controller does
(a store manager's read_write key only; WordPress's 404 for a group or option no plugin
registered)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from app.connectors.store import StoreNotFound, StoreUnauthorized
from app.connectors.woocommerce.client import WooCommerceClient
from app.connectors.woocommerce.signing import oauth_query_url
from tests.fakes.woocommerce import API, FakeWooCommerce


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def _client(
    store: FakeWooCommerce, http: httpx.AsyncClient, key: str, secret: str
) -> WooCommerceClient:
    return WooCommerceClient(
        http, url=store.url, consumer_key=key, consumer_secret=secret, webhook_secret="w"
    )


async def test_a_managers_key_sets_an_option_and_reads_it_back(
    woo_store: FakeWooCommerce, http: httpx.AsyncClient
) -> None:
    client = _client(woo_store, http, woo_store.consumer_key, woo_store.consumer_secret)
    await client.set_setting("vafa", "vafa_url", " https://vafa.example ")
    assert woo_store.setting_values("vafa") == {
        "vafa_url": "https://vafa.example", "shop_id": "", "storefront_secret": "",
    }  # fmt: skip
    url = oauth_query_url(
        "GET", f"{woo_store.url}{API}/settings/vafa/vafa_url", woo_store.consumer_key,
        woo_store.consumer_secret,
    )  # fmt: skip
    shown = (await http.get(url)).json()
    assert (shown["id"], shown["group_id"], shown["type"], shown["value"]) == (
        "vafa_url", "vafa", "text", "https://vafa.example",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("group", "option", "code"),
    [
        ("nope", "vafa_url", "rest_setting_setting_group_invalid"),
        ("vafa", "nope", "rest_setting_setting_invalid"),
    ],
)
async def test_an_unknown_group_or_option_is_wordpress_404(
    woo_store: FakeWooCommerce, http: httpx.AsyncClient, group: str, option: str, code: str
) -> None:
    client = _client(woo_store, http, woo_store.consumer_key, woo_store.consumer_secret)
    with pytest.raises(StoreNotFound) as caught:
        await client.set_setting(group, option, "x")
    assert (caught.value.status, caught.value.code) == (404, code)


async def test_nobody_without_a_managers_write_key_sets_anything(
    woo_store: FakeWooCommerce, http: httpx.AsyncClient
) -> None:
    anonymous = await http.put(f"{woo_store.url}{API}/settings/vafa/vafa_url", json={"value": "x"})
    assert anonymous.status_code == 401
    assert anonymous.json() == {
        "code": "woocommerce_rest_cannot_edit",
        "message": "Sorry, you cannot edit this resource.",
        "data": {"status": 401},
    }
    woo_store.add_key("ck_read", "cs_read", "read")
    with pytest.raises(StoreUnauthorized, match="does not have write permissions"):
        await _client(woo_store, http, "ck_read", "cs_read").set_setting("vafa", "shop_id", "1")
    woo_store.add_key("ck_shopper", "cs_shopper", "read_write", manager=False)
    with pytest.raises(StoreUnauthorized) as caught:
        await _client(woo_store, http, "ck_shopper", "cs_shopper").set_setting(
            "vafa", "shop_id", "1"
        )
    assert (caught.value.status, caught.value.code) == (403, "woocommerce_rest_cannot_edit")
    assert woo_store.setting_values("vafa")["shop_id"] == ""


async def test_a_settings_id_that_woocommerce_would_not_route_never_reaches_the_url(
    woo_store: FakeWooCommerce, http: httpx.AsyncClient
) -> None:
    client = _client(woo_store, http, woo_store.consumer_key, woo_store.consumer_secret)
    with pytest.raises(ValueError, match="not a WooCommerce settings id"):
        await client.set_setting("vafa", "../orders", "x")
    assert woo_store.requests == []
