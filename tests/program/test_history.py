"""The ledger over time: existing ledgers keep their meaning, a second rule leaves the first
alone, rebuilding from the raw events gives the same lots, the order state keeps its lines, and
bad input never becomes points."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from app.config import Settings
from app.db import Database
from app.ledger.models import LedgerTransaction, PointLot, TxKind
from app.ledger.verify import verify_shop
from app.program import lines, versions
from app.program.document import ProgramDocument
from app.program.models import Order, OrderRefund
from app.state import AppState
from app.webhooks.models import EventStatus, WebhookEvent
from tests.conftest import (
    SECRET_KEY,
    USES_POSTGRES,
    ShopifyShop,
    _truncate,
    fixture_json,
    make_shopify_shop,
)
from tests.payloads import dumps, shopify_order, shopify_refund, woo_order

CUSTOMER = 1073339475
# shopify_order's processed_at: 2025-04-02T11:31:38-05:00
PAID = datetime(2025, 4, 2, 16, 31, 38, tzinfo=UTC)


class Shop:
    """One Shopify shop's deliveries, each a new event, processed at a chosen time."""

    def __init__(self, client: httpx.AsyncClient, state: AppState, shop: ShopifyShop) -> None:
        self.client, self.state, self.shop = client, state, shop
        self.count = 0

    async def deliver(self, topic: str, payload: dict[str, Any] | bytes) -> httpx.Response:
        self.count += 1
        body = payload if isinstance(payload, bytes) else dumps(payload)
        headers = self.shop.headers(body, topic, event_id=f"evt-{self.count}")
        return await self.client.post("/webhooks/shopify", content=body, headers=headers)

    async def points(self) -> dict[str, int]:
        r = await self.client.get(f"/api/v1/members/{CUSTOMER}", headers=self.shop.auth)
        if r.status_code == 404:
            return {}
        assert r.status_code == 200, r.text
        points: dict[str, int] = r.json()["points"]
        return points

    async def transactions(self) -> list[tuple[str, str | None, int]]:
        async with self.state.db.read() as session:
            rows = await session.execute(
                select(LedgerTransaction.idempotency_key, LedgerTransaction.rule,
                       LedgerTransaction.points)
                .where(LedgerTransaction.shop_id == self.shop.shop_id)
                .order_by(LedgerTransaction.id)
            )  # fmt: skip
            return [(k, r, p) for k, r, p in rows.all()]

    async def lots(self) -> list[tuple[int, datetime | None]]:
        """The member's lots: points left in each, and when they expire."""
        async with self.state.db.read() as session:
            rows = await session.execute(
                select(PointLot.remaining, PointLot.expires_at)
                .where(PointLot.shop_id == self.shop.shop_id)
                .order_by(PointLot.id)
            )
            return [(p, e) for p, e in rows.all()]

    async def events(self) -> list[tuple[str, str | None]]:
        async with self.state.db.read() as session:
            rows = await session.execute(
                select(WebhookEvent.status, WebhookEvent.last_error)
                .where(WebhookEvent.shop_id == self.shop.shop_id)
                .order_by(WebhookEvent.id)
            )
            return [(s, e) for s, e in rows.all()]

    async def verify(self) -> None:
        async with self.state.db.read() as session:
            assert await verify_shop(session, self.shop.shop_id) == []


@pytest.fixture
async def shop(client: httpx.AsyncClient, state: AppState) -> Shop:
    return Shop(client, state, await make_shopify_shop(state))


