"""Two-phase spending: points held, then captured (spent) or voided (given back with their
lots' expiries), and the deadline sweep; what balances, lots, the member document and
``verify_shop`` show after each."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text

from app.errors import IdempotencyConflict, InsufficientPoints, InvalidRequest
from app.ledger import holds
from app.ledger.errors import HoldNotFound, HoldSettled
from app.ledger.models import (
    SYSTEM_OWNER,
    Account,
    AccountKind,
    Hold,
    HoldStatus,
    LotMovement,
    PointLot,
    TxKind,
)
from app.members import service as members
from app.state import AppState
from tests.conftest import ShopifyShop, make_shopify_shop
from tests.ledger.test_ledger import (
    ALICE,
    BOB,
    T0,
    balances,
    count,
    credit_entry,
    earn,
    member_lots,
    order_snap,
    problems,
    refund,
    refund_snap,
    shop_with,
    transactions,
)

DEADLINE = T0 + timedelta(minutes=15)


async def seed(state: AppState, shop_id: int, owner: str, points: int, key: str, **kw: Any) -> None:
    from app.ledger import service as ledger

    async with state.db.write() as session:
        await members.enrol(session, shop_id, [owner])
        await ledger.post(session, shop_id, credit_entry(key, owner, points, **kw))


async def hold(
    state: AppState, shop_id: int, owner: str, points: int, key: str, deadline: datetime = DEADLINE
) -> holds.HoldResult:
    async with state.db.write() as session:
        return await holds.hold(
            session, shop_id, owner, points, key=key, reason="reward", deadline=deadline
        )


async def capture(state: AppState, shop_id: int, hold_id: int) -> holds.HoldResult:
    async with state.db.write() as session:
        return await holds.capture(session, shop_id, hold_id)


async def void(state: AppState, shop_id: int, hold_id: int) -> holds.HoldResult:
    async with state.db.write() as session:
        return await holds.void(session, shop_id, hold_id)


async def system_balance(state: AppState, shop_id: int, kind: str) -> int:
    async with state.db.read() as session:
        balance = await session.scalar(
            select(Account.balance).where(
                Account.shop_id == shop_id, Account.owner == SYSTEM_OWNER, Account.kind == kind
            )
        )
    return int(balance or 0)


async def open_lots(state: AppState, shop_id: int, owner: str) -> list[tuple[datetime | None, int]]:
    """(expiry, remaining) of the member's lots that still hold points, by expiry."""
    lots = [lot for lot in await member_lots(state, shop_id, owner) if lot.remaining > 0]
    return sorted(((lot.expires_at, lot.remaining) for lot in lots), key=lambda p: str(p[0]))


