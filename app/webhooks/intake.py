"""Accept a delivery: verify it, store it once, say so. Nothing else happens before the 200."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import orjson

from app.connectors.base import Platform, WebhookHeaders
from app.connectors.registry import connector_for, parse_body
from app.db import Database
from app.errors import InvalidPayload, Unauthorized
from app.orm import table_of, utcnow
from app.shops.service import ShopContext
from app.webhooks.group_commit import GroupWriter
from app.webhooks.models import EventStatus, WebhookEvent

# The same answer for an unknown shop and a bad signature: a caller learns nothing about which
# shops exist.
UNAUTHORIZED = "the webhook signature is missing or invalid"


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"


@dataclass(frozen=True, slots=True)
class Accepted:
    outcome: Outcome
    event_id: int | None


class Intake:
    def __init__(self, db: Database, on_accepted: Callable[[], None] | None = None) -> None:
        self.db = db
        self._on_accepted = on_accepted
        self._writer = GroupWriter(db, table_of(WebhookEvent))

    async def close(self) -> None:
        await self._writer.close()

    async def accept(
        self, shop: ShopContext | None, headers: WebhookHeaders, raw: bytes
    ) -> Accepted:
        if shop is None or shop.status != "active":
            raise Unauthorized(UNAUTHORIZED)
        connector = connector_for(shop.platform)
        if not connector.verify_signature(raw, headers.signature, list(shop.webhook_secrets)):
            raise Unauthorized(UNAUTHORIZED)
        if not headers.topic:
            raise InvalidPayload("the delivery names no topic")

        status = EventStatus.PENDING
        if headers.topic not in connector.topics():
            status = EventStatus.IGNORED
            dedupe_key = f"{shop.platform}:ignored:{headers.topic}:{_sha256(raw)}"
        else:
            try:
                parse_body(shop.platform, headers.topic, raw, shop.settings.currency_exponents)
                dedupe_key = connector.dedupe_key(headers.topic, raw, headers)
            except InvalidPayload as exc:
                # Signed by the platform but unusable: keep it for the operator, refuse it.
                await self._store(shop, headers, raw, f"{shop.platform}:rejected:{_sha256(raw)}",
                                  EventStatus.REJECTED, exc.message)  # fmt: skip
                raise InvalidPayload(
                    f"the {headers.topic} body was rejected: {exc.message}"
                ) from exc

        event_id = await self._store(shop, headers, raw, dedupe_key, status, None)
        if event_id is None:
            return Accepted(Outcome.DUPLICATE, None)
        if status == EventStatus.IGNORED:
            return Accepted(Outcome.IGNORED, event_id)
        if self._on_accepted is not None:
            self._on_accepted()
        return Accepted(Outcome.ACCEPTED, event_id)

    async def _store(
        self,
        shop: ShopContext,
        headers: WebhookHeaders,
        raw: bytes,
        dedupe_key: str,
        status: str,
        error: str | None,
    ) -> int | None:
        record = {
            "topic": headers.topic,
            "signature_ok": True,
            **({"event_id": headers.event_id} if headers.event_id else {}),
            **dict(headers.extra),
        }
        return await self._writer.insert(
            {
                "shop_id": shop.shop_id,
                "topic": headers.topic[:128],
                "dedupe_key": dedupe_key[:255],
                "status": status,
                "body": raw,
                "headers": orjson.dumps(record).decode(),
                "received_at": utcnow(),
                "attempts": 0,
                "last_error": error,
            }
        )


def _sha256(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def is_woocommerce_ping(content_type: str, raw: bytes, signature: str | None) -> bool:
    """WooCommerce confirms a new webhook with an unsigned form post ``webhook_id=<n>``."""
    return (
        signature is None
        and content_type.startswith("application/x-www-form-urlencoded")
        and raw.startswith(b"webhook_id=")
        and raw[len(b"webhook_id=") :].strip().isdigit()
    )


PLATFORM_HEADERS: dict[Platform, tuple[str, ...]] = {
    Platform.SHOPIFY: (
        "x-shopify-webhook-id",
        "x-shopify-triggered-at",
        "x-shopify-api-version",
        "x-shopify-shop-domain",
        "x-shopify-name",
    ),
    Platform.WOOCOMMERCE: (
        "x-wc-webhook-id",
        "x-wc-webhook-delivery-id",
        "x-wc-webhook-source",
        "x-wc-webhook-resource",
        "x-wc-webhook-event",
    ),
}
