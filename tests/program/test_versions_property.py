"""Properties of the versioned program over any history of orders and refunds:

- replaying the same history under the same versions reproduces the ledger exactly;
- publishing a new version never alters points already posted (orders delivered again after
  it post nothing);
- an order paid before the change and refunded after it reverses exactly what it earned under
  the version it was paid in, in proportion (all of it for a full refund).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.connectors.base import RefundSnapshot
from app.ledger.models import LedgerTransaction
from app.ledger.verify import verify_shop
from app.members import service as members
from app.members.balances import balance_in
from app.program import reconcile, versions
from app.program.document import ProgramDocument
from app.program.settings import ProgramSettings
from app.state import AppState
from tests.conftest import make_shopify_shop
from tests.snapshots import paid_order

CHANGE = datetime(2030, 1, 1, tzinfo=UTC)
LATER = ProgramDocument.model_validate(
    {"rules": [
        {"key": "purchase", "type": "purchase", "points": 3},
        {"key": "welcome", "type": "first_order", "points": 7},
        {"key": "second", "type": "nth_order", "every": 2, "points": 5},
    ]}
)  # fmt: skip
MEMBERS = ("m1", "m2")
_shops = itertools.count(1)


@dataclass(frozen=True)
class Planned:
    member: str
    cents: int
    after_change: bool
    refund_cents: int  # 0: none


orders = st.lists(
    st.builds(
        Planned,
        member=st.sampled_from(MEMBERS),
        cents=st.integers(1, 50_000),
        after_change=st.booleans(),
        refund_cents=st.integers(0, 50_000),
    ),
    min_size=1,
    max_size=6,
)


def _paid_at(i: int, plan: Planned) -> datetime:
    start = CHANGE if plan.after_change else CHANGE - timedelta(days=100)
    return start + timedelta(hours=i)


def _expected(plans: list[Planned]) -> dict[str, int]:
    """Each member's balance, by hand: version 1 is a point per whole dollar; version 2 three
    per dollar, 7 on the first paid order, 5 on every second; each rule's points kept in
    proportion to what is not refunded, rounded down."""
    by_time = sorted(enumerate(plans), key=lambda p: _paid_at(*p))
    seq: dict[str, int] = dict.fromkeys(MEMBERS, 0)
    balance = dict.fromkeys(MEMBERS, 0)
    for _, plan in by_time:
        seq[plan.member] += 1
        n = seq[plan.member]
        if plan.after_change:
            earned = [plan.cents * 3 // 100, 7 if n == 1 else 0, 5 if n % 2 == 0 else 0]
        else:
            earned = [plan.cents // 100]
        refunded = min(plan.refund_cents, plan.cents)
        balance[plan.member] += sum(e * (plan.cents - refunded) // plan.cents for e in earned)
    return balance


async def _run(state: AppState, plans: list[Planned]) -> tuple[int, list[Any], list[Any]]:
    """The history on a new shop: orders paid before the change, version 2 published, the
    same orders again, the orders after it, then every refund. Returns the shop, its ledger
    once the orders before the change were in, and its whole ledger."""
    shop = await make_shopify_shop(state, domain=f"prop-{next(_shops)}.myshopify.com")
    async with state.db.write() as session:
        await members.enrol(session, shop.shop_id, set(MEMBERS))
    program = ProgramSettings()
    snaps = {
        i: paid_order(f"{1000 + i}", customer=plan.member, merchandise=plan.cents,
                      paid_at=_paid_at(i, plan))
        for i, plan in enumerate(plans)
    }  # fmt: skip
    in_time = sorted(snaps, key=lambda i: snaps[i].paid_at or CHANGE)
    before = [i for i in in_time if not plans[i].after_change]
    after = [i for i in in_time if plans[i].after_change]

    async def apply(indices: list[int]) -> None:
        for i in indices:
            async with state.db.write() as session:
                snap = snaps[i]
                await reconcile.apply_order(session, shop.shop_id, program, snap, snap.updated_at)

    await apply(before)
    first_ledger = await _ledger(state, shop.shop_id)
    async with state.db.write() as session:
        await versions.publish(session, shop.shop_id, LATER, datetime.now(UTC), CHANGE)
    await apply(before)  # delivered again under the new version: nothing new
    assert await _ledger(state, shop.shop_id) == first_ledger
    await apply(after)
    for i in in_time:
        if plans[i].refund_cents:
            refund = RefundSnapshot(f"r{i}", snaps[i].order_id, plans[i].refund_cents, 0,
                                    CHANGE + timedelta(days=400))  # fmt: skip
            async with state.db.write() as session:
                await reconcile.apply_refund(session, shop.shop_id, program, refund,
                                             CHANGE + timedelta(days=400))  # fmt: skip
    return shop.shop_id, first_ledger, await _ledger(state, shop.shop_id)


async def _ledger(state: AppState, shop_id: int) -> list[tuple[Any, ...]]:
    async with state.db.read() as session:
        rows = await session.execute(
            select(LedgerTransaction.idempotency_key, LedgerTransaction.owner,
                   LedgerTransaction.rule, LedgerTransaction.points, LedgerTransaction.reason)
            .where(LedgerTransaction.shop_id == shop_id)
            .order_by(LedgerTransaction.id)
        )  # fmt: skip
        return [tuple(row) for row in rows]


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plans=orders)
async def test_the_same_history_gives_the_same_ledger_and_a_change_alters_nothing_posted(
    state: AppState, plans: list[Planned]
) -> None:
    shop, first, ledger = await _run(state, plans)
    assert ledger[: len(first)] == first  # nothing posted before the change was rewritten
    again, _, replayed = await _run(state, plans)
    assert replayed == ledger
    expected = _expected(plans)
    async with state.db.read() as session:
        for member in {p.member for p in plans}:
            balance = await balance_in(session, shop, member)
            assert balance.available == expected[member], (member, ledger)
        assert await verify_shop(session, shop) == []
        assert await verify_shop(session, again) == []


async def test_a_full_refund_after_the_change_reverses_exactly_what_version_1_gave(
    state: AppState,
) -> None:
    plans = [Planned("m1", 18_109, False, 18_109), Planned("m1", 10_000, True, 0)]
    shop, _, ledger = await _run(state, plans)
    by_order = [(key, rule, points) for key, _, rule, points, _ in ledger]
    assert by_order == [
        ("order:1000:earn", "default:points_per_unit", 181),  # version 1: a point a dollar
        ("order:1001:earn", "default:points_per_unit", 300),  # version 2: three
        ("order:1001:earn:second", "nth_order:second", 5),  # the member's second order
        ("refund:1000:r0:reverse", "default:points_per_unit", -181),  # v1's 181, not v2's 543
    ]
    async with state.db.read() as session:
        assert (await balance_in(session, shop, "m1")).available == 305
