"""Many requests at once against one member: no overspend, no double posting. Each request runs
in its own write transaction, as concurrent API calls would (PostgreSQL: row locks; SQLite: one
writer at a time)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from app.errors import InsufficientPoints
from app.ledger import holds
from app.ledger import service as ledger
from app.ledger.errors import HoldSettled
from app.ledger.models import (
    SYSTEM_OWNER,
    Account,
    AccountKind,
    LedgerTransaction,
    PointLot,
    TxKind,
)
from app.ledger.verify import verify_shop
from app.state import AppState
from tests.conftest import make_shopify_shop

MEMBER = "2001"


async def _available(state: AppState, shop_id: int, owner: str) -> int:
    async with state.db.read() as session:
        balance = await session.scalar(
            select(Account.balance).where(
                Account.shop_id == shop_id,
                Account.owner == owner,
                Account.kind == AccountKind.AVAILABLE,
            )
        )
    assert balance is not None
    return int(balance)


async def _count_tx(state: AppState, shop_id: int, kind: str) -> int:
    async with state.db.read() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(LedgerTransaction)
                .where(LedgerTransaction.shop_id == shop_id, LedgerTransaction.kind == kind)
            )
            or 0
        )


async def _lots_remaining(state: AppState, shop_id: int, owner: str) -> int:
    async with state.db.read() as session:
        total = await session.scalar(
            select(func.coalesce(func.sum(PointLot.remaining), 0)).where(
                PointLot.shop_id == shop_id, PointLot.owner == owner
            )
        )
    return int(total or 0)


async def _verify(state: AppState, shop_id: int) -> list[str]:
    async with state.db.read() as session:
        return [p.what for p in await verify_shop(session, shop_id)]


class TestConcurrentRedemptions:
    async def test_fifty_redemptions_of_ten_against_a_hundred_let_exactly_ten_through(
        self, state: AppState
    ) -> None:
        shop = await make_shopify_shop(state)
        async with state.db.write() as session:
            await ledger.adjust(session, shop.shop_id, MEMBER, 100, key="seed", reason="seed")

        async def attempt(i: int) -> ledger.Posted:
            async with state.db.write() as session:
                return await ledger.redeem(
                    session, shop.shop_id, MEMBER, 10, key=f"redeem:{i}", reason="reward"
                )

        results = await asyncio.gather(*(attempt(i) for i in range(50)), return_exceptions=True)

        unexpected = [r for r in results if isinstance(r, BaseException)]
        unexpected = [r for r in unexpected if not isinstance(r, InsufficientPoints)]
        assert unexpected == []
        succeeded = [r for r in results if isinstance(r, ledger.Posted)]
        refused = [r for r in results if isinstance(r, InsufficientPoints)]
        assert len(succeeded) == 10
        assert len(refused) == 40
        assert all(p.created for p in succeeded)
        # Every successful redemption saw a balance that never went below zero.
        assert sorted(p.balances[AccountKind.AVAILABLE] for p in succeeded) == list(
            range(0, 100, 10)
        )
        assert await _available(state, shop.shop_id, MEMBER) == 0
        assert await _count_tx(state, shop.shop_id, TxKind.REDEEM) == 10
        assert await _lots_remaining(state, shop.shop_id, MEMBER) == 0
        assert await _verify(state, shop.shop_id) == []


class TestConcurrentIdempotency:
    async def test_twenty_identical_adjustments_with_one_key_post_once(
        self, state: AppState
    ) -> None:
        shop = await make_shopify_shop(state)

        async def attempt() -> ledger.Posted:
            async with state.db.write() as session:
                return await ledger.adjust(
                    session, shop.shop_id, MEMBER, 25, key="ticket-42", reason="apology"
                )

        # The member and their accounts do not exist yet: all twenty race to create them too.
        results = await asyncio.gather(*(attempt() for _ in range(20)))

        assert len({p.transaction_id for p in results}) == 1
        assert sum(p.created for p in results) == 1
        assert all(p.points == 25 for p in results)
        assert await _count_tx(state, shop.shop_id, TxKind.ADJUST) == 1
        assert await _available(state, shop.shop_id, MEMBER) == 25
        assert await _lots_remaining(state, shop.shop_id, MEMBER) == 25
        assert await _verify(state, shop.shop_id) == []

    async def test_twenty_identical_redemptions_with_one_key_spend_once(
        self, state: AppState
    ) -> None:
        shop = await make_shopify_shop(state)
        async with state.db.write() as session:
            await ledger.adjust(session, shop.shop_id, MEMBER, 30, key="seed", reason="seed")

        async def attempt() -> ledger.Posted:
            async with state.db.write() as session:
                return await ledger.redeem(
                    session, shop.shop_id, MEMBER, 20, key="cart-7", reason="reward"
                )

        # Retried twenty times, the one redemption of 20 must not be refused for lack of points
        # (only one spends), nor spend twice.
        results = await asyncio.gather(*(attempt() for _ in range(20)))

        assert len({p.transaction_id for p in results}) == 1
        assert sum(p.created for p in results) == 1
        assert await _count_tx(state, shop.shop_id, TxKind.REDEEM) == 1
        assert await _available(state, shop.shop_id, MEMBER) == 10
        assert await _verify(state, shop.shop_id) == []


class TestConcurrentExpiry:
    async def test_redemptions_racing_the_expiry_run_never_spend_an_expired_point(
        self, state: AppState
    ) -> None:
        shop = await make_shopify_shop(state)
        due = datetime(2025, 1, 1, tzinfo=UTC)
        async with state.db.write() as session:
            await ledger.post(
                session,
                shop.shop_id,
                ledger.Entry(
                    key="seed",
                    kind=TxKind.ADJUST,
                    owner=MEMBER,
                    legs=(
                        ledger.Leg(MEMBER, AccountKind.AVAILABLE, 100),
                        ledger.Leg(SYSTEM_OWNER, AccountKind.ADJUSTED, -100),
                    ),
                    reason="seed",
                    source_type="manual",
                    expires_at=due,
                ),
            )

        async def attempt(i: int) -> ledger.Posted:
            await asyncio.sleep(0.005 * i)  # spread out, so the expiry run lands among them
            async with state.db.write() as session:
                return await ledger.redeem(
                    session, shop.shop_id, MEMBER, 10, key=f"redeem:{i}", reason="reward"
                )

        expiry = state.worker.run_scheduled(now=due + timedelta(days=1))
        *results, scheduled = await asyncio.gather(
            *(attempt(i) for i in range(15)), expiry, return_exceptions=True
        )

        assert not isinstance(scheduled, BaseException), scheduled
        assert all(isinstance(r, ledger.Posted | InsufficientPoints) for r in results), results
        redeemed = 10 * sum(isinstance(r, ledger.Posted) for r in results)
        async with state.db.read() as session:
            expired = await session.scalar(
                select(func.coalesce(func.sum(LedgerTransaction.points), 0)).where(
                    LedgerTransaction.shop_id == shop.shop_id,
                    LedgerTransaction.kind == TxKind.EXPIRE,
                )
            )
        assert redeemed + -int(expired or 0) == 100
        points_tasks = {task: scheduled[task] for task in ("voided", "released", "expired")}
        assert points_tasks == {"voided": 0, "released": 0, "expired": 1 if redeemed < 100 else 0}
        assert await _available(state, shop.shop_id, MEMBER) == 0
        assert await _lots_remaining(state, shop.shop_id, MEMBER) == 0
        assert await _verify(state, shop.shop_id) == []


class TestConcurrentHolds:
    async def test_fifty_holds_of_ten_against_a_hundred_let_exactly_ten_through(
        self, state: AppState
    ) -> None:
        shop = await make_shopify_shop(state)
        async with state.db.write() as session:
            await ledger.adjust(session, shop.shop_id, MEMBER, 100, key="seed", reason="seed")

        async def attempt(i: int) -> holds.HoldResult:
            async with state.db.write() as session:
                return await holds.hold(
                    session, shop.shop_id, MEMBER, 10, key=f"hold:{i}", reason="reward",
                    deadline=datetime(2030, 1, 1, tzinfo=UTC),
                )  # fmt: skip

        results = await asyncio.gather(*(attempt(i) for i in range(50)), return_exceptions=True)

        assert all(isinstance(r, holds.HoldResult | InsufficientPoints) for r in results), results
        succeeded = [r for r in results if isinstance(r, holds.HoldResult)]
        assert len(succeeded) == 10
        assert all(r.created for r in succeeded)
        assert await _available(state, shop.shop_id, MEMBER) == 0
        assert await _count_tx(state, shop.shop_id, TxKind.HOLD) == 10
        assert await _lots_remaining(state, shop.shop_id, MEMBER) == 0
        assert await _verify(state, shop.shop_id) == []

    async def test_twenty_identical_holds_with_one_key_hold_once(self, state: AppState) -> None:
        shop = await make_shopify_shop(state)
        async with state.db.write() as session:
            await ledger.adjust(session, shop.shop_id, MEMBER, 30, key="seed", reason="seed")

        async def attempt() -> holds.HoldResult:
            async with state.db.write() as session:
                return await holds.hold(
                    session, shop.shop_id, MEMBER, 20, key="cart-7", reason="reward",
                    deadline=datetime(2030, 1, 1, tzinfo=UTC),
                )  # fmt: skip

        # Retried twenty times, the one hold of 20 is neither refused (only one holds) nor
        # held twice, and every retry names the same hold.
        results = await asyncio.gather(*(attempt() for _ in range(20)))

        assert len({r.hold_id for r in results}) == 1
        assert sum(r.created for r in results) == 1
        assert await _count_tx(state, shop.shop_id, TxKind.HOLD) == 1
        assert await _available(state, shop.shop_id, MEMBER) == 10
        assert await _verify(state, shop.shop_id) == []

    async def test_captures_and_voids_racing_on_one_hold_settle_it_once(
        self, state: AppState
    ) -> None:
        shop = await make_shopify_shop(state)
        async with state.db.write() as session:
            await ledger.adjust(session, shop.shop_id, MEMBER, 100, key="seed", reason="seed")
            held = await holds.hold(
                session, shop.shop_id, MEMBER, 40, key="hold:1", reason="reward",
                deadline=datetime(2030, 1, 1, tzinfo=UTC),
            )  # fmt: skip

        async def settle(i: int) -> holds.HoldResult:
            async with state.db.write() as session:
                if i % 2:
                    return await holds.capture(session, shop.shop_id, held.hold_id)
                return await holds.void(session, shop.shop_id, held.hold_id)

        results = await asyncio.gather(*(settle(i) for i in range(20)), return_exceptions=True)

        assert all(isinstance(r, holds.HoldResult | HoldSettled) for r in results), results
        settled = [r for r in results if isinstance(r, holds.HoldResult)]
        assert sum(r.created for r in settled) == 1
        [outcome] = {r.status for r in settled}
        assert await _count_tx(state, shop.shop_id, TxKind.CAPTURE) == (outcome == "captured")
        assert await _count_tx(state, shop.shop_id, TxKind.VOID) == (outcome == "voided")
        assert await _available(state, shop.shop_id, MEMBER) == (
            60 if outcome == "captured" else 100
        )
        assert await _verify(state, shop.shop_id) == []
