"""Segments: the shop's own definitions, the refresh that puts members in and out of every
segment (RFM and the shop's own), and the reads of who is in which.

Membership is kept as spans (``SegmentSpan``: entered at one refresh, left at a later one), so
that "was the member in segment S when the order was paid at T" has one answer, whenever it is
asked: judging (``app/program/judging.py``) asks it once per order and records the answer on
the order (``orders.segments``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import case, delete, func, insert, select, type_coerce, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.connectors.base import FinancialState
from app.db import one_of
from app.jobs import service as jobs
from app.members.models import Member
from app.orm import UTCDateTime, table_of
from app.program.models import Order, OrderRefund
from app.segments import rfm
from app.segments.errors import SegmentInUse, SegmentNotFound
from app.segments.models import MemberRfm, SegmentDefinition, SegmentRefresh, SegmentSpan
from app.segments.rfm import RFM_SEGMENTS, MemberFacts
from app.segments.rules import SegmentRule

REFRESH = "segments.refresh"  # the job kind (app/segments/tasks.py)
REFRESH_KEY = "refresh"  # one refresh job per shop: asking again coalesces
_CHUNK = 500


# -- what the segments know of the members ------------------------------------------------


async def member_facts(session: AsyncSession, shop_id: int, now: datetime) -> list[MemberFacts]:
    """Every member's facts as of ``now`` (``rfm.MemberFacts``), from the stored orders: one
    aggregate over the shop's paid orders, one read of its members."""
    refunded = (
        select(OrderRefund.order_id, func.sum(OrderRefund.merchandise_minor).label("minor"))
        .where(OrderRefund.shop_id == shop_id)
        .group_by(OrderRefund.order_id)
        .subquery()
    )
    at = type_coerce(func.coalesce(Order.paid_at, Order.source_updated_at), UTCDateTime())
    left = Order.merchandise_minor - func.coalesce(refunded.c.minor, 0)
    net = case((left > 0, left), else_=0)
    recent = at >= now - timedelta(days=rfm.WINDOW_DAYS)
    rows = await session.execute(
        select(
            Order.customer_id,
            func.count(),
            func.sum(net),
            type_coerce(func.min(at), UTCDateTime()),
            type_coerce(func.max(at), UTCDateTime()),
            func.sum(case((recent, 1), else_=0)),
            func.sum(case((recent, net), else_=0)),
        )
        .outerjoin(refunded, refunded.c.order_id == Order.order_id)
        .where(
            Order.shop_id == shop_id,
            Order.known.is_(True),
            Order.customer_id.is_not(None),
            Order.financial_state == FinancialState.PAID.value,
            Order.cancelled.is_(False),
            Order.deleted.is_(False),
            at <= now,
        )
        .group_by(Order.customer_id)
    )
    bought = {row[0]: row for row in rows}
    members = await session.execute(
        select(Member.customer_id, Member.tier, Member.created_at).where(Member.shop_id == shop_id)
    )
    known = {customer: (tier, joined) for customer, tier, joined in members}
    facts = []
    for customer in sorted(set(known) | set(bought)):
        tier, joined = known.get(customer, (None, None))
        row = bought.get(customer)
        if row is None:
            facts.append(MemberFacts(customer, tier, joined, 0, 0, None, None, 0, 0))
            continue
        _, count, spend, first, last, w_count, w_spend = row
        facts.append(
            MemberFacts(customer, tier, joined, int(count), int(spend or 0), first, last,
                        int(w_count or 0), int(w_spend or 0))
        )  # fmt: skip
    return facts


# -- the refresh ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Refreshed:
    members: int  # members considered
    entered: int  # spans opened
    left: int  # spans closed
    sizes: dict[str, int] = field(default_factory=dict)  # members per segment now


