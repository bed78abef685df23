"""Privacy requests: recorded, carried out, and what carrying one out does.

- An export gathers every row naming the customer (:mod:`app.privacy.sections`) and the webhook
  events about them, and keeps the document on its request for the store owner.
- A customer redaction clears the member's personal columns, anonymises every stored webhook
  body about them, erases earlier exports of them, and replaces their e-mail addresses and phone
  numbers wherever else a text or JSON column of the shop still quotes them. The customer id
  stays: it is the platform's opaque number, not the person, and the ledger's accounts, lots,
  holds and idempotency keys are keyed by it, so that a refund arriving later still reverses the
  points of the order it refunds. No posting changes, so every ledger invariant holds.
- A shop redaction deletes every row of every table carrying the shop's id, and the shop.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import String, Text, cast, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import InvalidRequest, MemberNotFound, NotFound
from app.members.models import Member
from app.orm import table_of, utcnow
from app.privacy import scrub, sections, tables
from app.privacy.models import PrivacyRequest, PrivacySettings, RequestKind, RequestStatus
from app.privacy.scrub import Person
from app.program.models import Order
from app.shops import service as shops
from app.webhooks.models import EventStatus, WebhookEvent

log = structlog.get_logger(__name__)

UNINSTALLED_REASON = "the app was uninstalled from the store; data kept until shop/redact"
MAX_ATTEMPTS = 5  # a webhook's request is tried at this many ticks before it is parked
_CHUNK = 500  # webhook bodies read at once
_EXPORT_FORMAT = 1  # the export document's version, for whoever reads it later


async def record(
    session: AsyncSession,
    shop_id: int,
    kind: str,
    *,
    source: str,
    customer_id: str | None = None,
    event_id: int | None = None,
    details: Mapping[str, Any] | None = None,
) -> PrivacyRequest:
    """Record a request (pending); flushes, never commits."""
    if kind not in RequestKind.ALL:
        raise InvalidRequest(f"a privacy request is one of {', '.join(RequestKind.ALL)}")
    if kind != RequestKind.REDACT_SHOP and not customer_id:
        raise InvalidRequest(f"a {kind} request names a customer")
    request = PrivacyRequest(
        shop_id=shop_id,
        kind=kind,
        customer_id=customer_id,
        source=source,
        event_id=event_id,
        details=dict(details or {}),
        status=RequestStatus.PENDING,
        attempts=0,
        requested_at=utcnow(),
    )
    session.add(request)
    await session.flush()
    return request


class ExportNotFound(NotFound):
    code = "export_not_found"
    example = "no export 7 in this shop"


async def for_member_now(
    session: AsyncSession, shop_id: int, kind: str, customer_id: str, source: str
) -> PrivacyRequest:
    """A store owner's export or redaction of a member (the admin API, the CLI): recorded and
    carried out in the caller's transaction."""
    member = await session.scalar(
        select(Member.id).where(Member.shop_id == shop_id, Member.customer_id == customer_id)
    )
    if member is None:
        raise MemberNotFound(f"no member with customer id {customer_id!r} in this shop")
    request = await record(session, shop_id, kind, source=source, customer_id=customer_id)
    await carry_out(session, request, utcnow())
    return request


async def exports(
    session: AsyncSession, shop_id: int, *, customer_id: str | None = None, limit: int = 100
) -> list[PrivacyRequest]:
    """The shop's exports, newest first."""
    query = (
        select(PrivacyRequest)
        .where(PrivacyRequest.shop_id == shop_id, PrivacyRequest.kind == RequestKind.EXPORT)
        .order_by(PrivacyRequest.id.desc())
        .limit(limit)
    )
    if customer_id is not None:
        query = query.where(PrivacyRequest.customer_id == customer_id)
    return list((await session.scalars(query)).all())


async def export(session: AsyncSession, shop_id: int, export_id: int) -> PrivacyRequest:
    request = await session.scalar(
        select(PrivacyRequest).where(
            PrivacyRequest.shop_id == shop_id,
            PrivacyRequest.id == export_id,
            PrivacyRequest.kind == RequestKind.EXPORT,
        )
    )
    if request is None:
        raise ExportNotFound(f"no export {export_id} in this shop")
    return request


