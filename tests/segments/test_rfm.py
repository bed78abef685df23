"""RFM on a seeded history, every figure, score and name worked out by hand below."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from app.members.models import Member
from app.program.models import Order, OrderRefund
from app.segments import service
from app.segments.rfm import quantile_scores
from app.state import AppState
from tests.conftest import ShopifyShop

NOW = datetime(2027, 6, 1, tzinfo=UTC)


def ago(days: int) -> datetime:
    return NOW - timedelta(days=days)


class TestQuantiles:
    def test_a_score_counts_the_figures_strictly_below(self) -> None:
        # n = 10: 1 + ⌊5 × below / 10⌋; the two 20s have one figure below them both.
        values = [10, 20, 20, 30, 40, 50, 60, 70, 80, 90]
        assert quantile_scores(values) == [1, 1, 1, 2, 3, 3, 4, 4, 5, 5]

    def test_one_member_scores_1_and_equal_figures_score_alike(self) -> None:
        assert quantile_scores([7]) == [1]
        assert quantile_scores([3, 3, 3]) == [1, 1, 1]


# Each member's paid orders: (days before NOW, merchandise in minor units).
HISTORY: dict[str, list[tuple[int, int]]] = {
    "a": [(2, 10_000), (10, 10_000), (20, 10_000), (30, 10_000), (45, 10_000), (60, 10_000)],
    "b": [(20, 1_000), (50, 1_000), (90, 1_000), (150, 1_000), (200, 1_000)],
    "c": [(10, 3_000)],
    "d": [(300, 8_000), (320, 8_000), (340, 8_000), (360, 8_000)],
    "e": [(400, 2_000)],  # before the 365-day window: F 0, M 0
    "f": [(100, 1_000), (120, 1_000)],  # the first one refunded 500: M 1,500
}


async def _seed(state: AppState, shop_id: int) -> None:
    async with state.db.write() as session:
        for customer in [*HISTORY, "g"]:  # g: a member without orders
            session.add(Member(shop_id=shop_id, customer_id=customer, created_at=ago(500)))
        n = 0
        for customer, orders in HISTORY.items():
            for days, minor in orders:
                n += 1
                session.add(Order(shop_id=shop_id, order_id=str(n), known=True,
                                  customer_id=customer, financial_state="paid",
                                  merchandise_minor=minor, paid_at=ago(days)))  # fmt: skip
        session.add(OrderRefund(shop_id=shop_id, order_id=str(n - 1), refund_id="r1",
                                merchandise_minor=500))  # f's order 100 days ago  # fmt: skip
        # What does not count: c's order cancelled yesterday, e's order not paid, an order
        # paid after NOW, a guest's order.
        for order_id, customer, changes in (
            ("x1", "c", {"cancelled": True}),
            ("x2", "e", {"financial_state": "pending"}),
            ("x3", "e", {"paid_at": NOW + timedelta(days=1)}),
            ("x4", None, {}),
        ):
            values = {"financial_state": "paid", "paid_at": ago(1), **changes}
            session.add(Order(shop_id=shop_id, order_id=order_id, known=True,
                              customer_id=customer, merchandise_minor=99_999,
                              **values))  # fmt: skip


async def test_rfm_scores_and_names_of_a_seeded_history(
    client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
) -> None:
    """Six members scored (g has no order). By hand, 1 + ⌊5 × below / 6⌋:

    recency days  a 2, c 10, b 20, f 100, d 300, e 400 → R a5 c4 b3 f2 d1 e1
    frequency     e 0, c 1, f 2, d 4, b 5, a 6         → F e1 c1 f2 d3 b4 a5
    monetary      e 0, f 1500, c 3000, b 5000, d 32000, a 60000 → M e1 f1 c2 b3 d4 a5

    a 5/5/5 high_value; b 3/4/3 loyal; c 4/1/2, first order 10 days ago: new;
    d 1/3/4 at_risk; e 1/1/1 and f 2/2/1 hibernating.
    """
    await _seed(state, shopify_shop.shop_id)
    async with state.db.write() as session:
        done = await service.refresh(session, shopify_shop.shop_id, NOW)
    assert done.members == 7
    assert done.sizes == {
        "high_value": 1, "loyal": 1, "new": 1, "at_risk": 1, "hibernating": 2}  # fmt: skip
    expected = {
        "a": (2, 6, 60_000, 5, 5, 5, "high_value"),
        "b": (20, 5, 5_000, 3, 4, 3, "loyal"),
        "c": (10, 1, 3_000, 4, 1, 2, "new"),
        "d": (300, 4, 32_000, 1, 3, 4, "at_risk"),
        "e": (400, 0, 0, 1, 1, 1, "hibernating"),
        "f": (100, 2, 1_500, 2, 2, 1, "hibernating"),
    }
    for customer, figures in expected.items():
        r = await client.get(f"/api/v1/members/{customer}/segments", headers=shopify_shop.auth)
        assert r.status_code == 200, r.text
        body = r.json()
        rfm = body["rfm"]
        got = (rfm["recency_days"], rfm["frequency"], rfm["monetary_minor"], rfm["r"],
               rfm["f"], rfm["m"], rfm["segment"])  # fmt: skip
        assert got == figures, customer
        assert [s["key"] for s in body["segments"]] == [figures[-1]]
    r = await client.get("/api/v1/members/g/segments", headers=shopify_shop.auth)
    assert r.json() == {"customer_id": "g", "segments": [], "rfm": None}
    r = await client.get("/api/v1/segments/hibernating/members", headers=shopify_shop.auth)
    assert [m["customer_id"] for m in r.json()["members"]] == ["e", "f"]
    r = await client.get("/api/v1/segments", headers=shopify_shop.auth)
    sizes = {s["key"]: s["members"] for s in r.json()["segments"]}
    assert sizes == {"high_value": 1, "loyal": 1, "new": 1, "at_risk": 1, "hibernating": 2}