async def refresh(session: AsyncSession, shop_id: int, now: datetime) -> Refreshed:
    """Compute every segment of the shop as of ``now`` and move members in and out: a member
    who entered opens a span at ``now``, one who left closes theirs at ``now``. Idempotent:
    the same facts at a later time change nothing. The caller owns the transaction."""
    facts = await member_facts(session, shop_id, now)
    scored = rfm.score(facts, now)
    named = {s.customer_id: s.segment for s in scored}
    want: dict[str, set[str]] = {key: set() for key in RFM_SEGMENTS}
    for customer, segment in named.items():
        if segment is not None:
            want[segment].add(customer)
    for definition in await definitions(session, shop_id):
        rule = _rule_of(definition)
        want[definition.key] = {
            m.customer_id for m in facts if rule.met(m, named.get(m.customer_id), now)
        }
    await _store_rfm(session, shop_id, scored, now)
    have: defaultdict[str, set[str]] = defaultdict(set)
    rows = await session.execute(
        select(SegmentSpan.segment_key, SegmentSpan.customer_id).where(
            SegmentSpan.shop_id == shop_id, SegmentSpan.left_at.is_(None)
        )
    )
    for key, customer in rows:
        have[key].add(customer)
    entered = left = 0
    for key in sorted(set(want) | set(have)):
        coming = sorted(want.get(key, set()) - have[key])
        going = sorted(have[key] - want.get(key, set()))
        await _enter(session, shop_id, key, coming, now)
        await _leave(session, shop_id, key, going, now)
        entered, left = entered + len(coming), left + len(going)
    await _record_refresh(session, shop_id, now, len(facts))
    await session.flush()
    return Refreshed(len(facts), entered, left, {k: len(v) for k, v in sorted(want.items())})


async def _store_rfm(
    session: AsyncSession, shop_id: int, scored: Sequence[rfm.Rfm], now: datetime
) -> None:
    await session.execute(delete(MemberRfm).where(MemberRfm.shop_id == shop_id))
    rows = [
        {"shop_id": shop_id, "customer_id": s.customer_id, "recency_days": s.recency_days,
         "frequency": s.frequency, "monetary_minor": s.monetary_minor, "r": s.r, "f": s.f,
         "m": s.m, "segment": s.segment, "computed_at": now}
        for s in scored
    ]  # fmt: skip
    for start in range(0, len(rows), _CHUNK):
        await session.execute(insert(table_of(MemberRfm)), rows[start : start + _CHUNK])


async def _enter(
    session: AsyncSession, shop_id: int, key: str, customers: list[str], now: datetime
) -> None:
    if not customers:
        return
    dialect = session.get_bind().dialect.name
    span = SegmentSpan
    for start in range(0, len(customers), _CHUNK):
        chunk = customers[start : start + _CHUNK]
        # Left at this very refresh time (a definition changed twice at once): the span goes
        # on, rather than a second one starting at the same instant.
        reopened = await session.execute(
            update(span)
            .where(span.shop_id == shop_id, span.segment_key == key, span.left_at == now,
                   one_of(span.customer_id, chunk, dialect))
            .values(left_at=None)
            .returning(span.customer_id)
        )  # fmt: skip
        again = set(reopened.scalars())
        rows = [{"shop_id": shop_id, "segment_key": key, "customer_id": c, "entered_at": now}
                for c in chunk if c not in again]  # fmt: skip
        if rows:
            await session.execute(insert(table_of(SegmentSpan)), rows)


async def _leave(
    session: AsyncSession, shop_id: int, key: str, customers: list[str], now: datetime
) -> None:
    dialect = session.get_bind().dialect.name
    span = SegmentSpan
    for start in range(0, len(customers), _CHUNK):
        await session.execute(
            update(span)
            .where(span.shop_id == shop_id, span.segment_key == key, span.left_at.is_(None),
                   one_of(span.customer_id, customers[start : start + _CHUNK], dialect))
            .values(left_at=now)
        )  # fmt: skip