class TestExistingLedgers:
    async def test_the_default_rule_posts_the_keys_vafa_always_posted(
        self, client: httpx.AsyncClient, state: AppState
    ) -> None:
        shop = Shop(client, state, await make_shopify_shop(state, settings={"hold_days": 3}))
        await shop.deliver("orders/paid", shopify_order(9001, merchandise="181.09"))
        await shop.deliver("refunds/create", shopify_refund(501, 9001, merchandise="50.00"))
        await state.worker.drain(now=PAID + timedelta(minutes=5))
        await state.worker.run_scheduled(now=PAID + timedelta(days=4))
        cancelled = shopify_order(
            9001, updated_at="2025-04-09T10:00:00Z", cancelled_at="2025-04-09T10:00:00Z"
        )
        await shop.deliver("orders/cancelled", cancelled)
        await state.worker.drain(now=PAID + timedelta(days=7))
        assert [key for key, _, _ in await shop.transactions()] == [
            "order:9001:earn",
            "refund:9001:501:reverse",
            "order:9001:release",
            "order:9001:cancel",
        ]

    async def test_an_order_delivered_again_over_a_ledger_of_todays_keys_posts_nothing(
        self, client: httpx.AsyncClient, state: AppState
    ) -> None:
        shop = Shop(client, state, await make_shopify_shop(state, settings={"hold_days": 3}))
        history: list[tuple[str, dict[str, Any]]] = [
            ("orders/paid", shopify_order(9001, merchandise="181.09")),
            ("refunds/create", shopify_refund(501, 9001, merchandise="50.00")),
            ("orders/paid", shopify_order(9002, merchandise="75.00")),
        ]
        for topic, payload in history:
            await shop.deliver(topic, payload)
        await state.worker.drain(now=PAID + timedelta(minutes=5))
        await state.worker.run_scheduled(now=PAID + timedelta(days=4))
        # What a ledger written before rules and lines holds: releases without a rule, orders
        # and refunds without lines.
        async with state.db.write() as session:
            await session.execute(
                update(LedgerTransaction)
                .where(LedgerTransaction.kind == TxKind.RELEASE)
                .values(rule=None)
            )
            await session.execute(update(Order).values(lines=None, discount_codes=None))
            await session.execute(update(OrderRefund).values(lines=None))
        before = (await shop.transactions(), await shop.points())
        assert len(before[0]) == 5  # two earns, a reverse, two releases

        for topic, payload in history:  # the same orders again, as new deliveries
            await shop.deliver(topic, payload)
        await state.worker.drain(now=PAID + timedelta(days=5))
        await state.worker.run_scheduled(now=PAID + timedelta(days=5))

        assert (await shop.transactions(), await shop.points()) == before
        await shop.verify()


# A later program: the purchase rule as before, and a flat 10-point bonus on every paid order.
LATER = ProgramDocument.model_validate(
    {"rules": [
        {"key": "purchase", "type": "purchase", "points": 1},
        {"key": "flat", "type": "campaign", "bonus": 10,
         "starts_at": "2027-01-01T00:00:00Z", "ends_at": "2028-01-01T00:00:00Z"},
    ]}
)  # fmt: skip


class TestRules:
    async def test_a_second_rule_posts_under_its_own_keys_and_leaves_the_first_alone(
        self, shop: Shop, state: AppState
    ) -> None:
        await shop.deliver("orders/paid", shopify_order(9001, merchandise="181.09"))
        await state.worker.drain()
        first = await shop.transactions()
        assert first == [("order:9001:earn", "default:points_per_unit", 181)]

        async with state.db.write() as session:
            await versions.publish(session, shop.shop.shop_id, LATER, now=datetime.now(UTC),
                                   effective_at=datetime(2027, 1, 1, tzinfo=UTC))  # fmt: skip
        # The order paid under version 1 is judged by it, whatever comes after.
        await shop.deliver("orders/updated", shopify_order(9001, merchandise="181.09"))
        later = shopify_order(9002, merchandise="181.09", updated_at="2027-02-01T10:00:00Z")
        later["processed_at"] = "2027-02-01T10:00:00Z"
        await shop.deliver("orders/paid", later)
        await state.worker.drain()
        assert await shop.transactions() == [
            *first,
            ("order:9002:earn", "default:points_per_unit", 181),
            ("order:9002:earn:flat", "campaign:flat", 10),
        ]

        refund = shopify_refund(501, 9002, merchandise="100.00", created_at="2027-02-02T10:00:00Z")
        await shop.deliver("refunds/create", refund)
        await state.worker.drain()
        # each rule keeps its own share: 181 → 81, 10 → 10 × 81.09 / 181.09 = 4.47 → 4
        assert (await shop.transactions())[3:] == [
            ("refund:9002:501:reverse", "default:points_per_unit", -100),
            ("refund:9002:501:reverse:flat", "campaign:flat", -6),
        ]
        assert (await shop.points())["available"] == 181 + 85
        await shop.verify()


