"""The pure program step: what an order should carry, by rule, from its state, refunds and
settings alone, and the entries the ledger diff makes of it (no database here)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from app.connectors.base import FinancialState
from app.ledger import service as ledger
from app.ledger.models import AccountKind
from app.limits import MAX_POINTS_PER_ORDER
from app.program import earning
from app.program.document import DEFAULT_DOCUMENT
from app.program.engine import Award, Program
from app.program.ledger_diff import OrderHolding, plan
from app.program.reconcile import OrderState
from app.program.rules import DEFAULT_RULE
from app.program.settings import ProgramSettings
from app.program.versions import BEGINNING, Version

PAID = datetime(2025, 4, 2, 16, 0, tzinfo=UTC)
DEFAULT = ProgramSettings()


def order(**changes: object) -> OrderState:
    state = OrderState(
        id=1,
        order_id="9001",
        known=True,
        name="#9001",
        customer_id="42",
        currency="USD",
        exponent=2,
        merchandise_minor=18109,
        shipping_minor=0,
        tax_minor=0,
        financial_state=FinancialState.PAID.value,
        cancelled=False,
        deleted=False,
        paid_at=PAID,
        release_at=None,
        source_updated_at=PAID,
        lines=None,
        discount_codes=None,
    )
    return replace(state, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Refund:
    refund_id: str
    merchandise_minor: int
    refunded_at: datetime | None = None


# The default program: 1 point per whole unit, as every shop had before rules.
PROGRAM = Program(Version(1, BEGINNING, DEFAULT_DOCUMENT))
# A second rule's award for the tests: a fixed number of points for any paid order.
FLAT_BONUS = Award("test:flat_bonus", "flat", 10, "a flat bonus")


def should_carry(
    state: OrderState,
    refunds: list[Refund],
    settings: ProgramSettings,
    awards: list[Award] | None = None,
) -> earning.Targets:
    return earning.should_carry(
        state, refunds, settings, PROGRAM.awards(state) if awards is None else awards
    )


def target(state: OrderState, refunds: list[Refund] | None = None, **settings: object) -> int:
    [carry] = should_carry(state, refunds or [], ProgramSettings(**settings)).carries  # type: ignore[arg-type]
    return carry.target


class TestWhatAnOrderShouldCarry:
    def test_a_paid_order_carries_a_point_per_whole_unit(self) -> None:
        [carry] = should_carry(order(), [], DEFAULT).carries
        assert (carry.rule, carry.segment, carry.earns, carry.target) == (
            DEFAULT_RULE,
            None,
            181,
            181,
        )

    def test_refunds_take_their_share_rounded_down(self) -> None:
        # kept 181 × (181.09 − 100.00) / 181.09 = 81.05 → 81
        assert target(order(), [Refund("1", 10_000)]) == 81

    def test_an_order_that_does_not_earn_carries_nothing(self) -> None:
        for state in (
            order(cancelled=True),
            order(deleted=True),
            order(customer_id=None),
            order(known=False),
            order(financial_state=FinancialState.REFUNDED.value),
            order(financial_state=FinancialState.PENDING.value),
        ):
            assert target(state) == 0, state

    def test_each_rule_says_what_it_carries(self) -> None:
        awards = [*PROGRAM.awards(order()), FLAT_BONUS]
        targets = should_carry(order(), [Refund("1", 18109)], DEFAULT, awards)
        assert [(c.rule, c.segment, c.earns, c.target) for c in targets.carries] == [
            (DEFAULT_RULE, None, 181, 0),
            ("test:flat_bonus", "flat", 10, 0),  # a full refund leaves nothing of either
        ]


class TestNeverMoreThanEarned:
    def test_a_negative_refund_never_adds_points(self) -> None:
        # Parsing refuses such a refund; a stored one (older data) still cannot add points.
        assert target(order(), [Refund("1", -99_999_999)]) == 181

    def test_refunds_beyond_the_merchandise_leave_zero_not_less(self) -> None:
        assert target(order(), [Refund("1", 10_000), Refund("2", 10_000)]) == 0

    def test_points_per_order_are_capped(self) -> None:
        huge = order(merchandise_minor=10**15)  # ten trillion dollars
        assert target(huge, points_per_unit=Decimal(1_000_000)) == MAX_POINTS_PER_ORDER

    def test_the_diff_never_credits_more_than_the_order_earns(self) -> None:
        state = order()
        held = OrderHolding()
        entries = plan(
            state, held, should_carry(state, [Refund("1", -10_000)], DEFAULT), DEFAULT, PAID
        )
        credited = sum(leg.amount for e in entries for leg in e.legs if leg.owner == "42")
        assert credited == 181
        reverses = [e for e in entries if e.key.startswith("refund:")]
        assert [sum(leg.amount for leg in e.legs if leg.owner == "42") for e in reverses] == [0]


class TestWhenPointsCount:
    def test_points_expire_counted_from_payment(self) -> None:
        targets = should_carry(order(), [], ProgramSettings(expiry_days=30))
        assert targets.earned_at == PAID
        assert targets.expires_at == PAID + timedelta(days=30)

    def test_after_a_hold_they_expire_counted_from_its_end(self) -> None:
        targets = should_carry(order(), [], ProgramSettings(hold_days=14, expiry_days=30))
        assert targets.hold_until == PAID + timedelta(days=14)
        assert targets.expires_at == PAID + timedelta(days=44)

    def test_an_order_paid_without_a_payment_time_counts_from_its_snapshot(self) -> None:
        updated = PAID + timedelta(hours=3)
        targets = should_carry(order(paid_at=None, source_updated_at=updated), [], DEFAULT)
        assert targets.earned_at == updated

    def test_the_worker_running_late_changes_no_expiry(self) -> None:
        settings = ProgramSettings(expiry_days=30)
        state = order()
        early = _credit(
            plan(state, OrderHolding(), should_carry(state, [], settings), settings, PAID)
        )
        late_state = order()
        late = plan(
            late_state,
            OrderHolding(),
            should_carry(late_state, [], settings),
            settings,
            PAID + timedelta(days=400),
        )
        assert early.expires_at == _credit(late).expires_at == PAID + timedelta(days=30)

    def test_points_held_at_first_are_available_at_once_when_processed_after_the_hold(
        self,
    ) -> None:
        settings = ProgramSettings(hold_days=14, expiry_days=30)
        state = order()
        [earn] = plan(
            state,
            OrderHolding(),
            should_carry(state, [], settings),
            settings,
            PAID + timedelta(days=20),
        )
        assert [leg.kind for leg in earn.legs if leg.owner == "42"] == [AccountKind.AVAILABLE]
        assert earn.expires_at == PAID + timedelta(days=44)
        assert state.release_at is None


def _credit(entries: list[ledger.Entry]) -> ledger.Entry:
    [entry] = entries
    return entry
