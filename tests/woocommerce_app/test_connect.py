"""Connecting a WooCommerce store with its own authorize page (PLATFORMS.md W2, "App key flow"),
against the fake store: the store owner clicks Connect, approves, and Vafa has the keys, the
webhooks and the store's past orders, and the store's Vafa club plugin has its settings, pushed
there with those keys (no browser ever sees a secret); the same again doubles nothing; and a
callback that is not the store's answer to our request is refused, so WooCommerce deletes the
keys it made."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import func, select

from app.crypto import Vault
from app.errors import Conflict
from app.jobs.models import Job
from app.orm import utcnow
from app.program.models import Order
from app.shops import service as shops
from app.shops.models import Shop, ShopStatus
from app.state import AppState
from app.sync import orders as sync_orders
from app.woocommerce_app import service
from app.woocommerce_app.models import WooConnect
from tests.conftest import SECRET_KEY
from tests.fakes.server import ServedApp
from tests.fakes.woocommerce import AuthorizeFailed, FakeWooCommerce
from tests.payloads import woo_order
from tests.signing import woocommerce_headers


async def _connect(client: httpx.AsyncClient, store: FakeWooCommerce) -> str:
    """The plugin's Connect button: Vafa sends the browser to the store's authorize page."""
    response = await client.get("/woocommerce/connect", params={"store_url": store.url})
    assert response.status_code == 302, response.text
    return response.headers["location"]


def _reveals_nothing(page: httpx.Response, creds: dict[str, Any]) -> None:
    for secret in (creds["storefront_secret"], creds.get("consumer_secret"), "vafa_sk_"):
        assert not secret or secret not in page.text


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
    # The plugin's settings were written on the store, with the new keys.
    assert woo_store.setting_values("vafa") == {
        "vafa_url": public_url,
        "shop_id": str(shop.id),
        "storefront_secret": creds["storefront_secret"],
    }
    pushes = woo_store.requests_to("PUT", "/settings/vafa/storefront_secret")
    assert [(r.status, r.query["oauth_consumer_key"]) for r in pushes] == [(200, key.consumer_key)]

    # The browser comes back: "connected", and not one secret.
    page = await client.get(back.removeprefix(public_url))
    assert page.status_code == 200
    assert "Your store is connected" in page.text
    _reveals_nothing(page, creds)
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"

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


# What each tampered callback is answered: status, code, and the message's gist.
TAMPERED = {
    "user_id": (401, "unauthorized", "no connect attempt of this shop has that user_id"),
    "shop": (401, "unauthorized", "no connect attempt of this shop has that user_id"),
    "replay": (401, "unauthorized", "this connect attempt was used already"),
    "permissions": (400, "invalid_request", "the keys must be read_write, not 'read'"),
    "dead_key": (400, "keys_refused", "the store refused the new keys"),
}


@pytest.mark.parametrize("tamper", sorted(TAMPERED))
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
    status, code, message = TAMPERED[tamper]
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert message in response.json()["error"]["message"]


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


def _callback_keys(authorize: str, store: FakeWooCommerce) -> tuple[str, dict[str, Any]]:
    """The callback WooCommerce would post for this authorize URL, with the store's own
    working key (as an approval makes one)."""
    query = {k: v[0] for k, v in parse_qs(urlsplit(authorize).query).items()}
    keys = {"key_id": 9, "user_id": query["user_id"], "consumer_key": store.consumer_key,
            "consumer_secret": store.consumer_secret, "key_permissions": "read_write"}  # fmt: skip
    return urlsplit(query["callback_url"]).path, keys


async def test_an_expired_attempt_is_refused_and_the_store_deletes_its_keys(
    client: httpx.AsyncClient, state: AppState, public_url: str, woo_store: FakeWooCommerce
) -> None:
    authorize = await _connect(client, woo_store)
    async with state.db.write() as session:
        attempt = await session.scalar(select(WooConnect))
        assert attempt is not None
        attempt.expires_at = utcnow() - timedelta(seconds=1)
    path, keys = _callback_keys(authorize, woo_store)
    response = await client.post(path, json=keys)
    assert response.status_code == 401
    assert response.json()["error"] == {
        "code": "unauthorized",
        "message": "the connect attempt expired; start again from the plugin",
    }
    with pytest.raises(AuthorizeFailed):
        await woo_store.approve(authorize, client)
    assert list(woo_store.keys) == [woo_store.consumer_key]
    assert woo_store.setting_values("vafa")["storefront_secret"] == ""  # nothing pushed
    (shop,) = await _shops(state)
    assert shop.status == ShopStatus.PENDING


async def test_two_callbacks_at_once_keep_one_key_and_the_store_deletes_the_other(
    client: httpx.AsyncClient, state: AppState, public_url: str, woo_store: FakeWooCommerce
) -> None:
    authorize = await _connect(client, woo_store)
    results = await asyncio.gather(
        woo_store.approve(authorize, client), woo_store.approve(authorize, client),
        return_exceptions=True,
    )  # fmt: skip
    assert sorted(type(r).__name__ for r in results) == ["AuthorizeFailed", "str"]
    kept = [k for k in woo_store.keys.values() if k.consumer_key != woo_store.consumer_key]
    assert len(kept) == 1  # the refused one was deleted by the store
    (shop,) = await _shops(state)
    assert shop.status == ShopStatus.ACTIVE
    assert Vault(SECRET_KEY).open(shop.credentials)["consumer_key"] == kept[0].consumer_key
    async with state.db.read() as session:
        backfills = await session.scalar(
            select(func.count()).select_from(Job).where(Job.kind == "orders.backfill")
        )
    assert backfills == 1


async def test_a_shop_disabled_while_the_store_is_called_gets_no_keys(
    client: httpx.AsyncClient,
    state: AppState,
    public_url: str,
    woo_store: FakeWooCommerce,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    authorize = await _connect(client, woo_store)
    (shop,) = await _shops(state)
    real_push = service.push_settings

    async def disabled_meanwhile(*args: Any) -> None:
        async with state.db.write() as session:  # the operator, while Vafa calls the store
            await shops.set_status(session, shop.id, ShopStatus.DISABLED, "by the operator")
        await real_push(*args)

    monkeypatch.setattr(service, "push_settings", disabled_meanwhile)
    path, keys = _callback_keys(authorize, woo_store)
    response = await client.post(path, json=keys)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "shop_disabled"
    (shop,) = await _shops(state)
    assert shop.status == ShopStatus.DISABLED
    assert "consumer_key" not in Vault(SECRET_KEY).open(shop.credentials)
    async with state.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(Job)) == 0
    # And a disabled shop cannot be connected again.
    again = await client.get("/woocommerce/connect", params={"store_url": woo_store.url})
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "shop_disabled"


async def test_a_shop_from_before_storefront_secrets_gets_one_when_it_connects(
    client: httpx.AsyncClient, state: AppState, public_url: str, woo_store: FakeWooCommerce
) -> None:
    vault = Vault(SECRET_KEY)
    async with state.db.write() as session:
        new = await shops.add_woocommerce(
            session, vault, url=woo_store.url, consumer_key="ck_old", consumer_secret="cs_old"
        )
        shop = await session.get(Shop, new.shop_id)
        assert shop is not None
        creds = vault.open(shop.credentials)
        del creds["storefront_secret"]  # as a shop added before they existed
        shop.credentials = vault.seal(creds)
    await woo_store.approve(await _connect(client, woo_store), client)
    (shop,) = await _shops(state)
    secret = vault.open(shop.credentials)["storefront_secret"]
    assert len(secret) >= 32
    assert woo_store.setting_values("vafa")["storefront_secret"] == secret


async def test_a_stranger_reconnecting_an_active_shop_learns_nothing_and_its_admin_key_works(
    client: httpx.AsyncClient, state: AppState, public_url: str, woo_store: FakeWooCommerce
) -> None:
    async with state.db.write() as session:
        new = await shops.add_woocommerce(
            session, state.vault, url=woo_store.url, consumer_key=woo_store.consumer_key,
            consumer_secret=woo_store.consumer_secret,
        )  # fmt: skip
    # The stranger starts a connect for the store and gets its owner to approve it.
    authorize = await _connect(client, woo_store)
    back = await woo_store.approve(authorize, client)
    page = await client.get(back.removeprefix(public_url))  # the stranger has the URL
    assert page.status_code == 200
    (shop,) = await _shops(state)
    assert shop.id == new.shop_id
    creds = state.vault.open(shop.credentials)
    _reveals_nothing(page, creds)
    assert new.storefront_secret not in page.text
    # The secret went to the store only, and the operator's admin key still works.
    assert woo_store.setting_values("vafa")["storefront_secret"] == new.storefront_secret
    rewards = await client.get(
        "/api/v1/rewards", headers={"Authorization": f"Bearer {new.admin_api_key}"}
    )
    assert rewards.status_code == 200


async def test_a_store_without_the_plugin_cannot_connect_and_keeps_no_key(
    client: httpx.AsyncClient, state: AppState, public_url: str, fake_server: ServedApp
) -> None:
    with FakeWooCommerce(vafa_plugin=False).start(on=fake_server) as bare:
        authorize = await _connect(client, bare)
        path, keys = _callback_keys(authorize, bare)
        response = await client.post(path, json=keys)
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "settings_not_pushed"
        assert "rest_setting_setting_group_invalid" in error["message"]
        with pytest.raises(AuthorizeFailed):
            await bare.approve(authorize, client)
        assert list(bare.keys) == [bare.consumer_key]
    (shop,) = await _shops(state)
    assert shop.status == ShopStatus.PENDING


async def test_connect_is_rate_limited_per_client_address(
    client: httpx.AsyncClient, public_url: str, woo_store: FakeWooCommerce
) -> None:
    for _ in range(10):
        await _connect(client, woo_store)
    refused = await client.get("/woocommerce/connect", params={"store_url": woo_store.url})
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert int(refused.headers["retry-after"]) >= 1


async def test_pending_shops_nobody_finished_are_purged_after_a_day(
    client: httpx.AsyncClient, state: AppState, public_url: str, woo_store: FakeWooCommerce
) -> None:
    await _connect(client, woo_store)
    fresh = await client.get("/woocommerce/connect", params={"store_url": "https://b.example"})
    assert fresh.status_code == 302
    async with state.db.write() as session:
        active = await shops.add_woocommerce(
            session, state.vault, url="https://active.example", consumer_key="ck_1",
            consumer_secret="cs_1",
        )  # fmt: skip
        stale = await session.scalar(select(Shop).where(Shop.domain == woo_store.url))
        assert stale is not None
        long_ago = utcnow() - timedelta(hours=26)
        stale.created_at = long_ago
        for attempt in await session.scalars(
            select(WooConnect).where(WooConnect.shop_id == stale.id)
        ):
            attempt.expires_at = long_ago + timedelta(hours=1)
    counts = await state.worker.run_scheduled()
    assert counts["pending_shops_purged"] == 1
    assert sorted(s.domain for s in await _shops(state)) == [
        "https://active.example", "https://b.example",
    ]  # fmt: skip
    assert active.shop_id in {s.id for s in await _shops(state)}


async def test_a_connect_purges_too_while_no_shop_is_active(
    client: httpx.AsyncClient, state: AppState, public_url: str, woo_store: FakeWooCommerce
) -> None:
    await _connect(client, woo_store)
    async with state.db.write() as session:
        stale = await session.scalar(select(Shop))
        assert stale is not None
        stale.created_at = utcnow() - timedelta(hours=30)
        attempt = await session.scalar(select(WooConnect))
        assert attempt is not None
        attempt.expires_at = utcnow() - timedelta(hours=25)
    other = await client.get("/woocommerce/connect", params={"store_url": "https://b.example"})
    assert other.status_code == 302
    assert [s.domain for s in await _shops(state)] == ["https://b.example"]


async def test_add_woocommerce_takes_over_a_pending_shop(
    client: httpx.AsyncClient, state: AppState, public_url: str, woo_store: FakeWooCommerce
) -> None:
    await _connect(client, woo_store)
    (pending,) = await _shops(state)
    async with state.db.write() as session:
        new = await shops.add_woocommerce(
            session, state.vault, url=woo_store.url + "/", consumer_key=woo_store.consumer_key,
            consumer_secret=woo_store.consumer_secret,
        )  # fmt: skip
    assert new.shop_id == pending.id
    (shop,) = await _shops(state)
    assert shop.status == ShopStatus.ACTIVE
    creds = state.vault.open(shop.credentials)
    assert creds["consumer_key"] == woo_store.consumer_key
    assert new.storefront_secret == creds["storefront_secret"]
    rewards = await client.get(
        "/api/v1/rewards", headers={"Authorization": f"Bearer {new.admin_api_key}"}
    )
    assert rewards.status_code == 200
    # An active shop is not taken over: that is a second shop for the same store.
    with pytest.raises(Conflict):
        async with state.db.write() as session:
            await shops.add_woocommerce(
                session, state.vault, url=woo_store.url, consumer_key="ck_2",
                consumer_secret="cs_2",
            )  # fmt: skip


async def test_two_connects_at_once_for_a_new_store_make_one_shop(
    client: httpx.AsyncClient, state: AppState, public_url: str, woo_store: FakeWooCommerce
) -> None:
    answers = await asyncio.gather(
        *(client.get("/woocommerce/connect", params={"store_url": woo_store.url})
          for _ in range(4))
    )  # fmt: skip
    assert [a.status_code for a in answers] == [302] * 4
    (shop,) = await _shops(state)
    async with state.db.read() as session:
        attempts = await session.scalar(select(func.count()).select_from(WooConnect))
    assert attempts == 4
