"""What-if: a draft program replayed on the shop's stored events, on throwaway databases, beside
the live program; the live ledger only read."""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import func, select, update
from typer.testing import CliRunner, Result

from app.cli import cli
from app.config import get_settings
from app.ledger import service as ledger
from app.ledger.models import Account, LedgerTransaction
from app.ledger.verify import verify_shop
from app.members.models import Member
from app.orm import utcnow
from app.program import versions
from app.program.document import ProgramDocument
from app.program.simulate import simulate
from app.program.simulation import queries
from app.program.simulation.replay import Replay, ReplaysStopped, Source, run_replays
from app.state import AppState
from app.webhooks.models import WebhookEvent
from tests.conftest import ShopifyShop
from tests.payloads import dumps, shopify_order, shopify_refund

ANN, BOB, CYD = 101, 102, 103
# shopify_order's processed_at: 2025-04-02T11:31:38-05:00
PAID = datetime(2025, 4, 2, 16, 31, 38, tzinfo=UTC)
DOUBLE = {"rules": [{"key": "purchase", "type": "purchase", "points": 2}]}


async def _deliver(
    client: httpx.AsyncClient, shop: ShopifyShop, history: list[tuple[str, dict[str, Any]]]
) -> None:
    for n, (topic, payload) in enumerate(history):
        body = dumps(payload)
        headers = shop.headers(body, topic, event_id=f"evt-{topic}-{n}")
        r = await client.post("/webhooks/shopify", content=body, headers=headers)
        assert r.status_code == 200, r.text


# Under the default program (1 point per whole unit), by hand:
#   9001 Ann  181.09 paid                      → 181
#   9002 Bob   50.00 paid, 20.00 refunded      → 50, less 50 × 20/50 = 20 → 30
#   9003 Cyd   99.99 paid, then cancelled      → 99, then 0
#   9004 Ann   75.00 paid, refunded in full    → 75, then 0
#   9005 guest 40.00 paid                      → 0 (no customer)
#   9006 Bob   12.00 pending                   → 0 (not paid)
#   9007 Cyd   33.50 paid, 33.50 refunded      → 33, then 0
#   9008 Ann   19.99 paid, 5.00 refunded       → 19, less 19 × 5/19.99 rounded to keep 14
# Issued: 181 + 30 + 14 = 225; Ann redeems 25 of her 195: 225 - 25 = 200 outstanding.
HISTORY: list[tuple[str, dict[str, Any]]] = [
    ("orders/paid", shopify_order(9001, customer_id=ANN, merchandise="181.09")),
    ("orders/paid", shopify_order(9002, customer_id=BOB, merchandise="50.00")),
    ("refunds/create", shopify_refund(601, 9002, merchandise="20.00")),
    ("orders/paid", shopify_order(9003, customer_id=CYD, merchandise="99.99")),
    (
        "orders/cancelled",
        shopify_order(
            9003,
            customer_id=CYD,
            merchandise="99.99",
            updated_at="2025-04-05T10:00:00Z",
            cancelled_at="2025-04-05T10:00:00Z",
        ),
    ),
    ("orders/paid", shopify_order(9004, customer_id=ANN, merchandise="75.00")),
    (
        "orders/updated",
        shopify_order(
            9004,
            customer_id=ANN,
            merchandise="75.00",
            financial_status="refunded",
            updated_at="2025-04-06T10:00:00Z",
        ),
    ),
    ("orders/paid", shopify_order(9005, customer_id=None, merchandise="40.00")),
    (
        "orders/create",
        shopify_order(9006, customer_id=BOB, merchandise="12.00", financial_status="pending"),
    ),
    ("orders/paid", shopify_order(9007, customer_id=CYD, merchandise="33.50")),
    ("refunds/create", shopify_refund(602, 9007, merchandise="33.50")),
    ("orders/paid", shopify_order(9008, customer_id=ANN, merchandise="19.99")),
    ("refunds/create", shopify_refund(603, 9008, merchandise="5.00")),
]
# Merchandise of paid orders less refunds (minor units): 18109 + 3000 + 0 + 0 + 4000 + 0 + 1499
REVENUE = 18109 + 3000 + 4000 + 1499


@pytest.fixture
async def lived(
    client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
) -> ShopifyShop:
    """The shop after its history was processed and Ann redeemed 25 points."""
    await _deliver(client, shopify_shop, HISTORY)
    await state.worker.drain(now=PAID + timedelta(days=10))
    async with state.db.write() as session:
        await ledger.redeem(
            session, shopify_shop.shop_id, str(ANN), 25, key="test:redeem:1", reason="a reward"
        )
    return shopify_shop


