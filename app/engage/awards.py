"""Awarding a rule to a member: the one place that checks a rule's time frame and caps, posts
its points (or grants its reward) and records the award that later caps count.

Every award has its own key, built by the caller from what earned it (``event:<customer>:
<idempotency key>:<rule>``, ``signup:<customer>:<rule>``, ``birthday:<customer>:<year>:<rule>``,
``badge:<customer>:<rule>``): it is the ledger's idempotency key, so adding a rule never
changes what another posted, and the same award asked for again finds the first one.

The caller holds the member's account locks (:func:`lock_member`), so that two awards of one
member never count the same cap at once.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.engage.models import RuleAward
from app.errors import NotFound, RewardInactive
from app.holdout import membership as holdout
from app.ledger import locks
from app.ledger import service as ledger
from app.ledger.models import SYSTEM_OWNER, AccountKind, TxKind
from app.program import periods
from app.program.document import BadgeRule, BirthdayRule, EventRule, SignupRule
from app.program.versions import Version

GrantingRule = SignupRule | BirthdayRule | EventRule | BadgeRule

# Event types a member does once: joining the club, completing the profile.
ONCE_PER_MEMBER = frozenset({"signup", "profile_completed"})


class Status:
    AWARDED = "awarded"
    CAPPED = "capped"
    OUTSIDE_FRAME = "outside_frame"
    INACTIVE = "inactive"
    REWARD_UNAVAILABLE = "reward_unavailable"
    HOLDOUT = "holdout"  # the customer is held out of the club (app/holdout)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one rule did: awarded (points or a reward), or why not, in a sentence."""

    rule: str
    status: str
    message: str
    points: int = 0
    reward_id: int | None = None
    redemption_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


async def lock_member(session: AsyncSession, shop_id: int, customer_id: str) -> None:
    await locks.lock_accounts(session, shop_id, [(customer_id, k) for k in AccountKind.MEMBER])


def _max_per_member(rule: GrantingRule) -> int | None:
    once = isinstance(rule, SignupRule) or (
        isinstance(rule, EventRule) and rule.event in ONCE_PER_MEMBER
    )
    if once:
        return 1
    return rule.max_per_member


async def _count(
    session: AsyncSession,
    shop_id: int,
    customer_id: str,
    rule: str,
    between: tuple[datetime, datetime] | None = None,
) -> int:
    query = select(func.count()).where(
        RuleAward.shop_id == shop_id, RuleAward.customer_id == customer_id, RuleAward.rule == rule
    )
    if between is not None:
        query = query.where(RuleAward.occurred_at >= between[0], RuleAward.occurred_at < between[1])
    return int(await session.scalar(query) or 0)


async def _refusal(
    session: AsyncSession,
    shop_id: int,
    version: Version,
    rule: GrantingRule,
    customer_id: str,
    when: datetime,
) -> Outcome | None:
    """Why the rule may not award this member at ``when``, or None."""
    if not rule.active:
        return Outcome(rule.key, Status.INACTIVE, f"rule {rule.key} is not active")
    if not periods.in_frame(when, rule.starts_at, rule.ends_at):
        frame = " to ".join(t.isoformat() if t else "open" for t in (rule.starts_at, rule.ends_at))
        return Outcome(
            rule.key,
            Status.OUTSIDE_FRAME,
            f"rule {rule.key} applies from {frame}; this was at {when.isoformat()}",
        )
    limit = _max_per_member(rule)
    if limit is not None and await _count(session, shop_id, customer_id, rule.key) >= limit:
        times = "once" if limit == 1 else f"{limit} times"
        return Outcome(
            rule.key, Status.CAPPED, f"rule {rule.key} awards a member {times} at most, reached"
        )
    cap = rule.max_per_period
    if cap is not None:
        zone = ZoneInfo(version.document.timezone)
        start, end = periods.bounds(when, cap.unit, zone)
        if await _count(session, shop_id, customer_id, rule.key, (start, end)) >= cap.count:
            local = start.astimezone(zone).date().isoformat()
            return Outcome(
                rule.key,
                Status.CAPPED,
                f"rule {rule.key} awards {cap.count} per {cap.unit} at most, reached for the "
                f"{cap.unit} from {local} ({version.document.timezone})",
            )
    return None


