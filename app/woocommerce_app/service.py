"""The WooCommerce key exchange (PLATFORMS.md W2, "App key flow").

1. :func:`start` records a connect attempt for a store URL (the shop is created ``pending`` the
   first time: no webhooks accepted, no jobs run) and builds the store's authorize URL, whose
   ``user_id`` is a single-use unguessable value of ours.
2. The store owner approves on their store; WooCommerce POSTs the new keys to the callback, not
   signed: :func:`receive_keys` accepts them only for a live attempt of that shop whose value
   matches, checks them against the store, seals them and activates the shop, makes its
   webhooks and queues the first backfill. Anything else is refused with a non-200 answer, on
   which WooCommerce deletes the keys it made.
3. The browser returns to :func:`reveal` which shows, once, what the companion plugin needs.

Connecting the same store again reuses its shop: new keys replace the old, nothing is doubled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.connectors.base import Platform
from app.crypto import Vault, random_token, same_hash, sha256_hex
from app.errors import InvalidRequest, NotFound, Unauthorized
from app.shops import service as shops
from app.shops.models import Shop, ShopStatus
from app.sync import tasks as sync_tasks
from app.woocommerce_app.models import WooConnect

APP_NAME = "Vafa"
SCOPE = "read_write"
# Long enough for a store owner to log in to WordPress and approve; short for a leaked link.
CONNECT_LIFETIME = timedelta(hours=1)
# What the first backfill imports (recorded without points: the club starts now).
BACKFILL_DAYS = 365


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


async def start(
    session: AsyncSession, vault: Vault, store_url: str, public_url: str, now: datetime
) -> Started:
    url = shops.normalize_store_url(store_url)
    shop = await session.scalar(
        select(Shop).where(Shop.platform == Platform.WOOCOMMERCE.value, Shop.domain == url)
    )
    if shop is None:
        shop = await shops.add_pending_woocommerce(session, vault, url=url)
    elif shop.status == ShopStatus.DISABLED:
        raise InvalidRequest(f"shop {shop.id} is disabled by the operator; it cannot be connected")
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


class KeysRefused(InvalidRequest):
    code = "keys_refused"
    example = "the store refused the new keys: 401 woocommerce_rest_cannot_view"


async def check_attempt(session: AsyncSession, shop_id: int, nonce: str, now: datetime) -> None:
    """Refuse a callback that names no live, unused attempt of the shop (before calling out)."""
    attempt = await _attempt(session, shop_id, nonce, now)
    if attempt.completed_at is not None:
        raise Unauthorized("this connect attempt was used already")


async def _attempt(session: AsyncSession, shop_id: int, nonce: str, now: datetime) -> WooConnect:
    query = select(WooConnect).where(
        WooConnect.shop_id == shop_id, WooConnect.nonce_hash == sha256_hex(nonce)
    )
    attempt = await session.scalar(query.with_for_update())
    if attempt is None or not same_hash(nonce, attempt.nonce_hash):
        raise Unauthorized("no connect attempt of this shop has that user_id")
    if attempt.expires_at <= now:
        raise Unauthorized("the connect attempt expired; start again from the plugin")
    return attempt


async def receive_keys(
    session: AsyncSession,
    vault: Vault,
    shop_id: int,
    keys: Keys,
    now: datetime,
) -> Shop:
    """Store the keys of a checked attempt (``check`` has verified them against the store)."""
    attempt = await _attempt(session, shop_id, keys.user_id, now)
    if attempt.completed_at is not None:
        raise Unauthorized("this connect attempt was used already")
    if keys.key_permissions != SCOPE:
        raise InvalidRequest(f"the keys must be read_write, not {keys.key_permissions!r}")
    shop = await session.get(Shop, shop_id, with_for_update=True)
    if shop is None:
        raise NotFound(f"no shop {shop_id}")
    creds = vault.open(shop.credentials)
    creds["consumer_key"] = keys.consumer_key
    creds["consumer_secret"] = keys.consumer_secret
    creds["key_id"] = keys.key_id
    shop.credentials = vault.seal(creds)
    if shop.status in (ShopStatus.PENDING, ShopStatus.PAUSED):
        await shops.set_status(session, shop_id, ShopStatus.ACTIVE, "connected by the store owner")
    admin_key = await shops.rotate_admin_key(session, shop_id)
    attempt.completed_at = now
    attempt.reveal = vault.seal(
        {"admin_api_key": admin_key, "storefront_secret": creds["storefront_secret"]}
    )
    await sync_tasks.enqueue_webhook_sync(session, shop_id)
    await sync_tasks.enqueue_backfill(
        session, shop_id, since=now - timedelta(days=BACKFILL_DAYS), until=now
    )
    await session.flush()
    return shop


async def reveal(
    session: AsyncSession, vault: Vault, shop_id: int, nonce: str, now: datetime
) -> dict[str, Any]:
    """What the plugin's settings need, shown once after a completed connect."""
    attempt = await _attempt(session, shop_id, nonce, now)
    if attempt.completed_at is None:
        raise InvalidRequest("the store has not sent the keys for this attempt (declined?)")
    if attempt.reveal is None:
        raise Unauthorized("these settings were shown once already; rotate the keys to see new")
    shown = vault.open(attempt.reveal)
    attempt.reveal = None
    return {"shop_id": shop_id, **shown}