class TestHold:
    async def test_holding_moves_points_from_available_to_held(self, state: AppState) -> None:
        shop = await shop_with(state)
        await seed(state, shop.shop_id, ALICE, 100, "seed")
        held = await hold(state, shop.shop_id, ALICE, 30, "redemption:1")
        assert held.created
        assert (held.status, held.points) == (HoldStatus.HELD, 30)
        assert await balances(state, shop.shop_id, ALICE) == {
            "available": 70,
            "pending": 0,
            "held": 30,
        }
        assert await problems(state, shop.shop_id) == []

    async def test_the_member_document_shows_held_beside_available(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        await seed(state, shopify_shop.shop_id, ALICE, 100, "seed")
        await hold(state, shopify_shop.shop_id, ALICE, 40, "redemption:1")
        r = await client.get(f"/api/v1/members/{ALICE}", headers=shopify_shop.auth)
        assert r.status_code == 200
        assert r.json()["points"] == {
            "available": 60,
            "pending": 0,
            "held": 40,
            "lifetime_earned": 0,
        }

    async def test_a_hold_larger_than_available_is_refused_and_writes_nothing(
        self, state: AppState
    ) -> None:
        shop = await shop_with(state)
        await seed(state, shop.shop_id, ALICE, 50, "seed")
        before = await balances(state, shop.shop_id, ALICE)
        movements = await count(state, LotMovement, shop.shop_id)
        with pytest.raises(InsufficientPoints, match="50 points available, 51 needed"):
            await hold(state, shop.shop_id, ALICE, 51, "redemption:1")
        assert await balances(state, shop.shop_id, ALICE) == before
        assert await count(state, Hold, shop.shop_id) == 0
        assert await transactions(state, shop.shop_id, TxKind.HOLD) == []
        assert await count(state, LotMovement, shop.shop_id) == movements
        assert await open_lots(state, shop.shop_id, ALICE) == [(None, 50)]
        assert await problems(state, shop.shop_id) == []

    async def test_the_same_key_holds_once_and_other_content_is_refused(
        self, state: AppState
    ) -> None:
        shop = await shop_with(state)
        await seed(state, shop.shop_id, ALICE, 100, "seed")
        first = await hold(state, shop.shop_id, ALICE, 30, "redemption:1")
        again = await hold(state, shop.shop_id, ALICE, 30, "redemption:1")
        assert (again.hold_id, again.created) == (first.hold_id, False)
        with pytest.raises(IdempotencyConflict):
            await hold(state, shop.shop_id, ALICE, 31, "redemption:1")
        assert await count(state, Hold, shop.shop_id) == 1
        assert (await balances(state, shop.shop_id, ALICE))["held"] == 30

    async def test_a_hold_takes_the_earliest_expiring_lots_first(self, state: AppState) -> None:
        shop = await shop_with(state)
        soon, later = T0 + timedelta(days=10), T0 + timedelta(days=20)
        await seed(state, shop.shop_id, ALICE, 50, "late", expires_at=later)
        await seed(state, shop.shop_id, ALICE, 60, "soon", expires_at=soon)
        await hold(state, shop.shop_id, ALICE, 80, "redemption:1")
        assert await open_lots(state, shop.shop_id, ALICE) == [(later, 30)]

    async def test_a_hold_of_no_points_is_refused(self, state: AppState) -> None:
        shop = await shop_with(state)
        await seed(state, shop.shop_id, ALICE, 100, "seed")
        with pytest.raises(InvalidRequest, match="positive"):
            await hold(state, shop.shop_id, ALICE, 0, "redemption:1")
        assert await count(state, Hold, shop.shop_id) == 0

    async def test_an_unknown_hold_is_not_found(self, state: AppState) -> None:
        shop = await shop_with(state)
        with pytest.raises(HoldNotFound):
            await capture(state, shop.shop_id, 12345)
        with pytest.raises(HoldNotFound):
            await void(state, shop.shop_id, 12345)


class TestCapture:
    async def test_capture_spends_the_held_points_exactly_once(self, state: AppState) -> None:
        shop = await shop_with(state)
        await seed(state, shop.shop_id, ALICE, 100, "seed")
        held = await hold(state, shop.shop_id, ALICE, 30, "redemption:1")
        first = await capture(state, shop.shop_id, held.hold_id)
        again = await capture(state, shop.shop_id, held.hold_id)
        assert first.created
        assert first.status == HoldStatus.CAPTURED
        assert (again.created, again.transaction_id) == (False, first.transaction_id)
        assert await balances(state, shop.shop_id, ALICE) == {
            "available": 70,
            "pending": 0,
            "held": 0,
        }
        assert await system_balance(state, shop.shop_id, AccountKind.REDEEMED) == 30
        [tx] = await transactions(state, shop.shop_id, TxKind.CAPTURE)
        assert tx.points == -30
        assert await problems(state, shop.shop_id) == []

    async def test_a_captured_hold_cannot_be_voided(self, state: AppState) -> None:
        shop = await shop_with(state)
        await seed(state, shop.shop_id, ALICE, 100, "seed")
        held = await hold(state, shop.shop_id, ALICE, 30, "redemption:1")
        await capture(state, shop.shop_id, held.hold_id)
        with pytest.raises(HoldSettled, match="captured; it cannot be voided"):
            await void(state, shop.shop_id, held.hold_id)
        assert (await balances(state, shop.shop_id, ALICE))["available"] == 70
        assert await transactions(state, shop.shop_id, TxKind.VOID) == []
        assert await problems(state, shop.shop_id) == []


class TestVoid:
    async def test_void_gives_the_points_back_once(self, state: AppState) -> None:
        shop = await shop_with(state)
        await seed(state, shop.shop_id, ALICE, 100, "seed")
        held = await hold(state, shop.shop_id, ALICE, 30, "redemption:1")
        first = await void(state, shop.shop_id, held.hold_id)
        again = await void(state, shop.shop_id, held.hold_id)
        assert first.created
        assert first.status == HoldStatus.VOIDED
        assert (again.created, again.transaction_id) == (False, first.transaction_id)
        assert await balances(state, shop.shop_id, ALICE) == {
            "available": 100,
            "pending": 0,
            "held": 0,
        }
        assert await system_balance(state, shop.shop_id, AccountKind.REDEEMED) == 0
        assert await problems(state, shop.shop_id) == []

    async def test_a_voided_hold_cannot_be_captured(self, state: AppState) -> None:
        shop = await shop_with(state)
        await seed(state, shop.shop_id, ALICE, 100, "seed")
        held = await hold(state, shop.shop_id, ALICE, 30, "redemption:1")
        await void(state, shop.shop_id, held.hold_id)
        with pytest.raises(HoldSettled, match="voided; it cannot be captured"):
            await capture(state, shop.shop_id, held.hold_id)
        assert await system_balance(state, shop.shop_id, AccountKind.REDEEMED) == 0

    async def test_void_restores_lot_expiries(self, state: AppState) -> None:
        shop = await shop_with(state)
        soon, later = T0 + timedelta(days=10), T0 + timedelta(days=20)
        await seed(state, shop.shop_id, ALICE, 60, "soon", expires_at=soon)
        await seed(state, shop.shop_id, ALICE, 50, "late", expires_at=later)
        held = await hold(state, shop.shop_id, ALICE, 80, "redemption:1")
        await void(state, shop.shop_id, held.hold_id)
        # 60 expiring soon and 50 later, as before the hold.
        assert await open_lots(state, shop.shop_id, ALICE) == [(soon, 60), (later, 30), (later, 20)]
        assert await problems(state, shop.shop_id) == []

        assert (await state.worker.run_scheduled(now=soon))["expired"] == 1
        assert (await balances(state, shop.shop_id, ALICE))["available"] == 50
        assert (await state.worker.run_scheduled(now=later))["expired"] == 2
        assert (await balances(state, shop.shop_id, ALICE))["available"] == 0
        assert await system_balance(state, shop.shop_id, AccountKind.EXPIRED) == 110
        assert await problems(state, shop.shop_id) == []

    async def test_held_points_do_not_expire_and_a_later_void_lets_them_expire(
        self, state: AppState
    ) -> None:
        shop = await shop_with(state)
        due = T0 + timedelta(days=10)
        await seed(state, shop.shop_id, ALICE, 100, "seed", expires_at=due)
        # A deadline past every run below: the hold stays open until it is voided by hand.
        held = await hold(
            state, shop.shop_id, ALICE, 70, "redemption:1", deadline=due + timedelta(days=30)
        )
        # The lot expires with the hold open: only its unheld 30 points go.
        assert (await state.worker.run_scheduled(now=due))["expired"] == 1
        assert await balances(state, shop.shop_id, ALICE) == {
            "available": 0,
            "pending": 0,
            "held": 70,
        }
        await void(state, shop.shop_id, held.hold_id)
        # Given back with the expiry already past: they expire at the next run, and only once.
        assert await open_lots(state, shop.shop_id, ALICE) == [(due, 70)]
        assert (await state.worker.run_scheduled(now=due + timedelta(days=1)))["expired"] == 1
        assert (await state.worker.run_scheduled(now=due + timedelta(days=2)))["expired"] == 0
        assert (await balances(state, shop.shop_id, ALICE))["available"] == 0
        assert await system_balance(state, shop.shop_id, AccountKind.EXPIRED) == 100
        assert await problems(state, shop.shop_id) == []

    async def test_a_void_to_a_member_in_debt_pays_the_debt_first(self, state: AppState) -> None:
        shop = await shop_with(state, allow_negative_balance=True)
        await earn(state, shop, order_snap("o1"))  # 100 points
        held = await hold(state, shop.shop_id, ALICE, 80, "redemption:1")
        await refund(state, shop, refund_snap("rf1", "o1", 10_000), now=T0 + timedelta(days=1))
        assert (await balances(state, shop.shop_id, ALICE))["available"] == -80
        await void(state, shop.shop_id, held.hold_id)
        assert await balances(state, shop.shop_id, ALICE) == {
            "available": 0,
            "pending": 0,
            "held": 0,
        }
        assert await open_lots(state, shop.shop_id, ALICE) == []
        assert await problems(state, shop.shop_id) == []


class TestDeadline:
    async def test_holds_past_their_deadline_are_voided_once(self, state: AppState) -> None:
        shop = await shop_with(state)
        # Another shop's due hold is left to its own sweep.
        other = await make_shopify_shop(state, domain="other.myshopify.com")
        await seed(state, shop.shop_id, ALICE, 100, "seed")
        await seed(state, shop.shop_id, BOB, 100, "seed-bob")
        await seed(state, other.shop_id, ALICE, 100, "seed")
        due = await hold(state, shop.shop_id, ALICE, 10, "r1", deadline=T0)
        not_yet = await hold(state, shop.shop_id, ALICE, 20, "r2", deadline=T0 + timedelta(hours=1))
        captured = await hold(state, shop.shop_id, BOB, 30, "r3", deadline=T0)
        await capture(state, shop.shop_id, captured.hold_id)
        elsewhere = await hold(state, other.shop_id, ALICE, 40, "r4", deadline=T0)

        assert await holds.void_expired_holds(state.db, shop.shop_id, T0) == 1
        assert await holds.void_expired_holds(state.db, shop.shop_id, T0) == 0

        async with state.db.read() as session:
            rows = (await session.execute(select(Hold.id, Hold.status))).all()
        status = dict(rows)
        assert status == {
            due.hold_id: HoldStatus.VOIDED,
            not_yet.hold_id: HoldStatus.HELD,
            captured.hold_id: HoldStatus.CAPTURED,
            elsewhere.hold_id: HoldStatus.HELD,
        }
        assert await balances(state, shop.shop_id, ALICE) == {
            "available": 80,
            "pending": 0,
            "held": 20,
        }
        assert await problems(state, shop.shop_id) == []
        assert await problems(state, other.shop_id) == []


class TestVerifyHolds:
    async def test_verify_reports_a_held_balance_that_disagrees_with_open_holds(
        self, state: AppState
    ) -> None:
        shop = await shop_with(state)
        await seed(state, shop.shop_id, ALICE, 100, "seed")
        held = await hold(state, shop.shop_id, ALICE, 30, "redemption:1")
        async with state.db.write() as session:
            await session.execute(
                text("UPDATE holds SET points = 31 WHERE id = :id"), {"id": held.hold_id}
            )
        assert await problems(state, shop.shop_id) == [
            f"member {ALICE}: held balance 30, open holds say 31"
        ]

    async def test_verify_reports_a_hold_whose_status_lost_its_settlement(
        self, state: AppState
    ) -> None:
        shop = await shop_with(state)
        await seed(state, shop.shop_id, ALICE, 100, "seed")
        held = await hold(state, shop.shop_id, ALICE, 30, "redemption:1")
        await capture(state, shop.shop_id, held.hold_id)
        async with state.db.write() as session:
            await session.execute(
                text("UPDATE holds SET status = 'voided' WHERE id = :id"), {"id": held.hold_id}
            )
        found = await problems(state, shop.shop_id)
        assert f"hold {held.hold_id}: status voided, settled by capture" in found

    async def test_verify_reports_a_void_that_gave_back_another_expiry(
        self, state: AppState
    ) -> None:
        shop = await shop_with(state)
        soon = T0 + timedelta(days=10)
        await seed(state, shop.shop_id, ALICE, 100, "seed", expires_at=soon)
        held = await hold(state, shop.shop_id, ALICE, 30, "redemption:1")
        voided = await void(state, shop.shop_id, held.hold_id)
        async with state.db.write() as session:
            await session.execute(
                text("UPDATE point_lots SET expires_at = NULL WHERE transaction_id = :tx"),
                {"tx": voided.transaction_id},
            )
        found = await problems(state, shop.shop_id)
        hold_id = held.hold_id
        assert set(found) == {
            f"hold {hold_id}: of the points expiring {soon.isoformat()}, the hold took 30 and its "
            "void gave back 0",
            f"hold {hold_id}: of the points never expiring, the hold took 0 and its void gave "
            "back 30",
        }

    async def test_lots_a_void_creates_are_counted_like_any_lot(self, state: AppState) -> None:
        shop = await shop_with(state)
        await seed(state, shop.shop_id, ALICE, 100, "seed")
        held = await hold(state, shop.shop_id, ALICE, 30, "redemption:1")
        voided = await void(state, shop.shop_id, held.hold_id)
        async with state.db.read() as session:
            restored = await session.scalar(
                select(func.sum(PointLot.remaining)).where(
                    PointLot.transaction_id == voided.transaction_id
                )
            )
        assert restored == 30
        async with state.db.write() as session:
            await session.execute(
                text(
                    "UPDATE point_lots SET remaining = 29, points = 29 WHERE transaction_id = :tx"
                ),
                {"tx": voided.transaction_id},
            )
        found = await problems(state, shop.shop_id)
        assert f"member {ALICE}: lots hold 99, available balance allows 100" in found