async def _record_refresh(session: AsyncSession, shop_id: int, now: datetime, members: int) -> None:
    found = await session.get(SegmentRefresh, shop_id)
    if found is None:
        session.add(SegmentRefresh(shop_id=shop_id, refreshed_at=now, members=members))
    else:
        found.refreshed_at, found.members = now, members


async def last_refresh(session: AsyncSession, shop_id: int) -> datetime | None:
    return await session.scalar(
        select(SegmentRefresh.refreshed_at).where(SegmentRefresh.shop_id == shop_id)
    )


async def ask_refresh(session: AsyncSession, shop_id: int) -> None:
    """Enqueue the shop's refresh job (one per shop: asking again while it waits coalesces)."""
    await jobs.enqueue(session, shop_id, REFRESH, {}, key=REFRESH_KEY)


# -- the shop's own definitions -----------------------------------------------------------


def _rule_of(definition: SegmentDefinition) -> SegmentRule:
    return SegmentRule.model_validate({"names": definition.names,
                                       "conditions": definition.conditions})  # fmt: skip


async def definitions(session: AsyncSession, shop_id: int) -> list[SegmentDefinition]:
    found = await session.scalars(
        select(SegmentDefinition)
        .where(SegmentDefinition.shop_id == shop_id)
        .order_by(SegmentDefinition.key)
    )
    return list(found)


async def definition(session: AsyncSession, shop_id: int, key: str) -> SegmentDefinition | None:
    found: SegmentDefinition | None = await session.scalar(
        select(SegmentDefinition).where(
            SegmentDefinition.shop_id == shop_id, SegmentDefinition.key == key
        )
    )
    return found


async def keys(session: AsyncSession, shop_id: int) -> set[str]:
    """Every segment key a campaign may name in this shop: the RFM ones and the shop's own."""
    own = await session.scalars(
        select(SegmentDefinition.key).where(SegmentDefinition.shop_id == shop_id)
    )
    return {*RFM_SEGMENTS, *own}


async def put(
    session: AsyncSession, shop_id: int, key: str, rule: SegmentRule, now: datetime
) -> tuple[SegmentDefinition, bool]:
    """Create or replace the shop's segment ``key``; ``(definition, created)``. Its members
    are refreshed by the job this asks for."""
    found = await definition(session, shop_id, key)
    names = rule.names.model_dump(mode="json", exclude_none=True)
    conditions = rule.conditions_json()
    created = found is None
    if found is None:
        found = SegmentDefinition(shop_id=shop_id, key=key, names=names, conditions=conditions,
                                  created_at=now, updated_at=now)  # fmt: skip
        session.add(found)
    elif (found.names, found.conditions) != (names, conditions):
        found.names, found.conditions, found.updated_at = names, conditions, now
    else:
        return found, False
    await session.flush()
    await ask_refresh(session, shop_id)
    return found, created


async def remove(session: AsyncSession, shop_id: int, key: str) -> None:
    """Delete the shop's segment ``key`` (its members leave it at the next refresh, which this
    asks for; their spans stay, as the orders judged by them do). Refused while the newest
    program version names it."""
    if key in RFM_SEGMENTS:
        raise SegmentInUse(f"{key} is an RFM segment, which Vafa keeps")
    found = await definition(session, shop_id, key)
    if found is None:
        raise SegmentNotFound(f"no segment {key!r} in this shop")
    from app.program import versions  # the program reads the segments: imported when needed

    latest = (await versions.load(session, shop_id)).latest
    for rule in latest.document.rules:
        if getattr(rule, "segment", None) == key:
            raise SegmentInUse(
                f"segment {key!r} is named by rule {rule.key!r} of program "
                f"v{latest.version}: remove it there first"
            )
    await session.delete(found)
    await session.flush()
    await ask_refresh(session, shop_id)


# -- who is in which ------------------------------------------------------------------------


