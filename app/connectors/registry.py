"""One connector instance per platform."""

from __future__ import annotations

from collections.abc import Mapping

import orjson

from app.connectors.base import Connector, Ignored, Platform, Snapshot
from app.connectors.shopify import ShopifyConnector
from app.connectors.woocommerce import WooCommerceConnector
from app.errors import InvalidPayload

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


def parse_body(
    platform: Platform, topic: str, body: bytes, exponents: Mapping[str, int]
) -> list[Snapshot]:
    """A raw delivery → its snapshots; a topic the connector does not act on is ``Ignored``.
    Raises InvalidPayload for a body that is not what its topic promises. Intake calls it to
    store such a body as rejected (answered 200), the worker to apply the stored one."""
    connector = connector_for(platform)
    if topic not in connector.topics():
        return [Ignored(topic)]
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidPayload(f"the body of a {topic} webhook is not valid JSON: {exc}") from exc
    return connector.parse(topic, payload, exponents)
