"""One stored event → its effects, inside the caller's transaction."""

from __future__ import annotations

from datetime import datetime

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from app.connectors.base import (
    CustomerSnapshot,
    Ignored,
    OrderDeleted,
    OrderSnapshot,
    Platform,
    RefundSnapshot,
    Snapshot,
)
from app.connectors.registry import connector_for
from app.errors import InvalidPayload
from app.members import service as members
from app.program import reconcile
from app.program.settings import ProgramSettings


def parse_event(
    platform: Platform, topic: str, body: bytes, settings: ProgramSettings
) -> list[Snapshot]:
    connector = connector_for(platform)
    if topic not in connector.topics():
        return [Ignored(topic)]
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidPayload(f"the body of a {topic} webhook is not valid JSON: {exc}") from exc
    return connector.parse(topic, payload, settings.currency_exponents)


def order_of(snapshot: Snapshot) -> str | None:
    """The order a snapshot locks, so a batch can take its locks in one order."""
    if isinstance(snapshot, OrderSnapshot | RefundSnapshot | OrderDeleted):
        return snapshot.order_id
    return None


async def apply_snapshots(
    session: AsyncSession,
    shop_id: int,
    settings: ProgramSettings,
    snapshots: list[Snapshot],
    now: datetime,
) -> bool:
    """Apply the snapshots; returns False when none of them is acted on (an ignored event)."""
    acted = False
    for snap in snapshots:
        if isinstance(snap, OrderSnapshot):
            if snap.customer_id is not None:
                await members.apply_customer_stub(session, shop_id, snap.customer_id)
            await reconcile.apply_order(session, shop_id, settings, snap, now)
        elif isinstance(snap, RefundSnapshot):
            await reconcile.apply_refund(session, shop_id, settings, snap, now)
        elif isinstance(snap, OrderDeleted):
            await reconcile.apply_order_deleted(session, shop_id, settings, snap, now)
        elif isinstance(snap, CustomerSnapshot):
            await members.apply_customer(session, shop_id, snap)
        else:
            continue
        acted = True
    return acted