async def sizes(session: AsyncSession, shop_id: int) -> dict[str, int]:
    """Members in each segment now."""
    rows = await session.execute(
        select(SegmentSpan.segment_key, func.count())
        .where(SegmentSpan.shop_id == shop_id, SegmentSpan.left_at.is_(None))
        .group_by(SegmentSpan.segment_key)
    )
    return {key: int(count) for key, count in rows}


async def members_of(
    session: AsyncSession, shop_id: int, key: str, *, limit: int, after: str | None
) -> list[tuple[str, datetime]]:
    """The segment's members now, by customer id, ``limit`` after ``after``: (id, since)."""
    query = select(SegmentSpan.customer_id, SegmentSpan.entered_at).where(
        SegmentSpan.shop_id == shop_id,
        SegmentSpan.segment_key == key,
        SegmentSpan.left_at.is_(None),
    )
    if after is not None:
        query = query.where(SegmentSpan.customer_id > after)
    rows = await session.execute(query.order_by(SegmentSpan.customer_id).limit(limit))
    return [(customer, since) for customer, since in rows]


async def of_member(
    session: AsyncSession, shop_id: int, customer_id: str
) -> tuple[list[tuple[str, datetime]], MemberRfm | None]:
    """The segments the member is in now (key, since) and their RFM row."""
    rows = await session.execute(
        select(SegmentSpan.segment_key, SegmentSpan.entered_at)
        .where(
            SegmentSpan.shop_id == shop_id,
            SegmentSpan.customer_id == customer_id,
            SegmentSpan.left_at.is_(None),
        )
        .order_by(SegmentSpan.segment_key)
    )
    scores = await session.scalar(
        select(MemberRfm).where(MemberRfm.shop_id == shop_id, MemberRfm.customer_id == customer_id)
    )
    return [(key, since) for key, since in rows], scores


class Spans:
    """Members' spans, read once for a batch of orders: which segments each was in when."""

    def __init__(self, spans: Iterable[tuple[str, str, datetime, datetime | None]]) -> None:
        self._of: defaultdict[str, list[tuple[str, datetime, datetime | None]]] = defaultdict(list)
        for customer, key, entered, left in spans:
            self._of[customer].append((key, entered, left))

    def at(self, customer_id: str, when: datetime) -> list[str]:
        """The keys of the segments the member was in at ``when``: entered at or before it,
        not left by then."""
        return sorted(
            {key for key, entered, left in self._of.get(customer_id, ())
             if entered <= when and (left is None or when < left)}
        )  # fmt: skip


async def spans_of(
    session: AsyncSession, shop_id: int, customers: Sequence[str], until: datetime
) -> Spans:
    """The members' spans that began by ``until`` (one indexed read per 500 members)."""
    dialect = session.get_bind().dialect.name
    span = SegmentSpan
    found: list[tuple[str, str, datetime, datetime | None]] = []
    for start in range(0, len(customers), _CHUNK):
        rows = await session.execute(
            select(span.customer_id, span.segment_key, span.entered_at, span.left_at).where(
                span.shop_id == shop_id,
                one_of(span.customer_id, customers[start : start + _CHUNK], dialect),
                span.entered_at <= until,
            )
        )
        found.extend((c, k, e, left) for c, k, e, left in rows)
    return Spans(found)


async def copy_spans(source: AsyncSession, target: AsyncSession, shop_id: int) -> int:
    """Copy the shop's spans from one database to another (a simulation's sandbox, so that its
    replay judges segment campaigns as the live worker did); how many."""
    rows = await source.execute(
        select(SegmentSpan.segment_key, SegmentSpan.customer_id, SegmentSpan.entered_at,
               SegmentSpan.left_at).where(SegmentSpan.shop_id == shop_id)
    )  # fmt: skip
    values = [{"shop_id": shop_id, "segment_key": k, "customer_id": c, "entered_at": e,
               "left_at": left} for k, c, e, left in rows]  # fmt: skip
    for start in range(0, len(values), _CHUNK):
        await target.execute(insert(table_of(SegmentSpan)), values[start : start + _CHUNK])
    return len(values)
