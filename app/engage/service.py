"""Non-purchase events: ``POST /api/v1/members/{id}/events`` stores the event once per
idempotency key and applies the ``event`` (and, for ``signup``, the ``signup``) rules of the
program version in force when it happened; then the member's badges look at it.

The same key again answers what the first call recorded and changes nothing. An event no
rule awards is still recorded (it may count for a badge) and says so. Its points are available
at once: the hold period is for orders, which a refund can take back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.engage import awards, badges
from app.engage.awards import GrantingRule, Outcome, Status
from app.engage.models import MemberEvent
from app.errors import IdempotencyConflict, MemberNotFound, ValidationFailed
from app.members.models import Member
from app.program import versions
from app.program.document import EventRule, ProgramDocument, SignupRule
from app.program.versions import Version
from app.tiers import service as tiers

# A caller's clock may run a little ahead of ours; an event "later" than that has not happened.
MAX_SKEW = timedelta(minutes=5)
# Older than this is a mistake (or a replay of history, which is not what this route is for).
MAX_AGE = timedelta(days=366)
SIGNUP = "signup"


@dataclass(frozen=True, slots=True)
class Recorded:
    event: MemberEvent
    created: bool  # False: the idempotency key was used before; nothing was done


async def require_member(session: AsyncSession, shop_id: int, customer_id: str) -> None:
    found = await session.scalar(
        select(Member.id).where(Member.shop_id == shop_id, Member.customer_id == customer_id)
    )
    if found is None:
        raise MemberNotFound(f"no member with customer id {customer_id!r} in this shop")


def check_time(occurred_at: datetime | None, now: datetime) -> datetime:
    if occurred_at is None:
        return now
    if occurred_at > now + MAX_SKEW:
        raise ValidationFailed(
            f"body.occurred_at: {occurred_at.isoformat()} is in the future "
            f"(now is {now.isoformat()})"
        )
    if occurred_at < now - MAX_AGE:
        raise ValidationFailed(
            f"body.occurred_at: {occurred_at.isoformat()} is more than {MAX_AGE.days} days ago"
        )
    return occurred_at


def rules_for(document: ProgramDocument, event_type: str) -> list[GrantingRule]:
    """The rules an event of ``event_type`` may earn: event rules of that type, and the signup
    rules for a signup."""
    return [
        rule for rule in document.rules
        if (isinstance(rule, EventRule) and rule.event == event_type)
        or (isinstance(rule, SignupRule) and event_type == SIGNUP)
    ]  # fmt: skip


async def record_event(
    session: AsyncSession,
    shop_id: int,
    customer_id: str,
    event_type: str,
    idempotency_key: str,
    occurred_at: datetime | None,
    now: datetime,
) -> Recorded:
    when = check_time(occurred_at, now)
    await require_member(session, shop_id, customer_id)
    # Under the member's lock: the same key twice, or two events counting one cap, serialise.
    await awards.lock_member(session, shop_id, customer_id)
    stored = await session.scalar(
        select(MemberEvent).where(
            MemberEvent.shop_id == shop_id,
            MemberEvent.customer_id == customer_id,
            MemberEvent.idempotency_key == idempotency_key,
        )
    )
    if stored is not None:
        if stored.type != event_type or (occurred_at is not None and stored.occurred_at != when):
            raise IdempotencyConflict(
                f"idempotency key {idempotency_key!r} was already used for another event "
                f"({stored.type} at {stored.occurred_at.isoformat()})"
            )
        return Recorded(stored, created=False)

    history = await versions.load(session, shop_id)
    version = history.at(when)
    event = MemberEvent(
        shop_id=shop_id,
        customer_id=customer_id,
        type=event_type,
        idempotency_key=idempotency_key,
        occurred_at=when,
        program_version=version.version,
        points=0,
        outcome={},
        created_at=now,
    )
    session.add(event)
    await session.flush()
    outcomes = await _apply_rules(session, shop_id, version, event, now)
    completed = await badges.check(
        session, shop_id, history.at(now), [customer_id], now, badges.EVENT_METRICS
    )
    event.points = sum(o.points for o in outcomes if o.status == Status.AWARDED)
    if event.points:  # points earned outside an order may lift the member's tier at once
        await tiers.refresh(session, shop_id, [customer_id], now)
    event.outcome = {
        "message": _summary(version, event_type, outcomes),
        "rules": [o.to_json() for o in outcomes],
        "badges": [o.to_json() for o in completed],
    }
    await session.flush()
    return Recorded(event, created=True)


async def _apply_rules(
    session: AsyncSession, shop_id: int, version: Version, event: MemberEvent, now: datetime
) -> list[Outcome]:
    outcomes = []
    for rule in rules_for(version.document, event.type):
        outcomes.append(
            await awards.award(
                session,
                shop_id,
                version,
                rule,
                event.customer_id,
                key=f"event:{event.customer_id}:{event.idempotency_key}:{rule.key}",
                source_type="event",
                source_id=str(event.id),
                why="joined the club" if isinstance(rule, SignupRule) else event.type,
                when=event.occurred_at,
                now=now,
            )
        )
    return outcomes


def _summary(version: Version, event_type: str, outcomes: list[Outcome]) -> str:
    if not outcomes:
        return (
            f"recorded; no rule of program v{version.version} awards {event_type!r} events "
            "(0 points)"
        )
    return "; ".join(o.message for o in outcomes)
