"""Creating shops and finding them again: by platform domain (webhooks) or by admin key (API)."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson
from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.connectors.base import Platform
from app.crypto import Vault, random_token, same_hash, sha256_hex
from app.db import Database
from app.errors import Conflict, InvalidRequest, NotFound
from app.orm import utcnow
from app.program import service as program
from app.program import versions
from app.program.settings import ProgramSettings
from app.shops.cache import ExpiringLRU
from app.shops.models import Shop, ShopStatus

_MYSHOPIFY = re.compile(r"^[a-z0-9][a-z0-9-]*[a-z0-9]\.myshopify\.com$")
ADMIN_KEY_PREFIX = "vafa_sk_"
_SHOP_ID = re.compile(r"[0-9]{1,18}")  # ASCII digits that fit a BIGINT
ACTIVE, PAUSED, DISABLED = ShopStatus.ACTIVE, ShopStatus.PAUSED, ShopStatus.DISABLED
# Shops a process keeps decrypted at once: far more than one deployment serves, and a bound on
# what a stream of requests naming fresh shop ids, domains or keys can make it hold.
MAX_CACHED_SHOPS = 10_000
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class NewShop:
    shop_id: int
    platform: Platform
    admin_api_key: str
    webhook_url: str
    webhook_secret: str | None = None  # WooCommerce: the secret its webhooks are signed with
    # WooCommerce: signs the companion plugin's shopper tokens (DESIGN.md "Storefront").
    storefront_secret: str | None = None

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
        if self.storefront_secret is not None:
            shown["storefront_secret"] = self.storefront_secret
        return shown


def normalize_shopify_domain(domain: str) -> str:
    value = domain.strip().lower()
    value = value.removeprefix("https://").removeprefix("http://").rstrip("/")
    if not _MYSHOPIFY.match(value):
        raise InvalidRequest(f"{domain!r} is not a shop domain of the form name.myshopify.com")
    return value


def normalize_store_url(url: str) -> str:
    """One spelling per store: scheme and host lower-cased, no user:password@, no default port,
    no query or fragment, no trailing slash (a WordPress in a sub-folder keeps its path)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    try:
        host, port = parts.hostname, parts.port
    except ValueError as exc:  # a port that is not a number, or out of range
        raise InvalidRequest(f"{url!r} is not a store URL such as https://shop.example") from exc
    if scheme not in ("http", "https") or not host or not host.rstrip("."):
        raise InvalidRequest(f"{url!r} is not a store URL such as https://shop.example")
    host = host.rstrip(".")
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    return f"{scheme}://{host}{parts.path.rstrip('/')}"


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
    admin_key = _new_admin_key(shop)
    await session.flush()
    await versions.record_first(session, shop.id)  # its program: version 1, from its settings
    return shop, admin_key


def _new_admin_key(shop: Shop) -> str:
    """Give ``shop`` a new admin API key; only its hash is stored."""
    # The shop id is part of the key so that a request names its shop before the hash check.
    admin_key = f"{ADMIN_KEY_PREFIX}{shop.id}_{random_token()}"
    shop.admin_key_hash = sha256_hex(admin_key)
    return admin_key


def new_webhook_secret() -> str:
    # Letters and digits only: WooCommerce HTML-decodes the secret before signing with it.
    return random_token(24).replace("-", "a").replace("_", "b")


async def add_shopify(
    session: AsyncSession,
    vault: Vault,
    *,
    domain: str,
    access_token: str | None = None,
    api_secret: str | None = None,
    client_id: str | None = None,
    client_secret: str | None = None,
    api_url: str | None = None,
    settings: ProgramSettings | None = None,
) -> NewShop:
    """A shop with a fixed Admin API token and its app's API secret, or with its app's client id
    and secret (the client credentials grant: Vafa obtains and renews the token itself). Either
    secret signs the shop's webhooks."""
    credentials = shopify_credentials(
        access_token=access_token,
        api_secret=api_secret,
        client_id=client_id,
        client_secret=client_secret,
    )
    shop_domain = normalize_shopify_domain(domain)
    shop, key = await _create(
        session,
        vault,
        platform=Platform.SHOPIFY,
        domain=shop_domain,
        api_url=api_url.rstrip("/") if api_url else f"https://{shop_domain}",
        credentials=credentials,
        settings=settings or ProgramSettings(),
    )
    return NewShop(
        shop_id=shop.id,
        platform=Platform.SHOPIFY,
        admin_api_key=key,
        webhook_url="/webhooks/shopify",
    )