async def _ledger_sums(state: AppState, shop_id: int) -> dict[str, int]:
    """What ``vafa ledger verify`` checks, summed: the system accounts and the members'."""
    async with state.db.read() as session:
        assert await verify_shop(session, shop_id) == []
        rows = (
            await session.execute(
                select(Account.owner, Account.kind, Account.balance).where(
                    Account.shop_id == shop_id
                )
            )
        ).all()
    system = {kind: int(balance) for owner, kind, balance in rows if owner == ""}
    members = sum(int(balance) for owner, _, balance in rows if owner != "")
    return {
        "issued": -system.get("issued", 0),
        "redeemed": system.get("redeemed", 0),
        "outstanding": members,
    }


async def _transactions(state: AppState) -> int:
    async with state.db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(LedgerTransaction)) or 0)


async def _live_document(state: AppState, shop_id: int) -> ProgramDocument:
    async with state.db.read() as session:
        return (await versions.load(session, shop_id)).latest.document


class TestDraftEqualToLive:
    async def test_reproduces_the_live_ledgers_totals_exactly(
        self, state: AppState, lived: ShopifyShop
    ) -> None:
        sums = await _ledger_sums(state, lived.shop_id)
        assert sums == {"issued": 225, "redeemed": 25, "outstanding": 200}
        before = await _transactions(state)
        document = await _live_document(state, lived.shop_id)

        report = await simulate(state.db, lived.shop_id, document, now=utcnow())

        for outcome in (report.draft, report.live):
            assert outcome.points_issued == sums["issued"]
            assert outcome.expected_redemptions == sums["redeemed"]
            assert outcome.points_outstanding == sums["outstanding"]
            assert outcome.revenue_minor == REVENUE
            assert outcome.currency == "USD"
        assert report.draft == report.live
        assert report.ledger.points_issued == 225
        assert report.assumptions.redemption_rate == Decimal("0.111111")  # 25 / 225
        assert report.events.replayed == len(HISTORY)
        assert report.events.by_status == {"processed": len(HISTORY)}
        assert await _transactions(state) == before  # the live ledger untouched
        assert await _ledger_sums(state, lived.shop_id) == sums
        async with state.db.read() as session:  # and its events as they were
            statuses = await session.scalars(select(WebhookEvent.status).distinct())
            assert set(statuses) == {"processed"}


class TestDoublePoints:
    async def test_two_points_per_unit_issue_what_a_person_computes(
        self, state: AppState, lived: ShopifyShop
    ) -> None:
        report = await simulate(
            state.db, lived.shop_id, ProgramDocument.model_validate(DOUBLE), now=utcnow()
        )
        # By hand, at 2 points per whole unit, rounded down once per order:
        #   9001 181.09 → 362; 9002 50.00 → 100, 20.00 of it refunded → 60;
        #   9008 19.99 → 39 (not 2 × 19), 5.00 of it refunded → 39 × 1499/1999 → 29.
        assert report.draft.points_issued == 362 + 60 + 29
        assert report.live.points_issued == 181 + 30 + 14
        # 25 of 225 issued were redeemed: 451 × 25/225 = 50.1 expected redeemed.
        assert report.draft.expected_redemptions == 50
        assert report.draft.points_outstanding == 401
        assert report.draft.members_with_points == 2  # Ann and Bob; Cyd's orders reversed

    async def test_on_whole_units_double_points_are_exactly_double(
        self, client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
    ) -> None:
        await _deliver(client, shopify_shop, [
            ("orders/paid", shopify_order(7001, customer_id=ANN, merchandise="40.00")),
            ("orders/paid", shopify_order(7002, customer_id=BOB, merchandise="25.00")),
            ("refunds/create", shopify_refund(701, 7002, merchandise="10.00")),
            ("orders/paid", shopify_order(7003, customer_id=BOB, merchandise="8.00")),
            ("refunds/create", shopify_refund(702, 7003, merchandise="8.00")),
        ])  # fmt: skip
        await state.worker.drain(now=PAID + timedelta(days=1))
        report = await simulate(
            state.db, shopify_shop.shop_id, ProgramDocument.model_validate(DOUBLE),
            now=utcnow(),
        )  # fmt: skip
        assert report.live.points_issued == 40 + 15 + 0  # 25 less 25 × 10/25
        assert report.draft.points_issued == 80 + 30 + 0 == 2 * report.live.points_issued


