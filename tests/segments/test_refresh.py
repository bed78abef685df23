"""The refresh: the daily task asks for it once a day, a changed definition at once, and the job
moves members in and out of their segments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select

from app.jobs.kinds import app_kinds
from app.jobs.models import Job
from app.jobs.scheduled import SCHEDULED
from app.segments import service, tasks
from app.shops.service import ShopContext
from app.state import AppState
from tests.conftest import ShopifyShop
from tests.program.club import Club, paid_shopify_order

ALI, SARA = 1073339475, 2073339475
BIG = {"names": {"en": "Big spenders"},
       "conditions": [{"type": "spend", "at_least_minor": 5000}]}  # fmt: skip
FIRST = datetime(2027, 3, 10, tzinfo=UTC)


async def _context(state: AppState, shop: ShopifyShop) -> ShopContext:
    context = await state.shops.by_id(shop.shop_id)
    assert context is not None
    return context


async def _members(client: httpx.AsyncClient, shop: ShopifyShop, key: str) -> list[str]:
    r = await client.get(f"/api/v1/segments/{key}/members", headers=shop.auth)
    assert r.status_code == 200, r.text
    return [m["customer_id"] for m in r.json()["members"]]


def test_the_refresh_is_a_job_kind_and_a_periodic_task() -> None:
    assert service.REFRESH in list(app_kinds())
    assert any(task.run is tasks.schedule_refresh for task in SCHEDULED)


async def test_the_daily_task_refreshes_membership(
    client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
) -> None:
    club = Club(client, state, shopify_shop)
    await client.put("/api/v1/segments/big", json=BIG, headers=shopify_shop.auth)
    await club.deliver("orders/paid", paid_shopify_order(1, "60.00", "2027-03-01T10:00:00Z",
                                                         customer_id=ALI))  # fmt: skip
    await club.deliver("orders/paid", paid_shopify_order(2, "30.00", "2027-03-01T10:00:00Z",
                                                         customer_id=SARA))  # fmt: skip
    context = await _context(state, shopify_shop)
    assert await tasks.schedule_refresh(state.db, context, FIRST) == 1
    await state.worker.drain(FIRST)
    assert await _members(client, shopify_shop, "big") == [str(ALI)]
    # Within the day: not asked again.
    assert await tasks.schedule_refresh(state.db, context, FIRST + timedelta(hours=23)) == 0

    await club.deliver("orders/paid", paid_shopify_order(3, "25.00", "2027-03-10T12:00:00Z",
                                                         customer_id=SARA))  # fmt: skip
    assert await _members(client, shopify_shop, "big") == [str(ALI)]  # until the next refresh
    second = FIRST + timedelta(days=1)
    assert await tasks.schedule_refresh(state.db, context, second) == 1
    await state.worker.drain(second)
    assert await _members(client, shopify_shop, "big") == [str(ALI), str(SARA)]
    r = await client.get(f"/api/v1/members/{ALI}/segments", headers=shopify_shop.auth)
    since = {s["key"]: s["since"] for s in r.json()["segments"]}
    assert since["big"] == "2027-03-10T00:00:00Z"  # in since the first refresh, not re-entered
    r = await client.get("/api/v1/segments/big", headers=shopify_shop.auth)
    assert r.json()["members"] == 2
    assert r.json()["refreshed_at"] == "2027-03-11T00:00:00Z"

    # Ali's order is cancelled: it no longer counts, and he leaves at the next refresh.
    cancelled = paid_shopify_order(1, "60.00", "2027-03-01T10:00:00Z", customer_id=ALI,
                                   updated_at="2027-03-11T10:00:00Z",
                                   cancelled_at="2027-03-11T10:00:00Z")  # fmt: skip
    await club.deliver("orders/cancelled", cancelled)
    third = second + timedelta(days=1)
    assert await tasks.schedule_refresh(state.db, context, third) == 1
    await state.worker.drain(third)
    assert await _members(client, shopify_shop, "big") == [str(SARA)]


async def test_a_changed_definition_asks_for_one_refresh(
    client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
) -> None:
    for at_least in (5000, 6000, 7000):
        body = {**BIG, "conditions": [{"type": "spend", "at_least_minor": at_least}]}
        r = await client.put("/api/v1/segments/big", json=body, headers=shopify_shop.auth)
        assert r.status_code in (200, 201), r.text
    async with state.db.read() as session:
        waiting = await session.scalar(
            select(func.count()).where(
                Job.shop_id == shopify_shop.shop_id, Job.kind == service.REFRESH
            )  # fmt: skip
        )
    assert waiting == 1  # coalesced
    await state.worker.drain(FIRST)
    async with state.db.read() as session:
        assert await service.last_refresh(session, shopify_shop.shop_id) == FIRST


def test_a_span_holds_from_its_refresh_until_the_one_that_ended_it() -> None:
    start, end = FIRST, FIRST + timedelta(days=2)
    spans = service.Spans([("7", "vip", start, end), ("7", "new", start, None)])
    assert spans.at("7", start - timedelta(seconds=1)) == []
    assert spans.at("7", start) == ["new", "vip"]
    assert spans.at("7", end - timedelta(seconds=1)) == ["new", "vip"]
    assert spans.at("7", end) == ["new"]
    assert spans.at("8", start) == []


async def test_refreshes_at_one_instant_continue_a_span_rather_than_start_another(
    state: AppState, shopify_shop: ShopifyShop
) -> None:
    from app.members.models import Member
    from app.segments.models import SegmentSpan
    from app.segments.rules import SegmentRule

    def at_most(n: int) -> SegmentRule:
        return SegmentRule.model_validate(
            {"names": {"en": "Few"}, "conditions": [{"type": "orders", "at_most": n}]}
        )

    shop_id = shopify_shop.shop_id
    async with state.db.write() as session:
        session.add(Member(shop_id=shop_id, customer_id="7", created_at=FIRST))
    for rule in (at_most(0), None, at_most(0)):  # in, out (no segment), in again: all at FIRST
        async with state.db.write() as session:
            if rule is None:
                await service.remove(session, shop_id, "few")
            else:
                await service.put(session, shop_id, "few", rule, FIRST)
            await service.refresh(session, shop_id, FIRST)
    async with state.db.read() as session:
        spans = (await session.execute(
            select(SegmentSpan.entered_at, SegmentSpan.left_at).where(
                SegmentSpan.shop_id == shop_id, SegmentSpan.segment_key == "few")
        )).all()  # fmt: skip
    assert spans == [(FIRST, None)]