def shopify_credentials(
    *,
    access_token: str | None,
    api_secret: str | None,
    client_id: str | None,
    client_secret: str | None,
) -> dict[str, object]:
    """What a Shopify shop's sealed credentials hold: exactly one of the two pairs, whole."""
    token_pair, client_pair = (access_token, api_secret), (client_id, client_secret)
    if any(token_pair) and any(client_pair):
        raise InvalidRequest(
            "give either an access token and API secret or a client id and client secret, not both"
        )
    if any(client_pair):
        if not client_id or not client_secret:
            raise InvalidRequest("both a client id and a client secret are required")
        return {
            "client_id": client_id,
            "client_secret": client_secret,
            "api_secrets": [client_secret],
        }
    if not access_token or not api_secret:
        raise InvalidRequest(
            "both an access token and an API secret are required (or a client id and client secret)"
        )
    return {"access_token": access_token, "api_secrets": [api_secret]}


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
    """A store with its REST keys. A store only ``pending`` the key exchange (someone pressed
    Connect, the keys never came) is taken over: it gets these keys and becomes active."""
    if not consumer_key or not consumer_secret:
        raise InvalidRequest("both a consumer key and a consumer secret are required")
    keys = {"consumer_key": consumer_key, "consumer_secret": consumer_secret}
    pending = await session.scalar(
        select(Shop)
        .where(
            Shop.platform == Platform.WOOCOMMERCE.value,
            Shop.domain == normalize_store_url(url),
            Shop.status == ShopStatus.PENDING,
        )
        .with_for_update()
    )
    if pending is not None:
        return await _take_over(session, vault, pending, keys, webhook_secret)
    secret = webhook_secret or new_webhook_secret()
    shop, key, creds = await _create_woocommerce(session, vault, url, secret, keys, settings)
    return NewShop(
        shop_id=shop.id,
        platform=Platform.WOOCOMMERCE,
        admin_api_key=key,
        webhook_secret=secret,
        webhook_url=webhook_path(shop.id),
        storefront_secret=str(creds["storefront_secret"]),
    )


async def _create_woocommerce(
    session: AsyncSession,
    vault: Vault,
    url: str,
    webhook_secret: str,
    keys: dict[str, str],
    settings: ProgramSettings | None,
) -> tuple[Shop, str, dict[str, object]]:
    store_url = normalize_store_url(url)
    credentials: dict[str, object] = {
        **keys, "webhook_secrets": [webhook_secret], "storefront_secret": new_storefront_secret(),
    }  # fmt: skip
    shop, key = await _create(
        session, vault, platform=Platform.WOOCOMMERCE, domain=store_url, api_url=store_url,
        credentials=credentials, settings=settings or ProgramSettings(),
    )  # fmt: skip
    return shop, key, credentials


async def _take_over(
    session: AsyncSession,
    vault: Vault,
    shop: Shop,
    keys: dict[str, str],
    webhook_secret: str | None,
) -> NewShop:
    creds = vault.open(shop.credentials)
    creds.update(keys)
    if webhook_secret:
        creds["webhook_secrets"] = [webhook_secret]
    storefront = creds.setdefault("storefront_secret", new_storefront_secret())
    shop.credentials = vault.seal(creds)
    await set_status(session, shop.id, ACTIVE, "added with keys by the operator")
    # The pending shop's key was never shown to anyone: this one is the first.
    key = _new_admin_key(shop)
    await session.flush()
    return NewShop(
        shop_id=shop.id,
        platform=Platform.WOOCOMMERCE,
        admin_api_key=key,
        webhook_secret=str(creds["webhook_secrets"][0]),
        webhook_url=webhook_path(shop.id),
        storefront_secret=str(storefront),
    )


async def add_pending_woocommerce(session: AsyncSession, vault: Vault, *, url: str) -> Shop:
    """A store being connected by the key exchange (app.woocommerce_app): its secrets made now,
    its keys to come; ``pending`` until they do."""
    shop, _, _ = await _create_woocommerce(session, vault, url, new_webhook_secret(), {}, None)
    shop.status = ShopStatus.PENDING
    shop.status_reason = "waiting for the store's API keys"
    await session.flush()
    return shop


def new_storefront_secret() -> str:
    """Signs the companion plugin's shopper tokens (HS256): 256 bits, letters and digits."""
    return new_webhook_secret() + new_webhook_secret()


async def _locked(session: AsyncSession, shop_id: int) -> Shop:
    shop = await session.get(Shop, shop_id, with_for_update=True)
    if shop is None:
        raise NotFound(f"no shop {shop_id}")
    return shop


async def rotate_webhook_secret(
    session: AsyncSession, vault: Vault, shop_id: int, new_secret: str
) -> None:
    """Make ``new_secret`` current and keep the previous one valid until the next rotation, as
    Shopify signs with the old secret for up to an hour after a rotation and a WooCommerce
    store's webhooks are updated one by one."""
    if not new_secret:
        raise InvalidRequest("the new secret must not be empty")
    shop = await _locked(session, shop_id)
    creds = vault.open(shop.credentials)
    field = "api_secrets" if shop.platform == Platform.SHOPIFY else "webhook_secrets"
    previous = [s for s in creds.get(field, []) if s != new_secret]
    creds[field] = [new_secret, *previous[:1]]
    if "client_secret" in creds:  # a Dev Dashboard app's one secret: tokens and signatures
        creds["client_secret"] = new_secret
    shop.credentials = vault.seal(creds)


