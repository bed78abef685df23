"""Accept a delivery: verify it, store it once, say so. Nothing else happens before the 200.

Every authentic (correctly signed) delivery is answered 200 and stored, whatever its body: a
platform that keeps hearing errors drops the subscription (Shopify after its retries,
WooCommerce after 5 failures). A body Vafa cannot use is kept as ``rejected`` with the reason,
for ``vafa events replay --status rejected`` once the parser is fixed."""

from __future__ import annotations

import hashlib
import secrets
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import orjson
import structlog

from app.connectors.base import Connector, Platform, WebhookHeaders
from app.connectors.registry import connector_for, parse_body
from app.db import Database
from app.errors import InvalidPayload, Unauthorized
from app.orm import table_of, utcnow
from app.shops.models import ShopStatus
from app.shops.service import ShopContext
from app.webhooks.group_commit import GroupWriter
from app.webhooks.models import EventStatus, WebhookEvent

log = structlog.get_logger(__name__)

# The same answer for an unknown shop and a bad signature: a caller learns nothing about which
# shops exist.
UNAUTHORIZED = "the webhook signature is missing or invalid"
# What an unknown shop's delivery is checked against, so that it costs the HMAC a known shop's
# does (no timing oracle). Random per process: nothing can be signed with it.
_NO_SHOP_SECRETS = [secrets.token_hex(32)]


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Accepted:
    outcome: Outcome
    event_id: int | None
    shop_id: int


@dataclass(frozen=True, slots=True)
class _Kept:
    """How a signed delivery is stored."""

    status: str
    dedupe_key: str
    reason: str | None = None  # why it was rejected


class Intake:
    def __init__(self, db: Database, on_accepted: Callable[[], None] | None = None) -> None:
        self.db = db
        self._on_accepted = on_accepted
        self._writer = GroupWriter(db, table_of(WebhookEvent))

    async def close(self) -> None:
        await self._writer.close()

    async def accept(
        self,
        platform: Platform,
        shop: ShopContext | None,
        headers: WebhookHeaders,
        raw: bytes,
    ) -> Accepted:
        """Store a delivery to ``platform``'s endpoint for ``shop`` (None: no such shop).
        Raises Unauthorized unless it is signed with the secret of a shop that receives (an
        active one, or one paused because its store refused Vafa's calls: its deliveries are
        still kept)."""
        connector = connector_for(platform)
        known = (
            shop is not None and shop.status in ShopStatus.RECEIVING and shop.platform == platform
        )
        keys = list(shop.webhook_secrets) if shop is not None and known else _NO_SHOP_SECRETS
        signed = connector.verify_signature(raw, headers.signature, keys)
        if shop is None or not known or not signed:
            log.warning(
                "webhook signature rejected",
                platform=platform.value,
                shop_id=shop.shop_id if shop is not None else None,
                shop_domain=headers.shop_domain or None,
                reason=(
                    "no signature"
                    if not headers.signature
                    else "unknown or disabled shop"
                    if not known
                    else "signature does not match"
                ),
            )
            raise Unauthorized(UNAUTHORIZED)

        kept = _classify(connector, shop, headers, raw)
        event_id = await self._store(shop, headers, raw, kept.dedupe_key, kept.status, kept.reason)
        if event_id is None:
            return Accepted(Outcome.DUPLICATE, None, shop.shop_id)
        if kept.status == EventStatus.REJECTED:
            # The reason names what is wrong, never a value from the body.
            log.warning(
                "webhook rejected",
                event_id=event_id,
                shop_id=shop.shop_id,
                topic=headers.topic[:128],
                reason=kept.reason,
            )
            return Accepted(Outcome.REJECTED, event_id, shop.shop_id)
        if kept.status == EventStatus.IGNORED:
            return Accepted(Outcome.IGNORED, event_id, shop.shop_id)
        if self._on_accepted is not None:
            self._on_accepted()
        return Accepted(Outcome.ACCEPTED, event_id, shop.shop_id)

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


def _classify(
    connector: Connector, shop: ShopContext, headers: WebhookHeaders, raw: bytes
) -> _Kept:
    platform = shop.platform
    # Keyed by the body: a redelivery of the same unusable body is a duplicate.
    rejected_key = f"{platform}:rejected:{_sha256(raw)}"
    if not headers.topic:
        return _Kept(EventStatus.REJECTED, rejected_key, "the delivery names no topic")
    if headers.topic not in connector.topics():
        return _Kept(EventStatus.IGNORED, f"{platform}:ignored:{headers.topic}:{_sha256(raw)}")
    try:
        parse_body(platform, headers.topic, raw, shop.settings.currency_exponents)
        return _Kept(EventStatus.PENDING, connector.dedupe_key(headers.topic, raw, headers))
    except InvalidPayload as exc:
        return _Kept(EventStatus.REJECTED, rejected_key, exc.message)
    except Exception as exc:
        # A parser bug must not cost the subscription either. The kind and place only: the
        # exception's message may quote the body.
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        where = f"{Path(frame.filename).name}:{frame.lineno}"
        return _Kept(
            EventStatus.REJECTED,
            rejected_key,
            f"the parser failed: {type(exc).__name__} at {where}",
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
