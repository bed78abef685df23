"""The WooCommerce connector."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from app.connectors.base import Platform, Snapshot, WebhookHeaders
from app.connectors.woocommerce import parse as _parse
from app.connectors.woocommerce import webhooks as _webhooks

__all__ = ["WooCommerceConnector"]


class WooCommerceConnector:
    """Pure functions over WooCommerce deliveries; see :class:`app.connectors.base.Connector`."""

    platform: ClassVar[Platform] = Platform.WOOCOMMERCE

    def topics(self) -> frozenset[str]:
        return _parse.TOPICS

    def verify_signature(self, raw_body: bytes, signature: str | None, secrets: list[str]) -> bool:
        return _webhooks.verify_signature(raw_body, signature, secrets)

    def dedupe_key(self, topic: str, raw_body: bytes, headers: WebhookHeaders) -> str:
        return _webhooks.dedupe_key(topic, raw_body, headers)

    def parse(self, topic: str, payload: object, exponents: Mapping[str, int]) -> list[Snapshot]:
        return _parse.parse(topic, payload, exponents)
