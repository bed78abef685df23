"""Joining the club from the platform: a customer account created (Shopify
``customers/create``, WooCommerce ``customer.created``) earns the program's signup rules, once
per member — the same award as a ``signup`` event, whichever comes first.

Called at the end of a webhook batch (``app.webhooks.apply``), inside its transaction, with the
customers' accounts locked. A snapshot does not say which topic it came from, so the topics
are read from the batch's stored events, and only when a batch has customer snapshots.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.connectors.base import CustomerSnapshot
from app.engage import awards
from app.engage.service import SIGNUP, rules_for
from app.program import versions
from app.webhooks.models import WebhookEvent

if TYPE_CHECKING:
    from app.webhooks.apply import Parsed

CREATED_TOPICS = frozenset({"customers/create", "customer.created"})


async def after_customers(
    session: AsyncSession, shop_id: int, batch: Sequence[Parsed], now: datetime
) -> None:
    by_event = {
        p.event_id: [s.customer_id for s in p.snapshots if isinstance(s, CustomerSnapshot)]
        for p in batch
    }
    by_event = {event_id: ids for event_id, ids in by_event.items() if ids}
    if not by_event:
        return
    rows = await session.execute(
        select(WebhookEvent.id, WebhookEvent.topic).where(
            WebhookEvent.shop_id == shop_id, WebhookEvent.id.in_(sorted(by_event))
        )
    )
    created = sorted(
        {c for event_id, topic in rows.all() if topic in CREATED_TOPICS for c in by_event[event_id]}
    )
    if not created:
        return
    version = (await versions.load(session, shop_id)).at(now)
    rules = rules_for(version.document, SIGNUP)
    for customer_id in created:
        for rule in rules:
            await awards.award(
                session, shop_id, version, rule, customer_id,
                key=f"signup:{customer_id}:{rule.key}", source_type="signup", source_id=None,
                why="joined the club", when=now, now=now,
            )  # fmt: skip
