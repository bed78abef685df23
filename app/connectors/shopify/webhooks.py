"""Shopify webhook signature and dedupe key (PLATFORMS.md S1.2, S1.5)."""

from __future__ import annotations

from app.connectors._webhooks import bounded_key, hmac_sha256_base64_matches, sha256_hex
from app.connectors.base import WebhookHeaders

_PLATFORM = "shopify"


def verify_signature(raw_body: bytes, signature: str | None, secrets: list[str]) -> bool:
    """``X-Shopify-Hmac-Sha256`` against the app's client secret(s)."""
    return hmac_sha256_base64_matches(raw_body, signature, (s.encode("utf-8") for s in secrets))


def dedupe_key(topic: str, raw_body: bytes, headers: WebhookHeaders) -> str:
    """The Event-Id is shared by every delivery of one event; older deliveries carry only the
    Webhook-Id; with neither, identical bodies of one topic are the same event."""
    # The topic is part of the key in case one merchant action's deliveries on several topics
    # share an event id: a refund's refunds/create must not hide its orders/updated.
    if headers.event_id:
        key = f"{_PLATFORM}:event:{topic}:{headers.event_id}"
    elif webhook_id := headers.extra.get("x-shopify-webhook-id"):
        key = f"{_PLATFORM}:webhook:{topic}:{webhook_id}"
    else:
        key = f"{_PLATFORM}:body:{topic}:{sha256_hex(raw_body)}"
    return bounded_key(_PLATFORM, key)