async def rotate_storefront_secret(session: AsyncSession, vault: Vault, shop_id: int) -> str:
    """A new storefront secret for a WooCommerce shop (returned this once): tokens signed with
    the old one are refused from now on (within the shop cache's lifetime)."""
    shop = await _locked(session, shop_id)
    if shop.platform != Platform.WOOCOMMERCE:
        raise InvalidRequest(f"shop {shop_id} is not a WooCommerce shop: no storefront secret")
    creds = vault.open(shop.credentials)
    creds["storefront_secret"] = secret = new_storefront_secret()
    shop.credentials = vault.seal(creds)
    await session.flush()
    return secret


async def rotate_admin_key(session: AsyncSession, shop_id: int) -> str:
    """A new admin API key for the shop (returned this once); the old one stops working."""
    return _new_admin_key(await _locked(session, shop_id))


async def set_status(
    session: AsyncSession, shop_id: int, status: str, reason: str | None = None
) -> Shop:
    """``active``, ``paused`` or ``disabled`` (see :class:`ShopStatus`): a disabled shop has
    its webhooks and API requests refused (401); a paused one's jobs wait."""
    if status not in ShopStatus.ALL:
        raise InvalidRequest(
            f"a shop's status is one of {', '.join(ShopStatus.ALL)}, not {status!r}"
        )
    shop = await _locked(session, shop_id)
    shop.status = status
    shop.status_reason = reason
    shop.status_changed_at = utcnow()
    await session.flush()
    return shop