async def _fresh_state(template: str, tmp_path: Path, old: AppState) -> AppState:
    """A new, empty database, as an operator rebuilding from the raw events would start."""
    if USES_POSTGRES:
        db = old.db
        await _truncate(db)
        url = template
    else:
        target = tmp_path / "rebuilt.db"
        shutil.copyfile(template, target)
        url = f"sqlite+aiosqlite:///{target}"
        db = Database(url)
    settings = Settings(database_url=url, secret_key=SECRET_KEY, worker_in_process=False,
                        shop_cache_seconds=0.0)  # fmt: skip
    return AppState.build(settings, db)


class TestRebuildingFromTheRawEvents:
    @pytest.mark.parametrize("hold_days", [0, 3])
    async def test_gives_the_same_lots_however_late_it_runs(
        self,
        client: httpx.AsyncClient,
        state: AppState,
        database_template: str,
        tmp_path: Path,
        hold_days: int,
    ) -> None:
        from app.main import create_app

        program = {"hold_days": hold_days, "expiry_days": 30}
        deliveries = [
            ("orders/paid", shopify_order(9001, merchandise="181.09")),
            ("refunds/create", shopify_refund(501, 9001, merchandise="50.00")),
            ("orders/paid", shopify_order(9002, merchandise="20.00")),
        ]

        async def run(app_state: AppState, http: httpx.AsyncClient, now: datetime) -> list[Any]:
            shop = Shop(http, app_state, await make_shopify_shop(app_state, settings=program))
            for topic, payload in deliveries:
                assert (await shop.deliver(topic, payload)).status_code == 200
            await app_state.worker.drain(now=now)
            if now < PAID + timedelta(days=hold_days + 1):  # the hold ends meanwhile
                await app_state.worker.run_scheduled(now=PAID + timedelta(days=hold_days + 1))
            return await shop.lots()

        first = await run(state, client, PAID + timedelta(minutes=1))
        available_from = PAID + timedelta(days=hold_days)
        assert first == [
            (131, available_from + timedelta(days=30)),
            (20, available_from + timedelta(days=30)),
        ]

        rebuilt = await _fresh_state(database_template, tmp_path, state)
        app = create_app(rebuilt.settings, rebuilt)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://vafa.test") as http:
            later = await run(rebuilt, http, PAID + timedelta(days=400))
        if rebuilt.db is not state.db:
            await rebuilt.db.dispose()
        assert later == first


class TestOrderState:
    async def test_keeps_the_lines_and_codes_of_the_newest_snapshot(
        self, shop: Shop, state: AppState
    ) -> None:
        payload = fixture_json("shopify/order-with-refund.json")
        await shop.deliver("orders/updated", payload)
        await state.worker.drain()
        async with state.db.read() as session:
            order = await session.scalar(select(Order).where(Order.order_id == "450789469"))
            assert order is not None
            stored = lines.order_lines(order.lines)
            [refund] = (await session.scalars(select(OrderRefund))).all()
        assert stored is not None
        assert [(line.sku, line.merchandise_minor) for line in stored] == [
            ("IPOD2008GREEN", 19566),
            ("IPOD2008RED", 19567),
            ("IPOD2008BLACK", 19567),
        ]
        assert order.discount_codes == ["TENOFF"]
        assert [(r.line_id, r.merchandise_minor) for r in lines.refund_lines(refund.lines)] == [
            ("703073504", 19566),
            ("466157049", 19567),
        ]
        assert refund.shop_id == order.shop_id == shop.shop.shop_id

    async def test_an_order_from_before_lines_were_kept_reads_as_unknown(self) -> None:
        assert lines.order_lines(None) is None
        assert lines.refund_lines(None) == ()


