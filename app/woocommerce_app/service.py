"""The WooCommerce key exchange (PLATFORMS.md W2, "App key flow").

1. :func:`start` records a connect attempt for a store URL (the shop is created ``pending`` the
   first time: no webhooks accepted, no jobs run) and builds the store's authorize URL, whose
   ``user_id`` is a single-use unguessable value of ours.
2. The store owner approves on their store; WooCommerce POSTs the new keys to the callback, not
   signed: :func:`accept_keys` takes them only for a live attempt of that shop whose value
   matches, only once they work on the store, and only once the store took the companion
   plugin's settings (:func:`push_settings`, server to server with those keys: only the real
   store, which holds them, ever receives the storefront secret). It then seals them,
   activates the shop, asks for its webhooks and the first backfill. Anything else is refused
   with a non-200 answer, on which WooCommerce deletes the keys it made.
3. The browser returns to a page that says "connected" and shows no secret: whoever holds the
   attempt's value (it is in the authorize URL) learns nothing from it.

Connecting the same store again reuses its shop: new keys replace the old, nothing is doubled,
and the admin API key is left as it is (the operator gets one with ``vafa shop rotate-key``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
from sqlalchemy import delete, exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.connectors.base import Platform
from app.connectors.clients import TIMEOUT
from app.connectors.store import StoreError
from app.connectors.woocommerce.client import WooCommerceClient
from app.crypto import Vault, random_token, same_hash, sha256_hex
from app.db import Database
from app.errors import InvalidRequest, NotFound, Unauthorized
from app.shops import service as shops
from app.shops.models import Shop, ShopStatus
from app.sync import tasks as sync_tasks
from app.woocommerce_app.addresses import checked_store_url
from app.woocommerce_app.models import WooConnect

APP_NAME = "Vafa"
SCOPE = "read_write"
# Long enough for a store owner to log in to WordPress and approve; short for a leaked link.
CONNECT_LIFETIME = timedelta(hours=1)
# A pending shop whose attempts all expired this long ago, and that never got keys, is removed.
PENDING_KEPT = timedelta(hours=24)
# What the first backfill imports (recorded without points: the club starts now).
BACKFILL_DAYS = 365
# The companion plugin's settings group and options (integrations/woocommerce/vafa-club,
# Vafa_Settings::rest_settings): what Vafa writes there through WooCommerce's settings API.
SETTINGS_GROUP = "vafa"
SETTINGS_OPTIONS = ("vafa_url", "shop_id", "storefront_secret")


class ShopDisabled(InvalidRequest):
    code = "shop_disabled"
    example = "shop 3 is disabled by the operator; it cannot be connected"


class KeysRefused(InvalidRequest):
    code = "keys_refused"
    example = "the store refused the new keys: 401 woocommerce_rest_cannot_view"


class SettingsNotPushed(InvalidRequest):
    code = "settings_not_pushed"
    example = "the store did not take the Vafa club plugin's settings (is the plugin active?)"


@dataclass(frozen=True, slots=True)
class Started:
    shop_id: int
    authorize_url: str


@dataclass(frozen=True, slots=True)
class Keys:
    key_id: int
    user_id: str
    consumer_key: str
    consumer_secret: str
    key_permissions: str


def _paths(public_url: str, shop_id: int) -> tuple[str, str]:
    base = public_url.rstrip("/")
    return f"{base}/woocommerce/callback/{shop_id}", f"{base}/woocommerce/connected/{shop_id}"


def _disabled(shop_id: int) -> ShopDisabled:
    return ShopDisabled(f"shop {shop_id} is disabled by the operator; it cannot be connected")


async def start(
    db: Database,
    vault: Vault,
    store_url: str,
    public_url: str,
    now: datetime,
    *,
    allow_private: bool,
) -> Started:
    url = await checked_store_url(store_url, allow_private=allow_private)
    try:
        async with db.write() as session:
            return await _start(session, vault, url, public_url, now)
    except IntegrityError:
        # Another connect for the same new URL made the shop first (PostgreSQL: both looked,
        # both inserted); it exists now, so the second try finds it.
        async with db.write() as session:
            return await _start(session, vault, url, public_url, now)


async def _start(
    session: AsyncSession, vault: Vault, url: str, public_url: str, now: datetime
) -> Started:
    await purge_stale_pending(session, now)  # a stream of connects cannot pile shops up
    shop = await session.scalar(
        select(Shop).where(Shop.platform == Platform.WOOCOMMERCE.value, Shop.domain == url)
    )
    if shop is None:
        shop = await shops.add_pending_woocommerce(session, vault, url=url)
    elif shop.status == ShopStatus.DISABLED:
        raise _disabled(shop.id)
    nonce = random_token(32)
    session.add(
        WooConnect(
            shop_id=shop.id,
            nonce_hash=sha256_hex(nonce),
            created_at=now,
            expires_at=now + CONNECT_LIFETIME,
        )
    )
    await session.flush()
    callback, return_url = _paths(public_url, shop.id)
    query = urlencode(
        {
            "app_name": APP_NAME,
            "scope": SCOPE,
            "user_id": nonce,
            "return_url": return_url,
            "callback_url": callback,
        }  # fmt: skip
    )
    return Started(shop.id, f"{url}/wc-auth/v1/authorize?{query}")


async def purge_stale_pending(session: AsyncSession, now: datetime) -> int:
    """Remove pending shops that never got keys and whose attempts all expired more than
    :data:`PENDING_KEPT` ago (what strangers pressing Connect leave behind); how many."""
    cutoff = now - PENDING_KEPT
    live = exists().where(
        WooConnect.shop_id == Shop.id,
        or_(WooConnect.expires_at > cutoff, WooConnect.completed_at.is_not(None)),
    )
    result = await session.execute(
        delete(Shop)
        .where(
            Shop.platform == Platform.WOOCOMMERCE.value,
            Shop.status == ShopStatus.PENDING,
            Shop.created_at < cutoff,
            ~live,
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def _attempt(
    session: AsyncSession, shop_id: int, nonce: str, now: datetime, *, lock: bool
) -> WooConnect:
    query = select(WooConnect).where(
        WooConnect.shop_id == shop_id, WooConnect.nonce_hash == sha256_hex(nonce)
    )
    attempt = await session.scalar(query.with_for_update() if lock else query)
    if attempt is None or not same_hash(nonce, attempt.nonce_hash):
        raise Unauthorized("no connect attempt of this shop has that user_id")
    if attempt.expires_at <= now:
        raise Unauthorized("the connect attempt expired; start again from the plugin")
    if attempt.completed_at is not None:
        raise Unauthorized("this connect attempt was used already")
    return attempt


async def accept_keys(
    db: Database,
    vault: Vault,
    shop_id: int,
    keys: Keys,
    public_url: str,
    now: datetime,
    *,
    allow_private: bool,
) -> None:
    """The callback: refuse what names no live attempt (before calling out), check the keys on
    the store and push the plugin's settings there, then keep the keys (the attempt checked
    again, locked, in the same transaction that uses it up)."""
    if keys.key_permissions != SCOPE:
        raise InvalidRequest(f"the keys must be read_write, not {keys.key_permissions!r}")
    async with db.read() as session:
        await _attempt(session, shop_id, keys.user_id, now, lock=False)
        shop = await session.get(Shop, shop_id)
        if shop is None:
            raise NotFound(f"no shop {shop_id}")
        if shop.status == ShopStatus.DISABLED:
            raise _disabled(shop_id)
        url = shop.api_url or shop.domain
        creds = vault.open(shop.credentials)
    # The shop was made from a checked URL; its name is resolved again now, as it is called.
    await checked_store_url(url, allow_private=allow_private)
    secret = creds.setdefault("storefront_secret", shops.new_storefront_secret())
    new = {**creds, "consumer_key": keys.consumer_key, "consumer_secret": keys.consumer_secret}
    # A client of its own: a connect is rare, and this process may call no store otherwise.
    async with httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False) as http:
        client = WooCommerceClient.from_credentials(http, url=url, credentials=new)
        try:
            await client.list_webhooks()  # needs read_write keys of a store manager
        except StoreError as exc:
            raise KeysRefused(f"the store refused the new keys: {exc.message}") from exc
        try:
            await push_settings(client, public_url, shop_id, str(secret))
        except StoreError as exc:
            raise SettingsNotPushed(
                "the store did not take the Vafa club plugin's settings (is the plugin "
                f"installed and active?): {exc.message}"
            ) from exc
    async with db.write() as session:
        await _receive_keys(session, vault, shop_id, keys, str(secret), now)


async def push_settings(
    client: WooCommerceClient, vafa_url: str | None, shop_id: int, storefront_secret: str
) -> None:
    """Write the companion plugin's settings on the store (WooCommerce's settings API): the
    secret goes only to the store the keys open, never through a browser."""
    values = {"vafa_url": vafa_url, "shop_id": str(shop_id), "storefront_secret": storefront_secret}
    for option in SETTINGS_OPTIONS:
        value = values[option]
        if value is not None:
            await client.set_setting(SETTINGS_GROUP, option, value)


async def _receive_keys(
    session: AsyncSession,
    vault: Vault,
    shop_id: int,
    keys: Keys,
    storefront_secret: str,
    now: datetime,
) -> Shop:
    """Keep keys :func:`accept_keys` checked on the store, with the storefront secret it
    pushed there (a shop from before storefront secrets gets its first one here)."""
    attempt = await _attempt(session, shop_id, keys.user_id, now, lock=True)
    shop = await session.get(Shop, shop_id, with_for_update=True, populate_existing=True)
    if shop is None:
        raise NotFound(f"no shop {shop_id}")
    if shop.status == ShopStatus.DISABLED:  # disabled while the store was being called
        raise _disabled(shop_id)
    creds: dict[str, Any] = vault.open(shop.credentials)
    creds["consumer_key"] = keys.consumer_key
    creds["consumer_secret"] = keys.consumer_secret
    creds["key_id"] = keys.key_id
    creds.setdefault("storefront_secret", storefront_secret)
    shop.credentials = vault.seal(creds)
    if shop.status in (ShopStatus.PENDING, ShopStatus.PAUSED):
        await shops.set_status(session, shop_id, ShopStatus.ACTIVE, "connected by the store owner")
    attempt.completed_at = now
    await sync_tasks.enqueue_webhook_sync(session, shop_id)
    await sync_tasks.enqueue_backfill(
        session, shop_id, since=now - timedelta(days=BACKFILL_DAYS), until=now
    )
    await session.flush()
    return shop


async def returned(db: Database, shop_id: int, nonce: str) -> bool:
    """Whether the attempt the browser comes back from gave Vafa its keys (nothing else is
    shown: the value is in the authorize URL, anyone who started the connect has it)."""
    async with db.read() as session:
        attempt = await session.scalar(
            select(WooConnect).where(
                WooConnect.shop_id == shop_id, WooConnect.nonce_hash == sha256_hex(nonce)
            )
        )
    return attempt is not None and attempt.completed_at is not None


async def rotate_storefront_secret(
    db: Database, vault: Vault, shop_id: int, vafa_url: str | None
) -> tuple[str, str | None]:
    """A new storefront secret (the old one is refused from now on), then pushed to the store
    if the shop has keys: best effort. Returns the secret and, when it did not reach the
    store, why (the owner then pastes it into the plugin's settings)."""
    async with db.write() as session:
        secret = await shops.rotate_storefront_secret(session, vault, shop_id)
        shop = await session.get(Shop, shop_id)
        assert shop is not None  # just locked and changed
        url, status = shop.api_url or shop.domain, shop.status
        creds = vault.open(shop.credentials)
    if not creds.get("consumer_key"):
        return secret, "the shop has no keys for its store yet, so the secret was not sent there"
    if status == ShopStatus.DISABLED:
        return secret, "the shop is disabled: Vafa calls its store no more, nothing was sent"
    async with httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False) as http:
        client = WooCommerceClient.from_credentials(http, url=url, credentials=creds)
        try:
            await push_settings(client, vafa_url, shop_id, secret)
        except StoreError as exc:
            return secret, f"the store did not take it ({exc.message})"
    return secret, None
