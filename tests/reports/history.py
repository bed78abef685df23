"""A seeded club history for the reports' tests: a program with tiers and a campaign (PUT
through the API), three members' and three guest orders over five months as signed Shopify
webhooks (a refund, a cancelled order, an order that used the Vafa code a member redeemed, one
paid just after midnight in Tehran on the first of a month), rolled up by the periodic task —
and the figures computed straight from the ledger, orders and members tables."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import select, update

from app.ledger.models import SYSTEM_OWNER, Account, AccountKind, LedgerTransaction, Posting
from app.members.models import Member
from app.program.models import Order, OrderRefund
from app.reports import tasks
from app.rewards.models import Redemption, RedemptionStatus
from app.state import AppState
from app.tiers import service as tier_service
from tests.payloads import dumps, shopify_order, shopify_refund
from tests.rewards.conftest import StoreShop, add_reward
from tests.signing import shopify_headers

ZONE = ZoneInfo("Asia/Tehran")
NOW = datetime(2027, 6, 15, 12, tzinfo=UTC)  # the periodic task's clock
PERIOD = {"from": "2026-11-01", "to": "2027-06-30"}
A, B, C = "207119551", "5001", "5002"  # A is the customer the fake store knows (the code)
JOINED = {A: "2027-01-05T10:00:00+03:30", B: "2027-01-20T10:00:00+03:30",
          C: "2027-02-03T10:00:00+03:30"}  # fmt: skip
POINT_VALUE = Decimal("2.5")


def order_payload(
    order_id: int, customer: str | None, merchandise: str, at: str, **extra: Any
) -> dict[str, Any]:
    order = shopify_order(order_id, customer_id=int(customer) if customer else None,
                          merchandise=merchandise, updated_at=at)  # fmt: skip
    order["processed_at"] = order["created_at"] = at
    order["discount_codes"] = []
    return order | extra


async def deliver(client: httpx.AsyncClient, state: AppState, shop: StoreShop,
                  order: dict[str, Any]) -> None:  # fmt: skip
    assert shop.domain is not None
    body = dumps(order)
    event = f"evt-{order['id']}-{order['updated_at']}"
    headers = shopify_headers(body, secret=shop.webhook_secret, topic="orders/updated",
                              domain=shop.domain, event_id=event)  # fmt: skip
    r = await client.post("/webhooks/shopify", content=body, headers=headers)
    assert r.status_code == 200, r.text
    await state.worker.drain()


async def seed(client: httpx.AsyncClient, state: AppState, shop: StoreShop) -> None:
    r = await client.get("/api/v1/program", headers=shop.auth)
    document = r.json()["document"]
    document |= {
        "timezone": "Asia/Tehran",
        "point_value_minor": str(POINT_VALUE),
        "rules": [*document["rules"],
                  {"key": "double", "type": "campaign", "multiplier": 2,
                   "starts_at": "2027-02-01T00:00:00Z", "ends_at": "2027-02-15T00:00:00Z"}],
        "tiers": {"basis": "points_earned", "window": "lifetime", "levels": [
            {"key": "bronze", "threshold": 0, "names": {"fa": "برنزی", "en": "Bronze"}},
            {"key": "silver", "threshold": 300, "names": {"fa": "نقره‌ای", "en": "Silver"}}]},
    }  # fmt: skip
    r = await client.put("/api/v1/program", json=document, headers=shop.auth)
    assert r.status_code == 201, r.text
    refund = shopify_refund(9001, 3003, merchandise="20.00", created_at="2027-03-25T10:00:00Z")
    orders = [
        order_payload(3001, A, "120.00", "2027-01-10T12:00:00+03:30"),
        order_payload(3002, A, "80.00", "2027-02-05T12:00:00+03:30"),  # the campaign's
        order_payload(3003, A, "60.00", "2027-03-20T12:00:00+03:30", refunds=[refund]),
        order_payload(3101, B, "250.00", "2027-02-10T12:00:00+03:30"),  # the campaign's
        order_payload(3102, B, "40.00", "2027-04-02T12:00:00+03:30"),
        order_payload(3103, B, "90.00", "2027-03-01T12:00:00+03:30",
               cancelled_at="2027-03-02T12:00:00+03:30", cancel_reason="customer"),
        order_payload(3201, C, "70.00", "2027-02-01T02:00:00+03:30"),  # January in UTC, not Tehran
        order_payload(3202, C, "30.00", "2027-05-05T12:00:00+03:30"),
        order_payload(3301, None, "40.00", "2027-01-15T12:00:00+03:30", email="g1@example.com",
               contact_email="g1@example.com"),
        order_payload(3302, None, "45.00", "2027-03-15T12:00:00+03:30", email="g1@example.com",
               contact_email="g1@example.com"),
        order_payload(3303, None, "70.00", "2027-03-16T12:00:00+03:30", email="g2@example.com",
               contact_email="g2@example.com"),
    ]  # fmt: skip
    for order in orders:
        await deliver(client, state, shop, order)
        await _tick(state, shop, order["processed_at"])
    reward = await add_reward(client, shop, points_cost=100, value=500)
    r = await client.post(f"/api/v1/members/{A}/redemptions", headers=shop.auth,
                          json={"reward_id": reward, "idempotency_key": "r1"})  # fmt: skip
    assert r.status_code in (201, 202), r.text
    await state.worker.drain()
    code = (await client.get(f"/api/v1/members/{A}/redemptions/{r.json()['id']}",
                             headers=shop.auth)).json()["code"]  # fmt: skip
    assert code
    used = order_payload(
        3004,
        A,
        "55.00",
        "2027-04-10T12:00:00+03:30",
        discount_codes=[{"code": code, "amount": "5.00", "type": "fixed_amount"}],
    )
    await deliver(client, state, shop, used)
    await _tick(state, shop, used["processed_at"])
    async with state.db.write() as session:  # the tiers as reviewed at the history's end
        await tier_service.refresh(session, shop.shop_id, [A, B, C], NOW)
    found = await state.shops.by_id(shop.shop_id)
    assert found is not None
    assert await tasks.roll_up(state.db, found, NOW) > 0


async def _tick(state: AppState, shop: StoreShop, at: str) -> None:
    """The periodic task a minute after an order was paid. Before it, the members Vafa has just
    enrolled (it records joining when it first sees a customer: today) get the join dates of
    the history."""
    async with state.db.write() as session:
        for customer, joined in JOINED.items():
            await session.execute(
                update(Member)
                .where(Member.shop_id == shop.shop_id, Member.customer_id == customer)
                .values(created_at=datetime.fromisoformat(joined))
            )
    found = await state.shops.by_id(shop.shop_id)
    assert found is not None
    await tasks.roll_up(state.db, found, datetime.fromisoformat(at) + timedelta(minutes=1))


# -- the figures, straight from the sources ------------------------------------------------


def month(moment: datetime) -> date:
    return moment.astimezone(ZONE).date().replace(day=1)


def ratio(a: int, b: int, places: str = "0.0001") -> str | None:
    return None if b == 0 else str((Decimal(a) / b).quantize(Decimal(places), ROUND_HALF_EVEN))


@dataclass
class Paid:
    order_id: str
    customer_id: str | None
    paid_at: datetime
    net: int
    buyer: str  # the member's id, or the guest's e-mail key


@dataclass
class Sources:
    paid: list[Paid]
    members: dict[str, tuple[datetime, str | None]]  # customer → joined, tier
    transactions: list[LedgerTransaction]
    system: dict[int, tuple[str, str]]  # account id → (owner, kind)
    postings: list[tuple[int, int, int]]  # transaction id, account id, amount
    accounts: list[Account]
    redemptions: list[Redemption]


async def sources(state: AppState, shop_id: int) -> Sources:
    async with state.db.read() as session:
        orders = (await session.scalars(select(Order).where(Order.shop_id == shop_id))).all()
        refunds: dict[str, int] = defaultdict(int)
        for r in await session.scalars(select(OrderRefund).where(OrderRefund.shop_id == shop_id)):
            refunds[r.order_id] += r.merchandise_minor
        members = {
            m.customer_id: (m.created_at, m.tier)
            for m in await session.scalars(select(Member).where(Member.shop_id == shop_id))
        }
        txs = list(await session.scalars(
            select(LedgerTransaction).where(LedgerTransaction.shop_id == shop_id)))  # fmt: skip
        accounts = list(await session.scalars(select(Account).where(Account.shop_id == shop_id)))
        postings = [
            (p.transaction_id, p.account_id, p.amount)
            for p in await session.scalars(select(Posting).where(Posting.shop_id == shop_id))
        ]
        redemptions = list(await session.scalars(
            select(Redemption).where(Redemption.shop_id == shop_id)))  # fmt: skip
    paid = []
    for o in orders:
        if not o.known or o.paid_at is None or o.cancelled or o.deleted:
            continue
        email = next((k for k in o.contact_keys or () if k.startswith("email:")), None)
        buyer = o.customer_id or f"guest:{email}"
        paid.append(Paid(o.order_id, o.customer_id, o.paid_at,
                         max(o.merchandise_minor - refunds[o.order_id], 0), buyer))  # fmt: skip
    system = {a.id: (a.owner, a.kind) for a in accounts}
    return Sources(paid, members, txs, system, postings, accounts, redemptions)


def used_orders(s: Sources) -> set[str]:
    return {
        r.order_id for r in s.redemptions
        if r.status == RedemptionStatus.USED and r.order_id is not None
    }  # fmt: skip


def system_total(s: Sources, kind: str) -> int:
    """What reached (redeemed, expired) or left (issued, adjusted) members through a system
    account, from every posting."""
    total = sum(
        amount for _, account, amount in s.postings
        if s.system[account] == (SYSTEM_OWNER, kind)
    )  # fmt: skip
    return -total if kind in (AccountKind.ISSUED, AccountKind.ADJUSTED) else total