class TestTiers:
    async def test_members_per_tier_are_counted_on_the_replayed_ledger(
        self, state: AppState, lived: ShopifyShop
    ) -> None:
        # The draft doubles the points and adds tiers on lifetime points earned (net of
        # refunds); upgrades are at once, so a member's highest moment counts. By hand:
        #   Ann 9001 earns 2 × 181 = 362 at once: silver (≥ 250), and keeps it;
        #   Bob 9002 earns 100, less 100 × 20/50 = 40: 60, bronze;
        #   Cyd 9003 earns 199 (cancelled), 9007 67 (refunded): never 250, bronze.
        draft = {**DOUBLE, "tiers": {"basis": "points_earned", "window": "lifetime", "levels": [
            {"key": "bronze", "names": {"fa": "برنزی", "en": "Bronze"}, "threshold": 0},
            {"key": "silver", "names": {"fa": "نقره‌ای", "en": "Silver"}, "threshold": 250},
            {"key": "gold", "names": {"fa": "طلایی", "en": "Gold"}, "threshold": 1000},
        ]}}  # fmt: skip
        report = await simulate(
            state.db, lived.shop_id, ProgramDocument.model_validate(draft), now=utcnow()
        )
        assert report.draft.members_per_tier == {"bronze": 2, "silver": 1, "gold": 0}
        assert report.model_dump()["draft"]["members_per_tier"] == {
            "bronze": 2, "silver": 1, "gold": 0
        }  # fmt: skip
        assert report.live.members_per_tier is None  # the live program has no tiers
        async with state.db.read() as session:  # the live members were not given a tier
            tiers = await session.scalars(
                select(Member.tier).where(Member.shop_id == lived.shop_id)
            )
            assert set(tiers.all()) == {None}


class TestMoney:
    async def test_liability_at_the_documents_point_value_and_its_share_of_revenue(
        self, state: AppState, lived: ShopifyShop
    ) -> None:
        draft = ProgramDocument.model_validate({**DOUBLE, "point_value_minor": "2.5"})
        report = await simulate(state.db, lived.shop_id, draft, now=utcnow())
        assert report.draft.point_value_source == "document"
        assert report.draft.liability_minor == 1003  # 401 points × 2.5, half up
        assert report.draft.cost_share == Decimal("0.037695")  # 1003 / 26608
        # The live program names no value and the shop has no rewards: no money is claimed.
        assert report.live.liability_minor is None
        assert report.live.cost_share is None

    async def test_without_a_point_value_the_rewards_say_what_a_point_is_worth(
        self, client: httpx.AsyncClient, state: AppState, lived: ShopifyShop
    ) -> None:
        for name, points, value in (("5 off", 200, 500), ("2 off", 100, 150)):
            r = await client.post(
                "/api/v1/rewards",
                json={"name": name, "kind": "amount_off", "points_cost": points, "value": value,
                      "active": True},
                headers=lived.auth,
            )  # fmt: skip
            assert r.status_code == 201, r.text
        document = await _live_document(state, lived.shop_id)
        report = await simulate(state.db, lived.shop_id, document, now=utcnow())
        # The most a point buys: 500 / 200 = 2.5 minor units (the other, 150 / 100 = 1.5).
        assert report.live.point_value_source == "rewards"
        assert report.live.point_value_minor == Decimal("2.5")
        assert report.live.liability_minor == 500  # 200 outstanding × 2.5
        assert report.live.cost_share == Decimal("0.018791")  # 500 / 26608


class TestSince:
    async def test_only_events_received_since_the_day_are_replayed(
        self, state: AppState, lived: ShopifyShop
    ) -> None:
        async with state.db.write() as session:  # the first two orders came long ago
            await session.execute(
                update(WebhookEvent)
                .where(WebhookEvent.dedupe_key.in_(
                    [f"shopify:event:orders/paid:evt-orders/paid-{n}" for n in (0, 1)]
                ))
                .values(received_at=datetime(2025, 1, 1, tzinfo=UTC))
            )  # fmt: skip
        document = await _live_document(state, lived.shop_id)
        report = await simulate(state.db, lived.shop_id, document, date(2025, 6, 1), now=utcnow())
        assert report.events.replayed == len(HISTORY) - 2
        # Without 9001 (181) and 9002 (its refund alone, for an order not seen: nothing).
        assert report.live.points_issued == 225 - 181 - 30


