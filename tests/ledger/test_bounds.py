"""Points past the signed 64-bit range: the ledger refuses to post them, and ``verify`` reports
a ledger that holds them anyway (corrupted by hand) instead of crashing."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from app.cli import cli
from app.config import Settings, get_settings
from app.db import Database
from app.ledger.bounds import INT64_MAX
from app.ledger.errors import PointsOutOfRange
from app.ledger.models import LedgerTransaction, Posting
from app.state import AppState
from tests.conftest import SECRET_KEY, USES_POSTGRES, _truncate
from tests.ledger.test_ledger import (
    ALICE,
    BOB,
    adjust,
    balances,
    count,
    earn,
    order_snap,
    problems,
    shop_with,
)


class TestPostingBounds:
    async def test_a_leg_past_64_bits_is_refused_and_writes_nothing(self, state: AppState) -> None:
        shop = await shop_with(state)
        with pytest.raises(PointsOutOfRange, match="beyond what a balance can hold"):
            await adjust(state, shop.shop_id, ALICE, INT64_MAX + 1, "huge")
        assert await count(state, LedgerTransaction, shop.shop_id) == 0
        assert await problems(state, shop.shop_id) == []

    async def test_a_member_balance_that_would_pass_64_bits_is_refused(
        self, state: AppState
    ) -> None:
        shop = await shop_with(state)
        await adjust(state, shop.shop_id, ALICE, INT64_MAX, "most")
        with pytest.raises(PointsOutOfRange, match=f"available balance of member {ALICE}"):
            await adjust(state, shop.shop_id, ALICE, 1, "one more")
        assert (await balances(state, shop.shop_id, ALICE))["available"] == INT64_MAX
        assert await count(state, Posting, shop.shop_id) == 2
        assert await problems(state, shop.shop_id) == []

    async def test_a_system_balance_that_would_pass_64_bits_is_refused(
        self, state: AppState
    ) -> None:
        # Two members' adjustments, each in range, would take the shop's `adjusted` account
        # past -2^63: SQLite stored the sum as a REAL.
        shop = await shop_with(state)
        await adjust(state, shop.shop_id, ALICE, INT64_MAX, "most")
        with pytest.raises(PointsOutOfRange, match="system account"):
            await adjust(state, shop.shop_id, BOB, 2, "two")
        assert (await balances(state, shop.shop_id, BOB))["available"] == 0
        assert await count(state, Posting, shop.shop_id) == 2
        assert await problems(state, shop.shop_id) == []

    async def test_lifetime_earned_past_64_bits_is_refused(self, state: AppState) -> None:
        shop = await shop_with(state)
        await earn(state, shop, order_snap("o1", merchandise=10_000))  # 100 points
        async with state.db.write() as session:
            await session.execute(
                text("UPDATE ledger_members SET lifetime_earned = :big WHERE owner = :owner"),
                {"big": INT64_MAX - 50, "owner": ALICE},
            )
        with pytest.raises(PointsOutOfRange, match="lifetime earned"):
            await earn(state, shop, order_snap("o2", merchandise=10_000))
        assert (await balances(state, shop.shop_id, ALICE))["available"] == 100


async def _corrupt(state: AppState, sql: str, **params: object) -> None:
    async with state.db.write() as session:
        await session.execute(text(sql), params)


class TestVerifyNeverCrashes:
    async def test_postings_summing_past_64_bits_are_reported(self, state: AppState) -> None:
        shop = await shop_with(state)
        await adjust(state, shop.shop_id, ALICE, 10, "a")
        await adjust(state, shop.shop_id, BOB, 10, "b")
        await _corrupt(
            state,
            "UPDATE postings SET amount = :big WHERE shop_id = :shop AND amount = 10",
            big=INT64_MAX,
            shop=shop.shop_id,
        )
        found = await problems(state, shop.shop_id)
        assert any("The shop's postings sum to zero: could not be computed" in p for p in found)
        # The checks that do not need the overflowing sum still run and report.
        assert any(f"{ALICE} available): balance 10, postings say {INT64_MAX}" in p for p in found)

    async def test_a_balance_stored_as_a_real_is_reported(self, state: AppState) -> None:
        shop = await shop_with(state)
        await adjust(state, shop.shop_id, ALICE, 10, "a")
        corrupt = "UPDATE accounts SET balance = 1.8e19 WHERE shop_id = :shop AND kind = 'adjusted'"
        if state.db.dialect != "sqlite":
            # PostgreSQL's BIGINT refuses such a value: the case cannot arise there.
            with pytest.raises(DBAPIError, match="out of range"):
                await _corrupt(state, corrupt, shop=shop.shop_id)
            return
        await _corrupt(state, corrupt, shop=shop.shop_id)
        found = await problems(state, shop.shop_id)
        assert any(
            "balance 1.8e+19 is not a whole number of points within the 64-bit range" in p
            for p in found
        ), found
        assert any("(system adjusted): balance 1.8e+19, postings say -10" in p for p in found)

    def test_the_cli_reports_and_exits_1_without_a_traceback(
        self, settings: Settings, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        async def corrupt() -> int:
            db = Database(settings.database_url)
            try:
                if USES_POSTGRES:
                    await _truncate(db)
                state = AppState.build(settings, db)
                shop = await shop_with(state)
                await adjust(state, shop.shop_id, ALICE, 10, "a")
                await adjust(state, shop.shop_id, BOB, 10, "b")
                await _corrupt(state, "UPDATE postings SET amount = :big WHERE amount = 10",
                               big=INT64_MAX)  # fmt: skip
                return shop.shop_id
            finally:
                await db.dispose()

        shop_id = asyncio.run(corrupt())
        monkeypatch.setenv("VAFA_DATABASE_URL", settings.database_url)
        monkeypatch.setenv("VAFA_SECRET_KEY", SECRET_KEY)
        get_settings.cache_clear()
        try:
            result = CliRunner().invoke(cli, ["ledger", "verify"])
        finally:
            get_settings.cache_clear()
        assert result.exit_code == 1, result.output
        assert isinstance(result.exception, SystemExit)
        assert "Traceback" not in result.output
        assert f"shop {shop_id}:" in result.output
        assert "could not be computed" in result.output
