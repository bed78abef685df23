"""Creating shops and finding them again: by platform domain (webhooks) or by admin key (API)."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.connectors.base import Platform
from app.crypto import Vault, random_token, same_hash, sha256_hex
from app.db import Database
from app.errors import Conflict, InvalidRequest
from app.program.settings import ProgramSettings
from app.shops.models import Shop

_MYSHOPIFY = re.compile(r"^[a-z0-9][a-z0-9-]*[a-z0-9]\.myshopify\.com$")
ADMIN_KEY_PREFIX = "vafa_sk_"
_SHOP_ID = re.compile(r"[0-9]{1,18}")  # ASCII digits that fit a BIGINT


@dataclass(frozen=True, slots=True)
class NewShop:
    shop_id: int
    platform: Platform
    admin_api_key: str
    webhook_url: str
    webhook_secret: str | None = None  # WooCommerce: the secret its webhooks are signed with

    def as_json(self) -> dict[str, object]:
        """What ``vafa shop add-*`` prints (the admin key is shown this once)."""
        shown: dict[str, object] = {
            "shop_id": self.shop_id,
            "platform": self.platform.value,
            "admin_api_key": self.admin_api_key,
            "webhook_url": self.webhook_url,
        }
        if self.webhook_secret is not None:
            shown["webhook_secret"] = self.webhook_secret
        return shown


def normalize_shopify_domain(domain: str) -> str:
    value = domain.strip().lower()
    value = value.removeprefix("https://").removeprefix("http://").rstrip("/")
    if not _MYSHOPIFY.match(value):
        raise InvalidRequest(f"{domain!r} is not a shop domain of the form name.myshopify.com")
    return value


def normalize_store_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InvalidRequest(f"{url!r} is not a store URL such as https://shop.example")
    return f"{parts.scheme}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


def webhook_path(shop_id: int) -> str:
    return f"/webhooks/woocommerce/{shop_id}"


async def _create(
    session: AsyncSession,
    vault: Vault,
    *,
    platform: Platform,
    domain: str,
    api_url: str | None,
    credentials: dict[str, object],
    settings: ProgramSettings,
) -> tuple[Shop, str]:
    existing = await session.scalar(
        select(Shop.id).where(Shop.platform == platform.value, Shop.domain == domain)
    )
    if existing is not None:
        raise Conflict(f"a {platform.value} shop {domain} already exists (shop_id {existing})")
    shop = Shop(
        platform=platform.value,
        domain=domain,
        api_url=api_url,
        credentials=vault.seal(credentials),
        admin_key_hash="",
        settings=settings.to_json(),
    )
    session.add(shop)
    await session.flush()
    # The shop id is part of the key so that a request names its shop before the hash check.
    admin_key = f"{ADMIN_KEY_PREFIX}{shop.id}_{random_token()}"
    shop.admin_key_hash = sha256_hex(admin_key)
    await session.flush()
    return shop, admin_key


async def add_shopify(
    session: AsyncSession,
    vault: Vault,
    *,
    domain: str,
    access_token: str,
    api_secret: str,
    api_url: str | None = None,
    settings: ProgramSettings | None = None,
) -> NewShop:
    if not access_token or not api_secret:
        raise InvalidRequest("both an access token and an API secret are required")
    shop_domain = normalize_shopify_domain(domain)
    shop, key = await _create(
        session,
        vault,
        platform=Platform.SHOPIFY,
        domain=shop_domain,
        api_url=api_url.rstrip("/") if api_url else f"https://{shop_domain}",
        credentials={"access_token": access_token, "api_secrets": [api_secret]},
        settings=settings or ProgramSettings(),
    )
    return NewShop(
        shop_id=shop.id,
        platform=Platform.SHOPIFY,
        admin_api_key=key,
        webhook_url="/webhooks/shopify",
    )


async def add_woocommerce(
    session: AsyncSession,
    vault: Vault,
    *,
    url: str,
    consumer_key: str,
    consumer_secret: str,
    webhook_secret: str | None = None,
    settings: ProgramSettings | None = None,
) -> NewShop:
    if not consumer_key or not consumer_secret:
        raise InvalidRequest("both a consumer key and a consumer secret are required")
    store_url = normalize_store_url(url)
    # Letters and digits only: WooCommerce HTML-decodes the secret before signing with it.
    secret = webhook_secret or random_token(24).replace("-", "a").replace("_", "b")
    shop, key = await _create(
        session,
        vault,
        platform=Platform.WOOCOMMERCE,
        domain=store_url,
        api_url=store_url,
        credentials={
            "consumer_key": consumer_key,
            "consumer_secret": consumer_secret,
            "webhook_secrets": [secret],
        },
        settings=settings or ProgramSettings(),
    )
    return NewShop(
        shop_id=shop.id,
        platform=Platform.WOOCOMMERCE,
        admin_api_key=key,
        webhook_secret=secret,
        webhook_url=webhook_path(shop.id),
    )


async def rotate_webhook_secret(
    session: AsyncSession, vault: Vault, shop_id: int, new_secret: str
) -> None:
    """Make ``new_secret`` current and keep the previous one valid, as Shopify signs with the
    old secret for up to an hour after a rotation."""
    shop = await session.get(Shop, shop_id, with_for_update=True)
    if shop is None:
        raise InvalidRequest(f"no shop {shop_id}")
    creds = vault.open(shop.credentials)
    field = "api_secrets" if shop.platform == Platform.SHOPIFY else "webhook_secrets"
    creds[field] = [new_secret, *creds.get(field, [])[:1]]
    shop.credentials = vault.seal(creds)


@dataclass(frozen=True, slots=True)
class ShopContext:
    """What a request needs to know about its shop, decrypted once and cached briefly."""

    shop_id: int
    platform: Platform
    domain: str
    status: str
    webhook_secrets: tuple[str, ...] = field(repr=False)  # never in a log line or traceback
    admin_key_hash: str = field(repr=False)
    settings: ProgramSettings = field(default_factory=ProgramSettings)

    def admin_key_matches(self, key: str) -> bool:
        return same_hash(key, self.admin_key_hash)


class ShopDirectory:
    """Shop lookups for the hot paths, cached for ``ttl`` seconds per process."""

    def __init__(self, db: Database, vault: Vault, ttl: float) -> None:
        self._db = db
        self._vault = vault
        self._ttl = ttl
        self._by_id: dict[int, tuple[float, ShopContext | None]] = {}
        self._by_domain: dict[tuple[str, str], tuple[float, int | None]] = {}
        # Admin keys already checked (valid ones only, so a stranger cannot fill it): the API
        # hot path then skips parsing and hashing the key on every request.
        self._by_admin_key: dict[str, tuple[float, ShopContext]] = {}

    def forget(self) -> None:
        self._by_id.clear()
        self._by_domain.clear()
        self._by_admin_key.clear()

    def _context(self, shop: Shop) -> ShopContext:
        creds = self._vault.open(shop.credentials)
        platform = Platform(shop.platform)
        field = "api_secrets" if platform == Platform.SHOPIFY else "webhook_secrets"
        return ShopContext(
            shop_id=shop.id,
            platform=platform,
            domain=shop.domain,
            status=shop.status,
            webhook_secrets=tuple(s for s in creds.get(field, []) if s),
            admin_key_hash=shop.admin_key_hash,
            settings=ProgramSettings.from_json(shop.settings),
        )

    async def by_id(self, shop_id: int) -> ShopContext | None:
        now = time.monotonic()
        hit = self._by_id.get(shop_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        async with self._db.read() as session:
            shop = await session.get(Shop, shop_id)
            ctx = self._context(shop) if shop is not None else None
        self._by_id[shop_id] = (now + self._ttl, ctx)
        return ctx

    async def by_domain(self, platform: Platform, domain: str) -> ShopContext | None:
        now = time.monotonic()
        key = (platform.value, domain.strip().lower())
        hit = self._by_domain.get(key)
        if hit is None or hit[0] <= now:
            async with self._db.read() as session:
                shop_id = await session.scalar(
                    select(Shop.id).where(Shop.platform == key[0], Shop.domain == key[1])
                )
            hit = (now + self._ttl, shop_id)
            self._by_domain[key] = hit
        return await self.by_id(hit[1]) if hit[1] is not None else None

    async def by_admin_key(self, key: str) -> ShopContext | None:
        hit = self._by_admin_key.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        if not key.startswith(ADMIN_KEY_PREFIX):
            return None
        shop_part, _, secret = key[len(ADMIN_KEY_PREFIX) :].partition("_")
        if not _SHOP_ID.fullmatch(shop_part) or not secret:
            return None
        ctx = await self.by_id(int(shop_part))
        if ctx is None or ctx.status != "active" or not ctx.admin_key_matches(key):
            return None
        self._by_admin_key[key] = (self._by_id[ctx.shop_id][0], ctx)  # expires with the shop's
        return ctx