async def requests(
    session: AsyncSession, shop_id: int, *, status: str | None = None, limit: int = 100
) -> list[PrivacyRequest]:
    """The shop's requests of every kind, newest first."""
    query = (
        select(PrivacyRequest)
        .where(PrivacyRequest.shop_id == shop_id)
        .order_by(PrivacyRequest.id.desc())
        .limit(limit)
    )
    if status is not None:
        query = query.where(PrivacyRequest.status == status)
    return list((await session.scalars(query)).all())


async def retry(session: AsyncSession, request_id: int) -> PrivacyRequest:
    """A parked (failed) request pending again, with a fresh count of attempts."""
    request = await session.get(PrivacyRequest, request_id, with_for_update=True)
    if request is None:
        raise NotFound(f"no privacy request {request_id}")
    if request.status != RequestStatus.FAILED:
        raise InvalidRequest(f"privacy request {request_id} is {request.status}, not failed")
    request.status = RequestStatus.PENDING
    request.attempts = 0
    await session.flush()
    return request


async def carry_out(session: AsyncSession, request: PrivacyRequest, now: datetime) -> None:
    """Do what ``request`` asks, in the caller's transaction, and mark it done. A shop
    redaction deletes the request with everything else of the shop."""
    shop_id, customer_id = request.shop_id, request.customer_id
    if request.kind == RequestKind.REDACT_SHOP:
        counts = await redact_shop(session, shop_id)
        log.info("shop data deleted", shop_id=shop_id, rows=sum(counts.values()))
        return
    assert customer_id is not None
    details = dict(request.details or {})
    if request.kind == RequestKind.EXPORT:
        orders = [str(o) for o in details.get("orders", [])]
        request.result = await export_customer(session, shop_id, customer_id, now, orders)
    else:
        person = await person_of(session, shop_id, customer_id, details)
        # The addresses were kept only to be found: they go before anything is searched.
        details.pop("emails", None)
        details.pop("phones", None)
        request.details = details
        await session.flush()
        request.result = await redact_customer(session, shop_id, person)
    request.status = RequestStatus.DONE
    request.completed_at = now
    request.attempts += 1
    request.last_error = None
    await session.flush()


async def person_of(
    session: AsyncSession, shop_id: int, customer_id: str, details: Mapping[str, Any]
) -> Person:
    """Who a redaction looks for: the customer id, the e-mail Vafa has for them and any the
    platform gave with the request, their phone, and the orders the platform named."""
    stored = await session.scalar(
        select(Member.email).where(Member.shop_id == shop_id, Member.customer_id == customer_id)
    )
    return Person.of(
        customer_id,
        emails=[stored, *details.get("emails", [])],
        phones=details.get("phones", []),
        order_ids=details.get("orders", []),
    )


# -- export ------------------------------------------------------------------------------------


async def export_customer(
    session: AsyncSession,
    shop_id: int,
    customer_id: str,
    now: datetime,
    order_ids: Sequence[str] = (),
) -> dict[str, Any]:
    """Everything Vafa holds on the customer: a section per table naming them, the orders the
    platform named as theirs (a guest order names no customer), and the stored webhook events
    about them (which hold what the platform sent, from which the rest came)."""
    document: dict[str, Any] = {
        "format": _EXPORT_FORMAT,
        "shop_id": shop_id,
        "customer_id": customer_id,
        "generated_at": now.isoformat(),
    }
    for table in tables.customer_tables():
        if table.name in sections.NOT_EXPORTED:
            continue
        section = sections.section_for(table.name)
        column = tables.customer_column(table)
        assert column is not None
        query = select(table).where(table.c.shop_id == shop_id, column == customer_id)
        if "id" in table.c:
            query = query.order_by(table.c.id)
        rows = [_plain_row(row._mapping) for row in await session.execute(query)]
        document[section.name] = (rows[0] if rows else None) if section.single else rows
    if order_ids:
        orders = table_of(Order)
        # Another member's order is theirs, whatever the request says.
        mine = or_(orders.c.customer_id.is_(None), orders.c.customer_id == customer_id)
        query = select(orders).where(
            orders.c.shop_id == shop_id, orders.c.order_id.in_(order_ids), mine
        )
        document["orders_requested"] = [
            _plain_row(row._mapping) for row in await session.execute(query.order_by(orders.c.id))
        ]
    person = await person_of(session, shop_id, customer_id, {"orders": order_ids})
    document["webhook_events"] = [
        {
            "id": event.id,
            "topic": event.topic,
            "status": event.status,
            "received_at": event.received_at.isoformat(),
            "body": event.document,
        }
        async for event in _events_about(session, shop_id, person)
    ]
    return document