class TestBadInputNeverBecomesPoints:
    """Signed variants of the fixtures, as a buggy store or an attacker holding the store's
    signing secret would send them: each is kept as rejected with its reason, and moves no
    points."""

    async def test_a_refund_with_a_negative_subtotal_takes_nothing_and_gives_nothing(
        self, shop: Shop, state: AppState
    ) -> None:
        await shop.deliver("orders/paid", shopify_order(9001, merchandise="181.09"))
        await state.worker.drain()
        assert (await shop.points())["available"] == 181
        await shop.deliver("refunds/create", shopify_refund(501, 9001, merchandise="-999999.99"))
        await state.worker.drain()
        assert (await shop.points())["available"] == 181  # 999,683 before the fix
        status, error = (await shop.events())[-1]
        assert status == EventStatus.REJECTED
        assert error is not None
        assert "'-999999.99' is negative" in error
        await shop.verify()

    async def test_a_negative_discount_allocation_earns_nothing_extra(
        self, shop: Shop, state: AppState
    ) -> None:
        order = shopify_order(9001, merchandise="199.00")
        order["line_items"][0]["discount_allocations"] = [
            {"amount": "-500.00", "amount_set": {"shop_money": {"amount": "-500.00"}}}
        ]
        await shop.deliver("orders/paid", order)
        await state.worker.drain()
        assert await shop.points() in ({}, {"available": 0})  # 699 before the fix
        assert (await shop.events())[-1][0] == EventStatus.REJECTED

    async def test_a_hundred_trillion_line_total_earns_nothing(
        self, client: httpx.AsyncClient, state: AppState
    ) -> None:
        from tests.conftest import make_woo_shop

        woo = await make_woo_shop(state)
        body = dumps(woo_order(723, lines=("123456789012345.6789",)))
        await client.post(woo.webhook_url, content=body, headers=woo.headers(body, "order.updated"))
        await state.worker.drain()
        async with state.db.read() as session:
            assert (await session.scalars(select(LedgerTransaction))).all() == []
            [event] = (await session.scalars(select(WebhookEvent))).all()
        assert event.status == EventStatus.REJECTED
        assert event.last_error is not None
        assert "beyond the amounts Vafa accepts" in event.last_error

    @pytest.mark.parametrize(
        ("change", "reason"),
        [
            (lambda o: o.update(id="9" * 65), "order.id is 65 characters long"),
            (lambda o: o["customer"].update(id="1" * 65), "order.customer.id is 65 characters"),
            (lambda o: o.update(currency="USDX"), "not a three-letter currency code"),
            (lambda o: o.update(name="#1\x00"), "order.name contains a NUL character"),
            (lambda o: o["line_items"][0].update(quantity=2**63), "quantity"),
        ],
    )
    async def test_what_the_database_would_refuse_is_rejected_at_once(
        self, shop: Shop, state: AppState, change: Any, reason: str
    ) -> None:
        order = shopify_order(9001, merchandise="181.09")
        change(order)
        await shop.deliver("orders/paid", order)
        await state.worker.drain()
        [(status, error)] = await shop.events()
        assert status == EventStatus.REJECTED  # not pending, not retried
        assert error is not None
        assert reason in error
        assert await shop.transactions() == []

    async def test_an_ignored_topic_with_nul_in_its_body_is_stored(
        self, client: httpx.AsyncClient, state: AppState
    ) -> None:
        from tests.conftest import make_woo_shop

        woo = await make_woo_shop(state)
        body = dumps({"id": 5, "code": "x", "date_modified_gmt": "2017-03-21T16:09:30\x00"})
        r = await client.post(
            woo.webhook_url, content=body, headers=woo.headers(body, "coupon.updated")
        )
        assert r.status_code == 200, r.text  # on PostgreSQL the key's NUL made this a 500
        await state.worker.drain()
        async with state.db.read() as session:
            [event] = (await session.scalars(select(WebhookEvent))).all()
        assert event.status == EventStatus.IGNORED

    async def test_a_customer_name_past_its_column_is_rejected_at_once(
        self, shop: Shop, state: AppState
    ) -> None:
        customer = fixture_json("shopify/customer.json")
        customer["first_name"] = "B" * 256
        await shop.deliver("customers/update", customer)
        await state.worker.drain()
        [(status, error)] = await shop.events()
        assert status == EventStatus.REJECTED
        assert error == "customer.first_name is 256 characters long, more than 255"
        assert "B" * 40 not in error  # the name itself is not repeated to the operator
