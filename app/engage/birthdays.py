"""Birthdays: a periodic task grants the program's birthday rules to the members whose
birthday it is today in the shop's time zone, once per member and year (the award's key holds
the year).

A member born on 29 February celebrates on 28 February in a year without one (it stays in
their month). A day on which the scheduler never ran is not caught up: the task looks at today
only, so that a birthday is never celebrated on the wrong day.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import and_, extract, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Database
from app.engage import awards
from app.engage.models import EngageMember, RuleAward
from app.logs import log_failure
from app.members.models import Member
from app.program import versions
from app.program.document import BirthdayRule
from app.shops.service import ShopContext

log = structlog.get_logger(__name__)


def celebrated_on(today: date) -> list[tuple[int, int]]:
    """The (month, day) birthdays celebrated on ``today``."""
    days = [(today.month, today.day)]
    if today.month == 2 and today.day == 28 and not calendar.isleap(today.year):
        days.append((2, 29))
    return days


async def _candidates(session: AsyncSession, shop_id: int, days: list[tuple[int, int]]) -> set[str]:
    """Members whose birthday is one of ``days``: given through the API, else the platform's."""
    given = select(EngageMember.customer_id).where(
        EngageMember.shop_id == shop_id,
        or_(*(and_(EngageMember.birthday_month == m, EngageMember.birthday_day == d)
              for m, d in days)),
    )  # fmt: skip
    overridden = select(EngageMember.customer_id).where(
        EngageMember.shop_id == shop_id, EngageMember.birthday_month.is_not(None)
    )
    platform = select(Member.customer_id).where(
        Member.shop_id == shop_id,
        Member.birthday.is_not(None),
        Member.customer_id.not_in(overridden),
        or_(*(and_(extract("month", Member.birthday) == m, extract("day", Member.birthday) == d)
              for m, d in days)),
    )  # fmt: skip
    found = set((await session.scalars(given)).all())
    found.update((await session.scalars(platform)).all())
    return found


def _key(customer_id: str, year: int, rule: str) -> str:
    return f"birthday:{customer_id}:{year}:{rule}"


async def grant_due(db: Database, shop: ShopContext, now: datetime) -> int:
    """The periodic task: awards made for today's birthdays."""
    async with db.read() as session:
        version = (await versions.load(session, shop.shop_id)).at(now)
        rules = [r for r in version.document.rules if isinstance(r, BirthdayRule) and r.active]
        if not rules:
            return 0
        zone = ZoneInfo(version.document.timezone)
        today = now.astimezone(zone).date()
        customers = await _candidates(session, shop.shop_id, celebrated_on(today))
        if not customers:
            return 0
        wanted = sorted(_key(c, today.year, r.key) for c in customers for r in rules)
        done: set[str] = set()
        for start in range(0, len(wanted), 500):
            done.update(
                await session.scalars(
                    select(RuleAward.key).where(
                        RuleAward.shop_id == shop.shop_id,
                        RuleAward.key.in_(wanted[start : start + 500]),
                    )
                )
            )
    count = 0
    for customer_id in sorted(customers):
        todo = [r for r in rules if _key(customer_id, today.year, r.key) not in done]
        if not todo:
            continue
        try:
            async with db.write() as session:
                await awards.lock_member(session, shop.shop_id, customer_id)
                for rule in todo:
                    outcome = await awards.award(
                        session, shop.shop_id, version, rule, customer_id,
                        key=_key(customer_id, today.year, rule.key), source_type="birthday",
                        source_id=None, why=f"birthday {today.year}", when=now, now=now,
                    )  # fmt: skip
                    count += outcome.status == awards.Status.AWARDED
        except Exception as exc:  # one member's trouble stays theirs; the next tick retries
            log_failure(log, "birthday award failed", exc, shop_id=shop.shop_id)
    return count