def _plain_row(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {
        str(name): _plain(value)
        for name, value in row.items()
        if name != "shop_id" and not isinstance(value, bytes)
    }


def _plain(value: object) -> object:
    """A column's value as JSON can hold it."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


# -- customer redaction ------------------------------------------------------------------------


async def redact_customer(session: AsyncSession, shop_id: int, person: Person) -> dict[str, int]:
    """Anonymise the person in the shop; how many of what changed."""
    counts: dict[str, int] = {}
    for table in tables.customer_tables():
        personal = sections.section_for(table.name).personal
        column = tables.customer_column(table)
        if not personal or column is None:
            continue
        result = await session.execute(
            update(table)
            .where(table.c.shop_id == shop_id, column == person.customer_id)
            .values(dict.fromkeys(personal))
        )
        counts[str(table.name)] = int(result.rowcount)  # type: ignore[attr-defined]
    counts["webhook_bodies"] = await _anonymise_bodies(session, shop_id, person)
    erased = await session.execute(
        update(PrivacyRequest)
        .where(
            PrivacyRequest.shop_id == shop_id,
            PrivacyRequest.kind == RequestKind.EXPORT,
            PrivacyRequest.customer_id == person.customer_id,
            PrivacyRequest.result.is_not(None),
        )
        .values(result=None, status=RequestStatus.ERASED)
    )
    counts["exports_erased"] = int(erased.rowcount)  # type: ignore[attr-defined]
    counts["texts"] = await _replace_identifiers(session, shop_id, person)
    return counts


@dataclass(frozen=True, slots=True)
class _Event:
    id: int
    topic: str
    status: str
    received_at: datetime
    body: bytes
    document: object  # the decoded body (its text when it is not JSON)


async def _events_about(
    session: AsyncSession, shop_id: int, person: Person
) -> AsyncIterator[_Event]:
    """The shop's stored events whose body is about the person, in id order, read a chunk at
    a time (a shop's bodies may be far more than memory)."""
    ev = WebhookEvent
    after = 0
    while True:
        rows = (
            await session.execute(
                select(ev.id, ev.topic, ev.status, ev.received_at, ev.body)
                .where(ev.shop_id == shop_id, ev.id > after)
                .order_by(ev.id)
                .limit(_CHUNK)
            )
        ).all()
        if not rows:
            return
        after = rows[-1].id
        for row in rows:
            document = scrub.document_about(row.topic, row.body, person)
            if document is not None:
                yield _Event(row.id, row.topic, row.status, row.received_at, row.body, document)


async def _anonymise_bodies(session: AsyncSession, shop_id: int, person: Person) -> int:
    # Gathered first: the bodies are rewritten once the reading is done. One anonymised before
    # comes out the same, and is left as it is.
    changed = [
        (event.id, body)
        async for event in _events_about(session, shop_id, person)
        if (body := scrub.anonymised(event.topic, event.document, person)) != event.body
    ]
    for event_id, body in changed:
        await session.execute(update(WebhookEvent).where(WebhookEvent.id == event_id)
                              .values(body=body))  # fmt: skip
    return len(changed)


async def _replace_identifiers(session: AsyncSession, shop_id: int, person: Person) -> int:
    """Replace the person's e-mail addresses and phone numbers in every text and JSON column of
    every shop table (a reason typed by the store owner, a job's payload, a stored header):
    the net under the structured clearing above. How many values changed."""
    pattern = person.pattern()
    if pattern is None:
        return 0
    changed = 0
    for table in tables.shop_tables():
        key = list(table.primary_key.columns)
        owned = table.c.shop_id == shop_id if "shop_id" in table.c else table.c.id == shop_id
        for column in tables.text_columns(table):
            # JSON is searched as its text (both engines store it as text).
            searched = column if isinstance(column.type, String) else cast(column, Text)
            hits = [
                searched.ilike(f"%{_like_escaped(text)}%", escape="\\") for text in person.texts()
            ]
            rows = (await session.execute(select(*key, column).where(owned, or_(*hits)))).all()
            for row in rows:
                value = row[-1]
                new = _replaced(value, pattern)
                if new == value:
                    continue
                where = [c == row[i] for i, c in enumerate(key)]
                await session.execute(update(table).where(*where).values({column.name: new}))
                changed += 1
    return changed


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _replaced(value: object, pattern: re.Pattern[str]) -> object:
    if isinstance(value, str):
        return pattern.sub(scrub.REDACTED, value)
    if isinstance(value, dict):
        return {k: _replaced(v, pattern) for k, v in value.items()}
    if isinstance(value, list):
        return [_replaced(v, pattern) for v in value]
    return value


# -- shop redaction ----------------------------------------------------------------------------


async def redact_shop(session: AsyncSession, shop_id: int) -> dict[str, int]:
    """Delete every row of the shop, table by table (children first), then the shop; how many
    rows each table lost."""
    counts: dict[str, int] = {}
    for table in tables.shop_tables():
        owned = table.c.shop_id == shop_id if "shop_id" in table.c else table.c.id == shop_id
        result = await session.execute(delete(table).where(owned))
        counts[str(table.name)] = int(result.rowcount)  # type: ignore[attr-defined]
    return counts


# -- uninstall ---------------------------------------------------------------------------------


async def pause_uninstalled(session: AsyncSession, shop_id: int) -> bool:
    """The store uninstalled the app: its token is dead. The shop is paused (its jobs, which
    call the store, wait) and keeps its data until shop/redact; whether this paused it."""
    return await shops.pause(session, shop_id, UNINSTALLED_REASON)


# -- webhook body retention --------------------------------------------------------------------


async def retention_days(session: AsyncSession, shop_id: int) -> int | None:
    return await session.scalar(
        select(PrivacySettings.webhook_body_retention_days).where(
            PrivacySettings.shop_id == shop_id
        )
    )


async def set_retention_days(session: AsyncSession, shop_id: int, days: int | None) -> None:
    if days is not None and days < 0:
        raise InvalidRequest("webhook_body_retention_days is a number of days, 0 or more")
    settings = await session.get(PrivacySettings, shop_id, with_for_update=True)
    if settings is None:
        session.add(PrivacySettings(shop_id=shop_id, webhook_body_retention_days=days))
    else:
        settings.webhook_body_retention_days = days
    await session.flush()


# Settled events only: a pending one is still to be applied, and a rejected or failed one is
# kept for `vafa events replay` once its cause is fixed.
_CLEARABLE = (EventStatus.PROCESSED, EventStatus.IGNORED)


async def clear_old_bodies(session: AsyncSession, shop_id: int, now: datetime) -> int:
    """Empty the bodies of the shop's settled events older than its retention; how many."""
    days = await retention_days(session, shop_id)
    if days is None:
        return 0
    ev = table_of(WebhookEvent)
    result = await session.execute(
        update(ev)
        .where(
            ev.c.shop_id == shop_id,
            ev.c.status.in_(_CLEARABLE),
            ev.c.received_at < now - timedelta(days=days),
            func.length(ev.c.body) > 0,
        )
        .values(body=b"")
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
