"""One connector instance per platform."""

from __future__ import annotations

from app.connectors.base import Connector, Platform
from app.connectors.shopify import ShopifyConnector
from app.connectors.woocommerce import WooCommerceConnector

_CONNECTORS: dict[Platform, Connector] = {
    Platform.SHOPIFY: ShopifyConnector(),
    Platform.WOOCOMMERCE: WooCommerceConnector(),
}


def connector_for(platform: Platform | str) -> Connector:
    """The connector for ``platform`` (raises ValueError for an unknown platform name)."""
    try:
        key = Platform(platform)
    except ValueError:
        raise ValueError(f"unknown platform {platform!r}") from None
    return _CONNECTORS[key]
