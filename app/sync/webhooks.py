"""The webhook subscriptions Vafa needs on a store, made by Vafa itself at
``{VAFA_PUBLIC_URL}/webhooks/shopify`` or ``{VAFA_PUBLIC_URL}/webhooks/woocommerce/{shop_id}``:
one per topic, idempotently (``StoreClient.ensure_webhooks`` creates what is missing and
re-enables what WooCommerce disabled after failed deliveries)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import structlog

from app.config import get_settings
from app.connectors.base import Platform
from app.connectors.clients import StoreClients
from app.connectors.store import StoreWebhook
from app.shops.service import webhook_path

if TYPE_CHECKING:
    from app.jobs.kinds import JobContext

log = structlog.get_logger(__name__)

WEBHOOKS_SYNC = "webhooks.sync"

# The topics Vafa acts on (README, "Connect a store").
TOPICS: dict[Platform, tuple[str, ...]] = {
    Platform.SHOPIFY: (
        "orders/create",
        "orders/paid",
        "orders/updated",
        "orders/cancelled",
        "refunds/create",
        "customers/create",
        "customers/update",
    ),
    Platform.WOOCOMMERCE: (
        "order.created",
        "order.updated",
        "order.deleted",
        "order.restored",
        "customer.created",
        "customer.updated",
    ),
}

NO_PUBLIC_URL = (
    "VAFA_PUBLIC_URL is not set, so Vafa cannot tell the store where to deliver webhooks: set "
    "it to the URL the store reaches this Vafa at (e.g. https://vafa.example) and run "
    "`vafa shop sync-webhooks {shop_id}`, or point the store's webhooks at {path} by hand"
)


class NoPublicURL(Exception):
    def __init__(self, shop_id: int, platform: Platform) -> None:
        super().__init__(
            NO_PUBLIC_URL.format(shop_id=shop_id, path=delivery_path(shop_id, platform))
        )


def delivery_path(shop_id: int, platform: Platform) -> str:
    return "/webhooks/shopify" if platform == Platform.SHOPIFY else webhook_path(shop_id)


def delivery_address(public_url: str, shop_id: int, platform: Platform) -> str:
    return public_url.rstrip("/") + delivery_path(shop_id, platform)


def public_url() -> str | None:
    return (get_settings().public_url or "").strip() or None


async def sync_webhooks(
    stores: StoreClients, shop_id: int, platform: Platform, base_url: str | None
) -> list[StoreWebhook]:
    """Make the store's subscriptions Vafa's; raises NoPublicURL without a base URL."""
    if base_url is None:
        raise NoPublicURL(shop_id, platform)
    store = await stores.for_shop(shop_id)
    try:
        address = delivery_address(base_url, shop_id, platform)
        return await store.ensure_webhooks(address, TOPICS[platform])
    finally:
        await store.aclose()


async def run_sync(ctx: JobContext, payload: Mapping[str, Any]) -> None:
    """The ``webhooks.sync`` job: enqueued when a shop is added."""
    base_url = public_url()
    if base_url is None:  # unset since the shop was added: retrying would not set it
        log.warning("webhooks not synced: VAFA_PUBLIC_URL is not set", shop_id=ctx.shop.shop_id)
        return
    await sync_webhooks(ctx.stores, ctx.shop.shop_id, ctx.shop.platform, base_url)