class TestApi:
    async def test_post_simulate_answers_the_two_replays(
        self, client: httpx.AsyncClient, state: AppState, lived: ShopifyShop
    ) -> None:
        r = await client.post(
            "/api/v1/program/simulate", json={"draft": DOUBLE}, headers=lived.auth
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["draft"]["points_issued"] == 451
        assert body["live"]["points_issued"] == 225
        assert body["ledger"]["points_redeemed"] == 25
        assert body["draft"]["liability_minor"] is None  # no point value: said, not guessed
        assert "members_per_tier" not in body["draft"]  # the draft has no tiers

    async def test_a_bad_draft_is_422_with_the_field(
        self, client: httpx.AsyncClient, lived: ShopifyShop
    ) -> None:
        draft = {"rules": [{"key": "purchase", "type": "purchase", "points": 0}]}
        r = await client.post("/api/v1/program/simulate", json={"draft": draft}, headers=lived.auth)
        assert r.status_code == 422
        error = r.json()["error"]
        assert error["code"] == "validation_error"
        assert error["details"][0]["field"] == "body.draft.rules.0.purchase.points"

    async def test_since_in_the_future_is_422(
        self, client: httpx.AsyncClient, lived: ShopifyShop
    ) -> None:
        tomorrow = (utcnow() + timedelta(days=1)).date().isoformat()
        r = await client.post(
            "/api/v1/program/simulate",
            json={"draft": DOUBLE, "since": tomorrow},
            headers=lived.auth,
        )
        assert r.status_code == 422
        assert r.json()["error"] == {
            "code": "validation_error",
            "message": f"since: {tomorrow} is in the future",
        }

    async def test_needs_the_shops_key(self, client: httpx.AsyncClient) -> None:
        r = await client.post("/api/v1/program/simulate", json={"draft": DOUBLE})
        assert r.status_code == 401


@pytest.fixture
def operator_env(state: AppState, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """VAFA_DATABASE_URL as an operator exports it (no secret key: none is needed)."""
    monkeypatch.setenv("VAFA_DATABASE_URL", state.db.url)
    monkeypatch.delenv("VAFA_SECRET_KEY", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _vafa(*args: str) -> Result:
    # On a thread of its own: the command runs its own event loop, and the test is in one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(CliRunner().invoke, cli, list(args)).result()


class TestCli:
    async def test_vafa_program_simulate_prints_the_report(
        self, lived: ShopifyShop, tmp_path: Path, operator_env: None
    ) -> None:
        draft = tmp_path / "draft.json"
        draft.write_bytes(orjson.dumps(DOUBLE))
        done = _vafa("program", "simulate", str(draft), "--shop", str(lived.shop_id),
                     "--since", "2025-01-01")  # fmt: skip
        assert done.exit_code == 0, done.output
        report = orjson.loads(done.stdout)
        assert report["since"] == "2025-01-01"
        assert report["draft"]["points_issued"] == 451
        assert report["live"]["points_issued"] == 225
        assert f"{len(HISTORY)} events replayed" in done.stderr

    async def test_a_bad_draft_file_names_the_field(
        self, lived: ShopifyShop, tmp_path: Path, operator_env: None
    ) -> None:
        draft = tmp_path / "draft.json"
        draft.write_bytes(b'{"rules": [{"key": "purchase", "type": "purchase"}]}')
        done = _vafa("program", "simulate", str(draft), "--shop", str(lived.shop_id))
        assert done.exit_code == 1
        assert "rules.0.purchase.points: Field required" in done.stderr

    async def test_an_unknown_shop_is_a_clear_error(
        self, tmp_path: Path, operator_env: None
    ) -> None:
        draft = tmp_path / "draft.json"
        draft.write_bytes(orjson.dumps(DOUBLE))
        done = _vafa("program", "simulate", str(draft), "--shop", "999")
        assert done.exit_code == 1
        assert done.stderr.strip() == "error: no shop 999"


class TestStopping:
    async def test_stopped_replays_end_their_processes_at_once(
        self, state: AppState, lived: ShopifyShop, tmp_path: Path
    ) -> None:
        async with state.db.read() as session:
            found = await queries.shop_and_program(session, lived.shop_id)
            _, last = await queries.event_range(session, lived.shop_id, None)
        assert found is not None
        shop, program = found
        stop = threading.Event()
        seen: list[int] = []

        def progress(done: int) -> None:  # the caller gives up after the first word
            seen.append(done)
            stop.set()

        replays = [Replay(name, tmp_path / f"{name}.db", program) for name in ("a", "b")]
        source = Source(state.db.url, shop, None, last, utcnow(), batch=1)  # a page per event
        with pytest.raises(ReplaysStopped):
            await asyncio.to_thread(run_replays, replays, source, progress, stop)
        assert len(seen) == 1  # nothing more was waited for
        assert seen[0] < len(HISTORY)
        assert multiprocessing.active_children() == []

    async def test_a_cancelled_simulation_stops_and_the_next_one_runs(
        self, state: AppState, lived: ShopifyShop
    ) -> None:
        loop = asyncio.get_running_loop()
        document = await _live_document(state, lived.shop_id)
        cancel: list[asyncio.Task[Any]] = []

        def progress(done: int, total: int) -> None:  # a client that hangs up on the way
            if done > 0:
                loop.call_soon_threadsafe(cancel[0].cancel)

        task = asyncio.create_task(
            simulate(state.db, lived.shop_id, document, now=utcnow(), progress=progress, batch=1)
        )
        cancel.append(task)
        with pytest.raises(asyncio.CancelledError):
            await task
        report = await simulate(state.db, lived.shop_id, document, now=utcnow())
        assert report.live.points_issued == 225
        assert multiprocessing.active_children() == []
