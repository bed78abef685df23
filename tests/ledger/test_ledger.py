"""The ledger seen from outside: what a member's balances, entries and lots show after posting,
redeeming, expiring, holding and clawing back points, and what ``verify_shop`` says about it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text

from app.connectors.base import OrderSnapshot, RefundSnapshot
from app.errors import IdempotencyConflict, InsufficientPoints
from app.ledger import service as ledger
from app.ledger.models import (
    SYSTEM_OWNER,
    Account,
    AccountKind,
    LedgerMember,
    LedgerTransaction,
    PointLot,
    Posting,
    TxKind,
)
from app.ledger.verify import verify_shop
from app.program import reconcile
from app.state import AppState
from tests.conftest import ShopifyShop, make_shopify_shop
from tests.snapshots import paid_order

T0 = datetime(2025, 4, 1, 12, 0, tzinfo=UTC)
ALICE = "1001"
BOB = "1002"


# -- helpers ---------------------------------------------------------------------------------


def order_snap(
    order_id: str,
    *,
    customer: str = ALICE,
    merchandise: int = 10_000,
    paid_at: datetime = T0,
    updated_at: datetime | None = None,
    cancelled: bool = False,
) -> OrderSnapshot:
    """A paid USD order: ``merchandise`` in cents, so 10_000 earns 100 points by default."""
    return paid_order(
        order_id,
        customer=customer,
        merchandise=merchandise,
        paid_at=paid_at,
        updated_at=updated_at,
        cancelled=cancelled,
    )


def refund_snap(
    refund_id: str, order_id: str, merchandise: int, at: datetime = T0
) -> RefundSnapshot:
    return RefundSnapshot(
        refund_id=refund_id,
        order_id=order_id,
        merchandise_minor=merchandise,
        shipping_minor=0,
        created_at=at,
    )


def credit_entry(
    key: str, owner: str, points: int, expires_at: datetime | None = None
) -> ledger.Entry:
    return ledger.Entry(
        key=key,
        kind=TxKind.ADJUST,
        owner=owner,
        legs=(
            ledger.Leg(owner, AccountKind.AVAILABLE, points),
            ledger.Leg(SYSTEM_OWNER, AccountKind.ADJUSTED, -points),
        ),
        reason=f"goodwill {points}",
        source_type="manual",
        expires_at=expires_at,
    )


def spend_entry(key: str, owner: str, points: int) -> ledger.Entry:
    return ledger.Entry(
        key=key,
        kind=TxKind.REDEEM,
        owner=owner,
        legs=(
            ledger.Leg(owner, AccountKind.AVAILABLE, -points),
            ledger.Leg(SYSTEM_OWNER, AccountKind.REDEEMED, points),
        ),
        reason=f"reward {points}",
        source_type="redemption",
        no_overdraft=True,
    )


async def shop_with(state: AppState, **program: Any) -> ShopifyShop:
    return await make_shopify_shop(state, settings=program)


async def earn(
    state: AppState, shop: ShopifyShop, snap: OrderSnapshot, now: datetime | None = None
) -> list[ledger.Posted]:
    ctx = await state.shops.by_id(shop.shop_id)
    assert ctx is not None
    async with state.db.write() as session:
        return await reconcile.apply_order(
            session, shop.shop_id, ctx.settings, snap, now or snap.updated_at
        )


async def refund(
    state: AppState, shop: ShopifyShop, snap: RefundSnapshot, now: datetime
) -> list[ledger.Posted]:
    ctx = await state.shops.by_id(shop.shop_id)
    assert ctx is not None
    async with state.db.write() as session:
        return await reconcile.apply_refund(session, shop.shop_id, ctx.settings, snap, now)


async def adjust(state: AppState, shop_id: int, owner: str, points: int, key: str) -> ledger.Posted:
    async with state.db.write() as session:
        return await ledger.adjust(session, shop_id, owner, points, key=key, reason="test")


async def redeem(state: AppState, shop_id: int, owner: str, points: int, key: str) -> ledger.Posted:
    async with state.db.write() as session:
        return await ledger.redeem(session, shop_id, owner, points, key=key, reason="reward")


async def balances(state: AppState, shop_id: int, owner: str) -> dict[str, int]:
    async with state.db.read() as session:
        rows = await session.execute(
            select(Account.kind, Account.balance).where(
                Account.shop_id == shop_id, Account.owner == owner
            )
        )
        found = {str(kind): int(balance) for kind, balance in rows.all()}
    return {AccountKind.AVAILABLE: 0, AccountKind.PENDING: 0, AccountKind.HELD: 0, **found}


async def transactions(state: AppState, shop_id: int, kind: str | None = None) -> list[Any]:
    async with state.db.read() as session:
        query = select(LedgerTransaction).where(LedgerTransaction.shop_id == shop_id)
        if kind is not None:
            query = query.where(LedgerTransaction.kind == kind)
        return list((await session.scalars(query.order_by(LedgerTransaction.id))).all())


async def count(state: AppState, model: Any, shop_id: int) -> int:
    async with state.db.read() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(model).where(model.shop_id == shop_id)
            )
            or 0
        )


async def member_lots(state: AppState, shop_id: int, owner: str) -> list[Any]:
    async with state.db.read() as session:
        return list(
            (
                await session.scalars(
                    select(PointLot)
                    .where(PointLot.shop_id == shop_id, PointLot.owner == owner)
                    .order_by(PointLot.id)
                )
            ).all()
        )


async def problems(state: AppState, shop_id: int) -> list[str]:
    async with state.db.read() as session:
        return [p.what for p in await verify_shop(session, shop_id)]


async def assert_clean(state: AppState, shop_id: int) -> None:
    assert await problems(state, shop_id) == []


# -- post ------------------------------------------------------------------------------------


class TestPost:
    async def test_posting_the_same_key_twice_writes_once(self, state: AppState) -> None:
        shop = await shop_with(state)
        entry = credit_entry("goodwill:1", ALICE, 25)
        async with state.db.write() as session:
            first = await ledger.post(session, shop.shop_id, entry)
        after_first = await balances(state, shop.shop_id, ALICE)
        async with state.db.write() as session:
            second = await ledger.post(session, shop.shop_id, entry)

        assert first.created is True
        assert second.created is False
        assert second.transaction_id == first.transaction_id
        assert second.points == first.points == 25
        assert await balances(state, shop.shop_id, ALICE) == after_first
        assert after_first[AccountKind.AVAILABLE] == 25
        assert len(await transactions(state, shop.shop_id)) == 1
        assert await count(state, Posting, shop.shop_id) == 2
        assert await count(state, PointLot, shop.shop_id) == 1
        await assert_clean(state, shop.shop_id)

    async def test_same_key_with_other_content_is_refused_and_writes_nothing(
        self, state: AppState
    ) -> None:
        shop = await shop_with(state)
        async with state.db.write() as session:
            await ledger.post(session, shop.shop_id, credit_entry("k", ALICE, 10))
        ledger_members_before = await count(state, LedgerMember, shop.shop_id)
        accounts_before = await count(state, Account, shop.shop_id)

        with pytest.raises(IdempotencyConflict):
            async with state.db.write() as session:
                await ledger.post(session, shop.shop_id, credit_entry("k", ALICE, 20))
        with pytest.raises(IdempotencyConflict):  # another member, under the same key
            async with state.db.write() as session:
                await ledger.post(session, shop.shop_id, credit_entry("k", BOB, 10))

        assert (await balances(state, shop.shop_id, ALICE))[AccountKind.AVAILABLE] == 10
        assert len(await transactions(state, shop.shop_id)) == 1
        assert await count(state, Posting, shop.shop_id) == 2
        assert await count(state, LedgerMember, shop.shop_id) == ledger_members_before
        assert await count(state, Account, shop.shop_id) == accounts_before
        await assert_clean(state, shop.shop_id)

    async def test_unbalanced_entry_raises_and_writes_nothing(self, state: AppState) -> None:
        shop = await shop_with(state)
        unbalanced = ledger.Entry(
            key="bad",
            kind=TxKind.ADJUST,
            owner=ALICE,
            legs=(
                ledger.Leg(ALICE, AccountKind.AVAILABLE, 10),
                ledger.Leg(SYSTEM_OWNER, AccountKind.ADJUSTED, -9),
            ),
            reason="typo",
            source_type="manual",
        )
        with pytest.raises(ValueError, match="sum to zero"):
            async with state.db.write() as session:
                await ledger.post(session, shop.shop_id, unbalanced)

        assert await transactions(state, shop.shop_id) == []
        assert await count(state, Posting, shop.shop_id) == 0
        assert await count(state, Account, shop.shop_id) == 0
        assert await count(state, LedgerMember, shop.shop_id) == 0
        assert await count(state, PointLot, shop.shop_id) == 0

    async def test_entry_posting_to_another_member_is_refused(self, state: AppState) -> None:
        shop = await shop_with(state)
        stray = ledger.Entry(
            key="stray",
            kind=TxKind.ADJUST,
            owner=ALICE,
            legs=(
                ledger.Leg(BOB, AccountKind.AVAILABLE, 10),
                ledger.Leg(SYSTEM_OWNER, AccountKind.ADJUSTED, -10),
            ),
            reason="wrong member",
            source_type="manual",
        )
        with pytest.raises(ValueError, match="not its owner"):
            async with state.db.write() as session:
                await ledger.post(session, shop.shop_id, stray)
        assert await transactions(state, shop.shop_id) == []
        assert await balances(state, shop.shop_id, BOB) == {"available": 0, "pending": 0, "held": 0}


class TestPostMany:
    """A list of entries posted as one unit, each checked against what the ones before leave."""

    async def test_a_refusal_half_way_writes_nothing(self, state: AppState) -> None:
        shop = await shop_with(state)
        await adjust(state, shop.shop_id, ALICE, 5, "seed")
        entries = [credit_entry("c1", ALICE, 10), spend_entry("s1", ALICE, 50)]
        with pytest.raises(InsufficientPoints):
            async with state.db.write() as session:
                await ledger.post_many(session, shop.shop_id, entries)

        assert (await balances(state, shop.shop_id, ALICE))[AccountKind.AVAILABLE] == 5
        assert [tx.idempotency_key for tx in await transactions(state, shop.shop_id)] == ["seed"]
        assert await count(state, PointLot, shop.shop_id) == 1
        await assert_clean(state, shop.shop_id)

    async def test_each_check_sees_the_balance_the_entries_before_leave(
        self, state: AppState
    ) -> None:
        shop = await shop_with(state)
        async with state.db.write() as session:
            posted = await ledger.post_many(
                session,
                shop.shop_id,
                [credit_entry("c1", ALICE, 30), spend_entry("s1", ALICE, 20)],
            )
        assert [p.balances[AccountKind.AVAILABLE] for p in posted] == [30, 10]
        with pytest.raises(InsufficientPoints):
            async with state.db.write() as session:
                await ledger.post_many(
                    session,
                    shop.shop_id,
                    [spend_entry("s2", ALICE, 10), spend_entry("s3", ALICE, 1)],
                )
        assert (await balances(state, shop.shop_id, ALICE))[AccountKind.AVAILABLE] == 10
        await assert_clean(state, shop.shop_id)

    async def test_the_same_key_twice_in_one_list_posts_once(self, state: AppState) -> None:
        shop = await shop_with(state)
        entry = credit_entry("c1", ALICE, 30)
        async with state.db.write() as session:
            first, second = await ledger.post_many(session, shop.shop_id, [entry, entry])
        assert (first.created, second.created) == (True, False)
        assert first.transaction_id == second.transaction_id
        assert (await balances(state, shop.shop_id, ALICE))[AccountKind.AVAILABLE] == 30
        assert len(await transactions(state, shop.shop_id)) == 1

        with pytest.raises(IdempotencyConflict):
            async with state.db.write() as session:
                await ledger.post_many(
                    session,
                    shop.shop_id,
                    [credit_entry("c2", ALICE, 1), credit_entry("c2", ALICE, 2)],
                )
        assert len(await transactions(state, shop.shop_id)) == 1
        await assert_clean(state, shop.shop_id)

    async def test_lots_credited_in_the_list_are_spent_in_expiry_order(
        self, state: AppState
    ) -> None:
        shop = await shop_with(state)
        async with state.db.write() as session:
            await ledger.post(
                session, shop.shop_id, credit_entry("old", ALICE, 40, T0 + timedelta(days=30))
            )
        async with state.db.write() as session:
            await ledger.post_many(
                session,
                shop.shop_id,
                [
                    credit_entry("never", ALICE, 20),
                    credit_entry("soon", ALICE, 50, T0 + timedelta(days=10)),
                    spend_entry("s1", ALICE, 60),
                ],
            )
        remaining = {
            lot.expires_at: lot.remaining for lot in await member_lots(state, shop.shop_id, ALICE)
        }
        assert remaining == {
            T0 + timedelta(days=10): 0,
            T0 + timedelta(days=30): 30,
            None: 20,
        }
        assert (await balances(state, shop.shop_id, ALICE))[AccountKind.AVAILABLE] == 50
        await assert_clean(state, shop.shop_id)


# -- redeem ----------------------------------------------------------------------------------


class TestRedeem:
    async def test_redeeming_more_than_available_is_refused_and_changes_nothing(
        self, state: AppState
    ) -> None:
        shop = await shop_with(state)
        await adjust(state, shop.shop_id, ALICE, 30, "seed")

        with pytest.raises(InsufficientPoints):
            await redeem(state, shop.shop_id, ALICE, 31, "r1")

        assert (await balances(state, shop.shop_id, ALICE))[AccountKind.AVAILABLE] == 30
        assert await transactions(state, shop.shop_id, TxKind.REDEEM) == []
        assert sum(lot.remaining for lot in await member_lots(state, shop.shop_id, ALICE)) == 30
        await assert_clean(state, shop.shop_id)

    async def test_redeeming_exactly_the_balance_leaves_zero(self, state: AppState) -> None:
        shop = await shop_with(state)
        await adjust(state, shop.shop_id, ALICE, 30, "seed")
        posted = await redeem(state, shop.shop_id, ALICE, 30, "r1")

        assert posted.created is True
        assert posted.points == -30
        assert posted.balances[AccountKind.AVAILABLE] == 0
        assert (await balances(state, shop.shop_id, ALICE))[AccountKind.AVAILABLE] == 0
        [tx] = await transactions(state, shop.shop_id, TxKind.REDEEM)
        assert tx.points == -30
        assert tx.source_type == "redemption"
        await assert_clean(state, shop.shop_id)

    async def test_negative_adjustment_may_not_overdraw(self, state: AppState) -> None:
        shop = await shop_with(state)
        await adjust(state, shop.shop_id, ALICE, 5, "seed")
        with pytest.raises(InsufficientPoints):
            await adjust(state, shop.shop_id, ALICE, -6, "take")
        assert (await balances(state, shop.shop_id, ALICE))[AccountKind.AVAILABLE] == 5
        await adjust(state, shop.shop_id, ALICE, -5, "take-all")
        assert (await balances(state, shop.shop_id, ALICE))[AccountKind.AVAILABLE] == 0
        await assert_clean(state, shop.shop_id)


# -- lots ------------------------------------------------------------------------------------


class TestLots:
    async def test_debits_consume_lots_earliest_expiry_first(self, state: AppState) -> None:
        shop = await shop_with(state)
        credits = [  # created in this order, deliberately not in expiry order
            ("late", 50, T0 + timedelta(days=60)),
            ("never", 50, None),
            ("soon", 50, T0 + timedelta(days=10)),
            ("middle", 50, T0 + timedelta(days=30)),
        ]
        async with state.db.write() as session:
            for key, points, expires_at in credits:
                await ledger.post(
                    session, shop.shop_id, credit_entry(key, ALICE, points, expires_at)
                )

        await redeem(state, shop.shop_id, ALICE, 70, "r1")

        remaining = {
            lot.expires_at: lot.remaining for lot in await member_lots(state, shop.shop_id, ALICE)
        }
        assert remaining == {
            T0 + timedelta(days=10): 0,  # the soonest lot is used up
            T0 + timedelta(days=30): 30,  # then 20 of the next
            T0 + timedelta(days=60): 50,
            None: 50,  # a lot that never expires goes last
        }
        assert (await balances(state, shop.shop_id, ALICE))[AccountKind.AVAILABLE] == 130

        await redeem(state, shop.shop_id, ALICE, 100, "r2")
        remaining = {
            lot.expires_at: lot.remaining for lot in await member_lots(state, shop.shop_id, ALICE)
        }
        assert remaining == {
            T0 + timedelta(days=10): 0,
            T0 + timedelta(days=30): 0,
            T0 + timedelta(days=60): 0,
            None: 30,
        }
        await assert_clean(state, shop.shop_id)


# -- expiry ----------------------------------------------------------------------------------


class TestExpiry:
    async def test_a_lot_expires_once_after_its_days(self, state: AppState) -> None:
        shop = await shop_with(state, expiry_days=30)
        await earn(state, shop, order_snap("o1"))
        assert (await balances(state, shop.shop_id, ALICE))[AccountKind.AVAILABLE] == 100
        [lot] = await member_lots(state, shop.shop_id, ALICE)
        assert lot.expires_at == T0 + timedelta(days=30)

        early = await state.worker.run_scheduled(now=T0 + timedelta(days=29))
        assert early["expired"] == 0
        assert (await balances(state, shop.shop_id, ALICE))[AccountKind.AVAILABLE] == 100

        done = await state.worker.run_scheduled(now=T0 + timedelta(days=31))
        assert done["expired"] == 1
        assert (await balances(state, shop.shop_id, ALICE))[AccountKind.AVAILABLE] == 0
        [expiry] = await transactions(state, shop.shop_id, TxKind.EXPIRE)
        assert expiry.points == -100
        assert expiry.owner == ALICE
        assert expiry.source_id == str(lot.id)

        again = await state.worker.run_scheduled(now=T0 + timedelta(days=32))
        assert again["expired"] == 0
        assert len(await transactions(state, shop.shop_id, TxKind.EXPIRE)) == 1
        assert (await balances(state, shop.shop_id, ALICE))[AccountKind.AVAILABLE] == 0
        await assert_clean(state, shop.shop_id)

    async def test_redemption_before_expiry_leaves_only_the_rest_to_expire(
        self, state: AppState
    ) -> None:
        shop = await shop_with(state, expiry_days=30)
        await earn(state, shop, order_snap("o1"))
        await redeem(state, shop.shop_id, ALICE, 40, "r1")

        await state.worker.run_scheduled(now=T0 + timedelta(days=31))

        [expiry] = await transactions(state, shop.shop_id, TxKind.EXPIRE)
        assert expiry.points == -60
        assert (await balances(state, shop.shop_id, ALICE))[AccountKind.AVAILABLE] == 0
        assert [lot.remaining for lot in await member_lots(state, shop.shop_id, ALICE)] == [0]
        await assert_clean(state, shop.shop_id)

    async def test_expiry_takes_only_due_lots(self, state: AppState) -> None:
        shop = await shop_with(state, expiry_days=30)
        await earn(state, shop, order_snap("o1"))  # 100 points, expire at T0+30d
        later = T0 + timedelta(days=20)
        await earn(state, shop, order_snap("o2", merchandise=4_000, paid_at=later))  # 40, T0+50d

        await state.worker.run_scheduled(now=T0 + timedelta(days=31))

        assert (await balances(state, shop.shop_id, ALICE))[AccountKind.AVAILABLE] == 40
        assert [e.points for e in await transactions(state, shop.shop_id, TxKind.EXPIRE)] == [-100]
        await assert_clean(state, shop.shop_id)


# -- hold period -----------------------------------------------------------------------------


class TestHold:
    async def test_points_wait_in_pending_until_the_hold_ends(self, state: AppState) -> None:
        shop = await shop_with(state, hold_days=14)
        await earn(state, shop, order_snap("o1"))
        assert await balances(state, shop.shop_id, ALICE) == {
            "available": 0,
            "pending": 100,
            "held": 0,
        }
        with pytest.raises(InsufficientPoints):  # pending points cannot be spent
            await redeem(state, shop.shop_id, ALICE, 1, "r1")

        early = await state.worker.run_scheduled(now=T0 + timedelta(days=13))
        assert early["released"] == 0
        assert await balances(state, shop.shop_id, ALICE) == {
            "available": 0,
            "pending": 100,
            "held": 0,
        }

        done = await state.worker.run_scheduled(now=T0 + timedelta(days=15))
        assert done["released"] == 1
        assert await balances(state, shop.shop_id, ALICE) == {
            "available": 100,
            "pending": 0,
            "held": 0,
        }
        [release] = await transactions(state, shop.shop_id, TxKind.RELEASE)
        assert release.points == 0  # pending → available: the member's total is unchanged
        assert (await state.worker.run_scheduled(now=T0 + timedelta(days=16)))["released"] == 0
        assert len(await transactions(state, shop.shop_id, TxKind.RELEASE)) == 1
        await assert_clean(state, shop.shop_id)

    async def test_refund_during_hold_reverses_from_pending(self, state: AppState) -> None:
        shop = await shop_with(state, hold_days=14)
        await earn(state, shop, order_snap("o1"))
        await adjust(state, shop.shop_id, ALICE, 20, "bonus")  # available, unrelated

        await refund(state, shop, refund_snap("r1", "o1", 3_000), now=T0 + timedelta(days=2))

        assert await balances(state, shop.shop_id, ALICE) == {
            "available": 20,
            "pending": 70,
            "held": 0,
        }
        [reverse] = await transactions(state, shop.shop_id, TxKind.REVERSE)
        assert reverse.points == -30
        await state.worker.run_scheduled(now=T0 + timedelta(days=15))
        assert await balances(state, shop.shop_id, ALICE) == {
            "available": 90,
            "pending": 0,
            "held": 0,
        }
        await assert_clean(state, shop.shop_id)


# -- negative balance policy -----------------------------------------------------------------


class TestNegativeBalance:
    async def test_by_default_a_clawback_after_spending_leaves_a_debt(
        self, state: AppState
    ) -> None:
        shop = await shop_with(state)
        await earn(state, shop, order_snap("o1"))
        await redeem(state, shop.shop_id, ALICE, 100, "r1")

        await refund(state, shop, refund_snap("rf1", "o1", 5_000), now=T0 + timedelta(days=1))

        assert (await balances(state, shop.shop_id, ALICE))[AccountKind.AVAILABLE] == -50
        [reverse] = await transactions(state, shop.shop_id, TxKind.REVERSE)
        assert (reverse.points, reverse.uncollected) == (-50, 0)
        assert sum(lot.remaining for lot in await member_lots(state, shop.shop_id, ALICE)) == 0
        with pytest.raises(InsufficientPoints):
            await redeem(state, shop.shop_id, ALICE, 1, "r2")
        await assert_clean(state, shop.shop_id)

        # The next earning pays the debt first; only the rest is spendable in its lot.
        later = T0 + timedelta(days=2)
        await earn(state, shop, order_snap("o2", merchandise=8_000, paid_at=later))
        assert (await balances(state, shop.shop_id, ALICE))[AccountKind.AVAILABLE] == 30
        lots = await member_lots(state, shop.shop_id, ALICE)
        assert (lots[-1].points, lots[-1].remaining) == (80, 30)
        assert sum(lot.remaining for lot in lots) == 30
        await assert_clean(state, shop.shop_id)

    async def test_without_debt_the_clawback_is_capped_and_the_rest_recorded(
        self, state: AppState
    ) -> None:
        shop = await shop_with(state, allow_negative_balance=False)
        await earn(state, shop, order_snap("o1"))
        await redeem(state, shop.shop_id, ALICE, 80, "r1")

        await refund(state, shop, refund_snap("rf1", "o1", 5_000), now=T0 + timedelta(days=1))

        assert (await balances(state, shop.shop_id, ALICE))[AccountKind.AVAILABLE] == 0
        [reverse] = await transactions(state, shop.shop_id, TxKind.REVERSE)
        assert (reverse.points, reverse.uncollected) == (-20, 30)
        await assert_clean(state, shop.shop_id)

        # Delivered again, the refund claws nothing more; the order counts as reversed.
        await refund(state, shop, refund_snap("rf1", "o1", 5_000), now=T0 + timedelta(days=1))
        assert len(await transactions(state, shop.shop_id, TxKind.REVERSE)) == 1
        of_order = [tx for tx in await transactions(state, shop.shop_id) if tx.order_id == "o1"]
        kept = sum(tx.points for tx in of_order) - sum(tx.uncollected for tx in of_order)
        assert kept == 50  # 100 earned, half refunded: 20 taken back, 30 written off

        later = T0 + timedelta(days=2)
        await earn(state, shop, order_snap("o2", merchandise=8_000, paid_at=later))
        assert (await balances(state, shop.shop_id, ALICE))[AccountKind.AVAILABLE] == 80
        await assert_clean(state, shop.shop_id)


# -- verify ----------------------------------------------------------------------------------


async def _busy_shop(state: AppState) -> ShopifyShop:
    """A shop whose ledger has seen earning, holds, refunds, redemptions, adjustments and
    expiry, for two members."""
    shop = await shop_with(state, hold_days=3, expiry_days=30)
    await earn(state, shop, order_snap("o1"))
    await earn(state, shop, order_snap("o2", customer=BOB, merchandise=5_555))
    await refund(state, shop, refund_snap("rf1", "o1", 2_500), now=T0 + timedelta(days=1))
    await state.worker.run_scheduled(now=T0 + timedelta(days=4))  # release
    await adjust(state, shop.shop_id, ALICE, 10, "bonus")
    await redeem(state, shop.shop_id, ALICE, 30, "r1")
    await redeem(state, shop.shop_id, BOB, 55, "r2")
    cancelled_at = T0 + timedelta(days=5)
    cancelled = order_snap(
        "o2", customer=BOB, merchandise=5_555, cancelled=True, updated_at=cancelled_at
    )
    await earn(state, shop, cancelled)
    await state.worker.run_scheduled(now=T0 + timedelta(days=40))  # expiry
    return shop


class TestVerify:
    async def test_verify_is_clean_after_every_kind_of_movement(self, state: AppState) -> None:
        shop = await _busy_shop(state)
        kinds = {tx.kind for tx in await transactions(state, shop.shop_id)}
        assert kinds == {
            TxKind.EARN,
            TxKind.RELEASE,
            TxKind.REVERSE,
            TxKind.REDEEM,
            TxKind.ADJUST,
            TxKind.EXPIRE,
        }
        assert await problems(state, shop.shop_id) == []

    async def test_verify_reports_a_balance_that_disagrees_with_its_postings(
        self, state: AppState
    ) -> None:
        shop = await _busy_shop(state)
        async with state.db.write() as session:
            await session.execute(
                text(
                    "UPDATE accounts SET balance = balance + 1 "
                    "WHERE shop_id = :shop AND owner = :owner AND kind = 'available'"
                ),
                {"shop": shop.shop_id, "owner": ALICE},
            )
        found = await problems(state, shop.shop_id)
        assert len(found) == 1
        assert f"{ALICE} available" in found[0]
        assert "postings say" in found[0]

    async def test_verify_reports_a_lot_that_disagrees_with_its_movements(
        self, state: AppState
    ) -> None:
        shop = await shop_with(state)
        await adjust(state, shop.shop_id, ALICE, 50, "seed")
        await redeem(state, shop.shop_id, ALICE, 20, "r1")
        async with state.db.write() as session:
            await session.execute(
                text("UPDATE point_lots SET remaining = remaining + 5 WHERE shop_id = :shop"),
                {"shop": shop.shop_id},
            )
        found = await problems(state, shop.shop_id)
        assert any("movements say" in p for p in found)
        assert any(f"member {ALICE}: lots hold 35" in p for p in found)
