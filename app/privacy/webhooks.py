"""Shopify's compliance topics and app/uninstalled, as the event processor meets them.

Called for every stored event before it is parsed for the ledger (one line in
:mod:`app.webhooks.processing`); returns False for any other topic. A compliance request is
recorded here, in the event's transaction, and carried out at the next scheduler tick
(:mod:`app.privacy.tasks`); an uninstall pauses the shop at once."""

from __future__ import annotations

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from app.connectors._json import JsonObj, get_id, get_obj, get_str, require_obj
from app.connectors.base import Platform
from app.errors import InvalidPayload
from app.limits import MAX_EMAIL_LENGTH
from app.privacy import service
from app.privacy.models import RequestKind
from app.shops.service import ShopContext

UNINSTALLED = "app/uninstalled"
COMPLIANCE = {
    "customers/data_request": RequestKind.EXPORT,
    "customers/redact": RequestKind.REDACT_CUSTOMER,
    "shop/redact": RequestKind.REDACT_SHOP,
}
# Where a compliance body lists the orders it is about.
_ORDERS_KEY = {"customers/data_request": "orders_requested", "customers/redact": "orders_to_redact"}


async def handle(
    session: AsyncSession, shop: ShopContext, event_id: int, topic: str, body: bytes
) -> bool:
    """Act on a privacy topic; False when ``topic`` is not one (raises InvalidPayload for a
    body that is not what the topic promises)."""
    if shop.platform != Platform.SHOPIFY or (topic != UNINSTALLED and topic not in COMPLIANCE):
        return False
    if topic == UNINSTALLED:
        await service.pause_uninstalled(session, shop.shop_id)
        return True
    try:
        payload = require_obj(orjson.loads(body), topic)
    except orjson.JSONDecodeError as exc:
        raise InvalidPayload(f"the {topic} body is not JSON") from exc
    kind = COMPLIANCE[topic]
    if kind == RequestKind.REDACT_SHOP:
        await service.record(session, shop.shop_id, kind, source="webhook", event_id=event_id)
        return True
    customer = get_obj(payload, "customer", topic)
    if customer is None:
        raise InvalidPayload(f"{topic}.customer is missing")
    where = f"{topic}.customer"
    details: dict[str, object] = {"orders": _order_ids(payload, _ORDERS_KEY[topic], topic)}
    data_request = get_obj(payload, "data_request", topic)
    if data_request is not None:
        details["platform_request_id"] = get_id(data_request, "id", f"{topic}.data_request")
    if kind == RequestKind.REDACT_CUSTOMER:  # found, then dropped, by the redaction
        email = get_str(customer, "email", where, max_length=MAX_EMAIL_LENGTH)
        phone = get_str(customer, "phone", where, max_length=MAX_EMAIL_LENGTH)
        details["emails"] = [email] if email else []
        details["phones"] = [phone] if phone else []
    await service.record(
        session,
        shop.shop_id,
        kind,
        source="webhook",
        customer_id=get_id(customer, "id", where),
        event_id=event_id,
        details=details,
    )
    return True


def _order_ids(payload: JsonObj, key: str, where: str) -> list[str]:
    value = payload.get(key) or []
    if not isinstance(value, list):
        raise InvalidPayload(f"{where}.{key} must be a list")
    ids = []
    for i, item in enumerate(value):
        if isinstance(item, bool) or not isinstance(item, int | str):
            raise InvalidPayload(f"{where}.{key}[{i}] is not an order id")
        ids.append(str(item))
    return ids