async def award(
    session: AsyncSession,
    shop_id: int,
    version: Version,
    rule: GrantingRule,
    customer_id: str,
    *,
    key: str,
    source_type: str,
    source_id: str | None,
    why: str,
    when: datetime,
    now: datetime,
) -> Outcome:
    """Award ``rule`` to the member for what happened at ``when`` (``why``, for the ledger
    line), unless its frame or caps refuse; an award already made under ``key`` is returned
    as it was."""
    found = await session.scalar(
        select(RuleAward).where(RuleAward.shop_id == shop_id, RuleAward.key == key)
    )
    if found is not None:
        return _awarded(found, why)
    if await holdout.excluded(session, shop_id, customer_id, when, now):
        return Outcome(rule.key, Status.HOLDOUT, "the customer is in the holdout: not awarded")
    refused = await _refusal(session, shop_id, version, rule, customer_id, when)
    if refused is not None:
        return refused
    note = f"(rule {rule.key}, program v{version.version})"
    row = RuleAward(
        shop_id=shop_id,
        customer_id=customer_id,
        rule=rule.key,
        key=key,
        source_type=source_type,
        occurred_at=when,
        program_version=version.version,
        points=rule.points or 0,
        reward_id=rule.reward_id,
        created_at=now,
    )
    if rule.points:
        expiry = version.document.expiry_days
        await ledger.post(
            session,
            shop_id,
            ledger.Entry(
                key=key,
                kind=TxKind.EARN,
                owner=customer_id,
                legs=(
                    ledger.Leg(customer_id, AccountKind.AVAILABLE, rule.points),
                    ledger.Leg(SYSTEM_OWNER, AccountKind.ISSUED, -rule.points),
                ),
                reason=f"{rule.points} points: {why} {note}",
                source_type=source_type,
                source_id=source_id,
                rule=rule.key,
                expires_at=now + timedelta(days=expiry) if expiry else None,
            ),
        )
    elif rule.reward_id is not None:
        granted = await _grant(session, shop_id, rule, customer_id, key, f"{why} {note}", now)
        if isinstance(granted, Outcome):
            return granted
        row.redemption_id = granted
    session.add(row)
    await session.flush()
    return _awarded(row, why)


async def _grant(
    session: AsyncSession,
    shop_id: int,
    rule: GrantingRule,
    customer_id: str,
    key: str,
    why: str,
    now: datetime,
) -> int | Outcome:
    """The redemption the reward grant made, or why none could be made."""
    from app.rewards import grants  # the rewards import the jobs, which import the program

    assert rule.reward_id is not None
    try:
        # Refused before it writes anything: the reward is looked up first.
        redemption = await grants.grant_reward(
            session, shop_id, customer_id, rule.reward_id, key=_grant_key(key),
            reason=f"reward {rule.reward_id}: {why}", now=now,
        )  # fmt: skip
    except (NotFound, RewardInactive) as exc:
        # The owner removed or paused the reward: nothing counts against the rule's caps.
        return Outcome(rule.key, Status.REWARD_UNAVAILABLE, exc.message)
    return redemption.id


def _grant_key(key: str) -> str:
    """A grant keeps 200 characters of its key: a longer one keeps its start and a digest of
    the whole, so two awards never share a grant."""
    if len(key) <= 180:
        return key
    return f"{key[:150]}#{hashlib.sha256(key.encode()).hexdigest()[:24]}"


def _awarded(row: RuleAward, why: str) -> Outcome:
    if row.points:
        message = f"{row.points} points: {why}"
    elif row.reward_id is not None:
        message = f"reward {row.reward_id}: {why}"
    else:
        message = why
    return Outcome(row.rule, Status.AWARDED, message, row.points, row.reward_id, row.redemption_id)
