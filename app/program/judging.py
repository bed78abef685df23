"""Judging an order once, when it is first paid: the program version in force then, the
member's number of the order, the member's tier and segments then (the segments from their
spans, ``app/segments``) and the rules whose one-time conditions it met
(``engine.Program.decide``), recorded on the order and never changed after — so a program edit
or a refund later judges it as it was judged.

The member's number counts paid orders: 1 for the first, and a cancelled or refunded order keeps
its number (the next paid order is the next number), so "every third purchase" never moves
under the member's feet. An order recorded by a backfill without points is not numbered (it
never earns); guest orders neither.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING

import orjson
from sqlalchemy import ARRAY, String, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.selectable import TableValuedAlias

from app.connectors.base import FinancialState
from app.program.engine import Prior, Programs, earned_at
from app.program.models import Order
from app.program.rules import is_earning
from app.program.versions import BEGINNING

if TYPE_CHECKING:  # reconcile calls this module
    from app.program.reconcile import OrderState


async def judge(
    session: AsyncSession, shop_id: int, programs: Programs, orders: Sequence[OrderState]
) -> None:
    """Judge the orders that earn for the first time (in place; the caller saves them). The
    caller holds the orders' and their members' locks, so numbers never collide."""
    new = sorted(
        (o for o in orders if o.program_version is None and not o.backfilled and is_earning(o)),
        key=lambda o: (earned_at(o) or BEGINNING, len(o.order_id), o.order_id),
    )
    if not new:
        return
    customers = sorted({o.customer_id for o in new if o.customer_id is not None})
    last = await _last_numbers(session, shop_id, customers)
    # The tier the order records (campaign tier filters and tier multipliers read it): the
    # member's as it stands before this batch, from the tiers (app.tiers builds on the program,
    # so it is imported here, when first needed).
    from app.tiers.service import tier_of

    tiers = await tier_of(session, shop_id, customers, history=programs.history)
    # The segments each member was in when the order was paid, from their spans (recorded on
    # the order, so a campaign for a segment is decided by that moment, not by when the
    # worker got to it).
    from app.segments.service import spans_of

    spans = await spans_of(session, shop_id, customers, max(earned_at(o) or BEGINNING for o in new))
    priors: dict[str, list[Prior]] = defaultdict(list)
    if any(programs.at(earned_at(o)).needs_history for o in new):
        priors = await _priors(session, shop_id, customers, {o.order_id for o in orders})
        for o in orders:  # the batch's own judged orders, as they stand in memory
            if o.program_version is not None and o.customer_id is not None:
                priors[o.customer_id].append(_prior(o))
    for order in new:
        assert order.customer_id is not None
        at = earned_at(order) or BEGINNING
        program = programs.at(at)
        if order.member_seq is None:  # numbered by the migration when it earned before it
            last[order.customer_id] += 1
            order.member_seq = last[order.customer_id]
        order.tier = tiers.get(order.customer_id)
        order.segments = spans.at(order.customer_id, at)
        order.program_version = program.version.version
        if program.weighs_lines and order.product_groups is None:
            # Its lines' product groups are recorded next (catalog.fill, where the program
            # matches groups), once per product; recorded at all, they say the lines were
            # weighed (engine.Program.weighs_lines).
            order.product_groups = {}
        order.program_rules = program.decide(
            order, at, order.member_seq, order.tier, priors[order.customer_id], order.segments
        )
        priors[order.customer_id].append(_prior(order))


def _prior(order: OrderState) -> Prior:
    return Prior(
        at=earned_at(order) or BEGINNING,
        rules=tuple(order.program_rules or ()),
        merchandise_minor=order.merchandise_minor,
        earning=is_earning(order),
    )


async def _last_numbers(
    session: AsyncSession, shop_id: int, customers: list[str]
) -> defaultdict[str, int]:
    """Each member's last order number, in one query (the members are one parameter): the
    highest number of each is one probe of ix_orders_member_seq, however many orders the member
    has (a GROUP BY over the members' orders had PostgreSQL scan every order of the shop once a
    batch held a tenth of its members)."""
    each = _each_of(customers, session.get_bind().dialect.name)
    newest = (
        select(func.max(Order.member_seq))
        .where(Order.shop_id == shop_id, Order.customer_id == each.c.value)
        .scalar_subquery()
    )
    last: defaultdict[str, int] = defaultdict(int)
    for customer, number in await session.execute(select(each.c.value, newest)):
        last[customer] = int(number or 0)
    return last


def _each_of(values: list[str], dialect: str) -> TableValuedAlias:
    """The values as a one-column table (``value``): a JSON array's elements on SQLite, an
    array's on PostgreSQL."""
    if dialect == "sqlite":
        return func.json_each(orjson.dumps(values).decode()).table_valued("value")
    array = bindparam("values", values, type_=ARRAY(String))
    return func.unnest(array).table_valued("value").render_derived(name="each")


async def _priors(
    session: AsyncSession, shop_id: int, customers: list[str], batch: set[str]
) -> defaultdict[str, list[Prior]]:
    """The members' judged orders outside the batch, as caps and spend goals count them."""
    o = Order
    found: defaultdict[str, list[Prior]] = defaultdict(list)
    for start in range(0, len(customers), 500):
        rows = await session.execute(
            select(o.customer_id, o.order_id, o.paid_at, o.source_updated_at, o.program_rules,
                   o.merchandise_minor, o.financial_state, o.cancelled, o.deleted)
            .where(
                o.shop_id == shop_id,
                o.customer_id.in_(customers[start : start + 500]),
                o.program_version.is_not(None),
            )
            .order_by(o.member_seq)
        )  # fmt: skip
        for row in rows:
            customer, order_id, paid, updated, rules, merchandise, state, cancelled, deleted = row
            if order_id in batch or customer is None:
                continue
            found[customer].append(
                Prior(
                    at=paid or updated or BEGINNING,
                    rules=tuple(rules or ()),
                    merchandise_minor=merchandise,
                    earning=state == FinancialState.PAID and not cancelled and not deleted,
                )
            )
    return found