async def pause(session: AsyncSession, shop_id: int, reason: str) -> bool:
    """Pause an active shop's calls to its store (it refused the credentials); returns whether
    this paused it. A disabled shop stays disabled. No lock: the one conditional update."""
    result = await session.execute(
        update(Shop)
        .where(Shop.id == shop_id, Shop.status == ACTIVE)
        .values(status=PAUSED, status_reason=reason[:2000], status_changed_at=utcnow())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def resume(session: AsyncSession, shop_id: int) -> Shop:
    """Active again after a pause (the credentials fixed): its waiting jobs run."""
    shop = await _locked(session, shop_id)
    if shop.status == DISABLED:
        raise Conflict(f"shop {shop_id} is disabled, not paused: `vafa shop enable` it")
    return await set_status(session, shop_id, ACTIVE)


def _setting_value(raw: str) -> object:
    """What ``--set key=VALUE`` means: JSON where it is an object, a list or null
    (``currency_exponents={"IRR":0}``, ``expiry_days=null``), else the text itself, which the
    settings model reads as a number or a boolean as its field wants (so 0.1 stays exact)."""
    text = raw.strip()
    if text[:1] in ("{", "[") or text == "null":
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise InvalidRequest(f"{raw!r} is not valid JSON: {exc}") from exc
    return text


async def update_settings(
    session: AsyncSession, shop_id: int, changes: Mapping[str, str]
) -> ProgramSettings:
    """Apply ``changes`` (setting name → value as typed) to a shop's program settings, all or
    none, validated by ProgramSettings, and publish them as the program's next version, in
    force from now (a ``points_per_unit`` change replaces its ``purchase`` rule)."""
    known = ProgramSettings.model_fields
    for key in changes:
        if key not in known:
            raise InvalidRequest(f"unknown setting {key!r}; the settings are: {', '.join(known)}")
    shop = await _locked(session, shop_id)
    merged = {**(shop.settings or {}), **{key: _setting_value(v) for key, v in changes.items()}}
    try:
        settings = ProgramSettings.model_validate(merged)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidRequest(f"invalid settings: {problems}") from exc
    before = ProgramSettings.from_json(shop.settings)
    rate_changed = settings.points_per_unit != before.points_per_unit
    latest = (await versions.load(session, shop_id)).latest
    document = program.with_settings(latest.document, settings, rate_changed)
    await program.publish(session, shop_id, document, utcnow())
    shop.settings = settings.to_json()
    await session.flush()
    return settings


async def update_display(
    session: AsyncSession, shop_id: int, *, currency_display: str | None, widget_colour: str | None
) -> ProgramSettings:
    """The admin settings page's choices (how amounts are shown, the widget's colour), beside
    the shop's other settings. Not a program policy: no new program version."""
    shop = await _locked(session, shop_id)
    merged = {
        **(shop.settings or {}), "currency_display": currency_display,
        "widget_colour": widget_colour,
    }  # fmt: skip
    try:
        settings = ProgramSettings.model_validate(merged)
    except ValidationError as exc:
        field_name = str(exc.errors()[0]["loc"][0])
        raise InvalidRequest(f"invalid {field_name}") from exc
    shop.settings = settings.to_json()
    await session.flush()
    return settings


def webhook_url(shop: Shop) -> str:
    return "/webhooks/shopify" if shop.platform == Platform.SHOPIFY else webhook_path(shop.id)


def describe(shop: Shop) -> dict[str, Any]:
    """What ``vafa shop show`` prints: never a secret nor the admin key's hash."""
    return {
        "shop_id": shop.id,
        "platform": shop.platform,
        "domain": shop.domain,
        "api_url": shop.api_url,
        "status": shop.status,
        "status_reason": shop.status_reason,
        "status_changed_at": (
            shop.status_changed_at.isoformat(timespec="seconds") if shop.status_changed_at else None
        ),
        "webhook_url": webhook_url(shop),
        "settings": ProgramSettings.from_json(shop.settings).to_json(),
        "created_at": shop.created_at.isoformat(timespec="seconds"),
        "updated_at": shop.updated_at.isoformat(timespec="seconds"),
    }


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
    # WooCommerce: signs the companion plugin's shopper tokens (None: the shop has none).
    storefront_secret: str | None = field(default=None, repr=False)

    def admin_key_matches(self, key: str) -> bool:
        return same_hash(key, self.admin_key_hash)


class ShopDirectory:
    """Shop lookups for the hot paths, cached for ``ttl`` seconds per process in bounded LRUs.

    A lookup that finds nothing is not remembered: it costs one indexed read, so a stream of
    unknown ids or domains cannot grow the caches nor push known shops out, and a shop added
    meanwhile is found at once. A change to a shop (a rotated secret or key, a new status or
    settings) reaches a running process within ``ttl`` seconds.
    """

    def __init__(
        self, db: Database, vault: Vault, ttl: float, max_shops: int = MAX_CACHED_SHOPS
    ) -> None:
        self._db = db
        self.vault = vault
        self._ttl = ttl
        self._by_id: ExpiringLRU[int, ShopContext] = ExpiringLRU(max_shops)
        self._by_domain: ExpiringLRU[tuple[str, str], int] = ExpiringLRU(max_shops)
        # Admin keys already checked (valid ones only, so a stranger cannot fill it): the API
        # hot path then skips parsing and hashing the key on every request.
        self._by_admin_key: ExpiringLRU[str, ShopContext] = ExpiringLRU(max_shops)

    def forget(self) -> None:
        self._by_id.clear()
        self._by_domain.clear()
        self._by_admin_key.clear()

    def cached(self) -> int:
        """Entries held in all the caches together."""
        return len(self._by_id) + len(self._by_domain) + len(self._by_admin_key)

    def _context(self, shop: Shop) -> ShopContext:
        creds = self.vault.open(shop.credentials)
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
            storefront_secret=creds.get("storefront_secret") or None,
        )

    async def _entry(self, shop_id: int) -> tuple[float, ShopContext] | None:
        now = time.monotonic()
        hit = self._by_id.get(shop_id, now)
        if hit is not None:
            return hit
        async with self._db.read() as session:
            shop = await session.get(Shop, shop_id)
            if shop is None:
                return None
            ctx = self._context(shop)
        self._by_id.put(shop_id, ctx, now + self._ttl)
        return now + self._ttl, ctx

    async def by_id(self, shop_id: int) -> ShopContext | None:
        entry = await self._entry(shop_id)
        return entry[1] if entry is not None else None

    async def by_domain(self, platform: Platform, domain: str) -> ShopContext | None:
        now = time.monotonic()
        key = (platform.value, domain.strip().lower())
        hit = self._by_domain.get(key, now)
        if hit is not None:
            return await self.by_id(hit[1])
        async with self._db.read() as session:
            shop_id = await session.scalar(
                select(Shop.id).where(Shop.platform == key[0], Shop.domain == key[1])
            )
        if shop_id is None:
            return None
        self._by_domain.put(key, shop_id, now + self._ttl)
        return await self.by_id(shop_id)

    async def by_admin_key(self, key: str) -> ShopContext | None:
        hit = self._by_admin_key.get(key, time.monotonic())
        if hit is not None:
            return hit[1]
        if not key.startswith(ADMIN_KEY_PREFIX):
            return None
        shop_part, _, secret = key[len(ADMIN_KEY_PREFIX) :].partition("_")
        if not _SHOP_ID.fullmatch(shop_part) or not secret:
            return None
        entry = await self._entry(int(shop_part))
        if entry is None:
            return None
        expires, ctx = entry
        if ctx.status not in ShopStatus.RECEIVING or not ctx.admin_key_matches(key):
            return None
        self._by_admin_key.put(key, ctx, expires)  # expires with the shop's entry
        return ctx
