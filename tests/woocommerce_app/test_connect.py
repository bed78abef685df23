"""Connecting a WooCommerce store with its own authorize page (PLATFORMS.md W2, "App key flow"),
against the fake store: the store owner clicks Connect, approves, and Vafa has the keys, the
webhooks and the store's past orders; the same again doubles nothing; and a callback that is
not the store's answer to our request is refused, so WooCommerce deletes the keys it made."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import func, select

from app.crypto import Vault
from app.jobs.models import Job
from app.orm import utcnow
from app.program.models import Order
from app.shops.models import Shop, ShopStatus
from app.state import AppState
from app.sync import orders as sync_orders
from app.woocommerce_app.models import WooConnect
from tests.conftest import SECRET_KEY
from tests.fakes.woocommerce import AuthorizeFailed, FakeWooCommerce
from tests.payloads import woo_order
from tests.signing import woocommerce_headers


async def _connect(client: httpx.AsyncClient, store: FakeWooCommerce) -> str:
    """The plugin's Connect button: Vafa sends the browser to the store's authorize page."""
    response = await client.get("/woocommerce/connect", params={"store_url": store.url})
    assert response.status_code == 302, response.text
    return response.headers["location"]


async def _shops(state: AppState) -> list[Shop]:
    async with state.db.read() as session:
        return list(await session.scalars(select(Shop)))


async def test_one_connect_makes_one_active_shop_with_its_keys_webhooks_and_past_orders(
    client: httpx.AsyncClient, state: AppState, public_url: str, woo_store: FakeWooCommerce
) -> None:
    customer = woo_store.add_customer("sara@example.com")["id"]
    woo_store.add_order(
        woo_order(501, customer_id=customer), modified=utcnow() - timedelta(days=30)
    )
    authorize = await _connect(client, woo_store)
    query = parse_qs(urlsplit(authorize).query)
    assert authorize.startswith(f"{woo_store.url}/wc-auth/v1/authorize?")
    assert query["scope"] == ["read_write"]
    assert query["app_name"] == ["Vafa"]
    (shop,) = await _shops(state)
    assert shop.status == ShopStatus.PENDING
    assert query["callback_url"] == [f"{public_url}/woocommerce/callback/{shop.id}"]

    back = await woo_store.approve(authorize, client)
    (shop,) = await _shops(state)
    assert shop.status == ShopStatus.ACTIVE
    creds = Vault(SECRET_KEY).open(shop.credentials)
    (key,) = [k for k in woo_store.keys.values() if k.consumer_key != woo_store.consumer_key]
    assert (creds["consumer_key"], creds["consumer_secret"]) == (key.consumer_key,
                                                                 key.consumer_secret)  # fmt: skip
    async with state.db.read() as session:
        raw = await session.scalar(select(WooConnect.reveal))
    assert raw is not None
    assert key.consumer_secret not in raw

    # The browser comes back: the plugin's settings, once.
    page = await client.get(back.removeprefix(public_url))
    assert page.status_code == 200
    assert creds["storefront_secret"] in page.text
    assert f"<code>{shop.id}</code>" in page.text
    again = await client.get(back.removeprefix(public_url))
    assert creds["storefront_secret"] not in again.text
    assert "shown once already" in again.text
    # The new admin key is the one shown, and it works.
    admin_key = page.text.split("Admin API key")[1].split("<code>")[1].split("</code>")[0]
    rewards = await client.get("/api/v1/rewards", headers={"Authorization": f"Bearer {admin_key}"})
    assert rewards.status_code == 200

    # The worker makes the webhooks and imports the past order, with the new keys.
    await state.worker.drain()
    assert {h["topic"] for h in woo_store.webhooks} == {
        "order.created", "order.updated", "order.deleted", "order.restored",
        "customer.created", "customer.updated",
    }  # fmt: skip
    assert {h["delivery_url"] for h in woo_store.webhooks} == {
        f"{public_url}/webhooks/woocommerce/{shop.id}"
    }
    async with state.db.read() as session:
        order = await session.scalar(select(Order).where(Order.shop_id == shop.id))
    assert order is not None
    assert order.order_id == "501"
    assert order.backfilled
    imported, finished = await sync_orders.backfill_progress(state.db, shop.id)
    assert imported == 1
    assert finished is not None
    # A webhook signed with the store's new subscription secret is accepted.
    secret = woo_store.webhook_secret(woo_store.webhooks[0]["id"])
    body = httpx.Request("POST", "/", json=woo_order(502, customer_id=customer)).content
    delivered = await client.post(
        f"/webhooks/woocommerce/{shop.id}",
        content=body,
        headers=woocommerce_headers(body, secret=secret, topic="order.updated"),
    )
    assert delivered.json()["status"] == "accepted"


async def test_connecting_again_rotates_the_keys_and_doubles_nothing(
    client: httpx.AsyncClient, state: AppState, public_url: str, woo_store: FakeWooCommerce
) -> None:
    await woo_store.approve(await _connect(client, woo_store), client)
    await state.worker.drain()
    await woo_store.approve(await _connect(client, woo_store), client)
    await state.worker.drain()
    (shop,) = await _shops(state)
    assert shop.status == ShopStatus.ACTIVE
    newest = list(woo_store.keys.values())[-1]
    assert Vault(SECRET_KEY).open(shop.credentials)["consumer_key"] == newest.consumer_key
    assert len(woo_store.webhooks) == 6  # one per topic, still
    async with state.db.read() as session:
        backfills = await session.scalar(
            select(func.count()).select_from(Job).where(Job.kind == "orders.backfill")
        )
    assert backfills == 1  # the same job, run again: it imports nothing twice


async def test_a_declined_connect_leaves_the_shop_pending_and_says_so(
    client: httpx.AsyncClient, state: AppState, public_url: str, woo_store: FakeWooCommerce
) -> None:
    back = woo_store.decline(await _connect(client, woo_store))
    page = await client.get(back.removeprefix(public_url))
    assert "declined" in page.text
    (shop,) = await _shops(state)
    assert shop.status == ShopStatus.PENDING
    # A pending shop accepts no webhooks (nothing could have signed them).
    body = b'{"id": 1}'
    refused = await client.post(
        f"/webhooks/woocommerce/{shop.id}",
        content=body,
        headers=woocommerce_headers(body, secret="anything", topic="order.updated"),
    )
    assert refused.status_code == 401


@pytest.mark.parametrize("tamper", ["user_id", "shop", "replay", "permissions", "dead_key"])
async def test_a_callback_that_is_not_the_answer_to_our_request_is_refused(
    client: httpx.AsyncClient,
    state: AppState,
    public_url: str,
    woo_store: FakeWooCommerce,
    tamper: str,
) -> None:
    authorize = await _connect(client, woo_store)
    (shop,) = await _shops(state)
    query = {k: v[0] for k, v in parse_qs(urlsplit(authorize).query).items()}
    keys = {
        "key_id": 9,
        "user_id": query["user_id"],
        "consumer_key": woo_store.consumer_key,
        "consumer_secret": woo_store.consumer_secret,
        "key_permissions": "read_write",
    }
    url = f"/woocommerce/callback/{shop.id}"
    if tamper == "user_id":
        keys["user_id"] = "guessed"
    elif tamper == "shop":
        other = await client.get(
            "/woocommerce/connect", params={"store_url": "https://other.example"}
        )
        assert other.status_code == 302
        url = f"/woocommerce/callback/{shop.id + 1}"
    elif tamper == "replay":
        assert (await client.post(url, json=keys)).status_code == 200
    elif tamper == "permissions":
        keys["key_permissions"] = "read"
    elif tamper == "dead_key":
        keys["consumer_secret"] = "cs_wrong"
    response = await client.post(url, json=keys)
    assert response.status_code != 200
    assert response.json()["error"]["code"] in ("unauthorized", "invalid_request", "keys_refused")


async def test_the_store_deletes_the_keys_when_vafa_cannot_keep_them(
    client: httpx.AsyncClient, state: AppState, public_url: str, woo_store: FakeWooCommerce
) -> None:
    authorize = await _connect(client, woo_store)
    # Asked for read-only keys by a tampered page: Vafa refuses them, WooCommerce deletes them.
    with pytest.raises(AuthorizeFailed, match="unable to send the consumer data"):
        await woo_store.approve(authorize, client, permissions="read")
    assert list(woo_store.keys) == [woo_store.consumer_key]
    (shop,) = await _shops(state)
    assert shop.status == ShopStatus.PENDING


async def test_without_a_public_url_connect_says_what_to_set(
    client: httpx.AsyncClient, woo_store: FakeWooCommerce
) -> None:
    response = await client.get("/woocommerce/connect", params={"store_url": woo_store.url})
    assert response.status_code == 400
    assert "VAFA_PUBLIC_URL" in response.json()["error"]["message"]


async def test_a_store_url_that_is_not_one_is_refused(
    client: httpx.AsyncClient, public_url: str
) -> None:
    response = await client.get("/woocommerce/connect", params={"store_url": "ftp://nope"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"
