"""The lift report: its intervals match textbook values; on a seeded history its figures equal
those computed here straight from the history; a period with few customers says it is too
small to say; the CSV says what the JSON says."""

from __future__ import annotations

import csv
import io
import math
import statistics
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest

from app.holdout import lift, stats
from app.holdout.models import Cohort, HoldoutAssignment
from app.state import AppState
from tests.engage.conftest import Club
from tests.holdout.conftest import INSIDE, customers, hold_out, insert_orders, seed_history

FROM, TO = "2026-10-01", "2026-10-31"  # the shop's time zone is UTC


def test_the_rate_interval_is_newcombes_simple_asymptotic_one() -> None:
    # Newcombe (1998), Statistics in Medicine 17:873, table II, method 1: 56/70 − 48/80 and
    # 9/10 − 3/10.
    i = stats.two_proportions(56, 70, 48, 80)
    assert (round(i.difference, 4), round(i.low, 4), round(i.high, 4)) == (
        Decimal("0.2000"), Decimal("0.0575"), Decimal("0.3425"),
    )  # fmt: skip
    i = stats.two_proportions(9, 10, 3, 10)
    assert (round(i.low, 4), round(i.high, 4)) == (Decimal("0.2605"), Decimal("0.9395"))


@pytest.mark.parametrize(
    ("df", "table", "within"),
    [(5, "2.5706", "0.0005"), (10, "2.2281", "0.0001"), (30, "2.0423", "0.0001"),
     (120, "1.9799", "0.0001")],
)  # fmt: skip
def test_the_t_quantile_is_the_tables(df: int, table: str, within: str) -> None:
    assert abs(stats.t_975(Decimal(df)) - Decimal(table)) <= Decimal(within)


def test_an_interval_spanning_zero_is_no_measurable_difference_yet() -> None:
    same = lift.GroupFigures(customers=100, repeat_customers=30, revenue_minor=10_000,
                             squares=2_000_000)  # fmt: skip
    a_bit_more = lift.GroupFigures(customers=100, repeat_customers=33, revenue_minor=10_500,
                                   squares=2_100_000)  # fmt: skip
    assert lift.compare_rates(a_bit_more, same).verdict == lift.NO_DIFFERENCE
    assert lift.compare_revenue(a_bit_more, same).verdict == lift.NO_DIFFERENCE
    assert lift.compare_rates(a_bit_more, same).message == (
        "no measurable difference yet in repeat rate"
    )
    few_repeaters = lift.GroupFigures(customers=100, repeat_customers=4, revenue_minor=1,
                                      squares=1)  # fmt: skip
    assert lift.compare_rates(same, few_repeaters).verdict == lift.TOO_SMALL


def _welch_here(a: list[int], b: list[int]) -> tuple[float, float, float]:
    """Welch's interval written out with the statistics module, for comparison."""
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    d = statistics.mean(a) - statistics.mean(b)
    t = float(stats.t_975(Decimal(df)))
    return d, d - t * math.sqrt(va + vb), d + t * math.sqrt(va + vb)


async def test_the_figures_are_those_of_the_history_computed_directly(
    client: httpx.AsyncClient, state: AppState, club: Club
) -> None:
    shop = club.shop
    await hold_out(client, shop.auth, "50")
    held = customers(5000, held_out=True, count=60)
    members = customers(5000, held_out=False, count=80)
    history = await seed_history(state, shop.shop_id, held, members)
    # What the report must leave out: an order paid outside the period, a cancelled one, a
    # guest's, those of a customer who had points before the holdout saw them and of one who
    # left the holdout (the share shrank) within the period.
    enrolled, released = "enrolled-1", "released-1"
    async with state.db.write() as session:
        for customer, cohort, left in (
            (enrolled, Cohort.ENROLLED, None),
            (released, Cohort.HOLDOUT, INSIDE + timedelta(days=9)),
        ):
            session.add(
                HoldoutAssignment(
                    shop_id=shop.shop_id,
                    customer_id=customer,
                    bucket=0,
                    cohort=cohort,
                    assigned_at=INSIDE,
                    released_at=left,
                )
            )
    rows = [
        {
            "order_id": f"{who}-{i}",
            "customer_id": who,
            "merchandise_minor": 9_000,
            "paid_at": INSIDE + timedelta(days=i),
        }
        for who in (enrolled, released)
        for i in (1, 20)
    ]
    rows += [
        {"order_id": "out-1", "customer_id": held[0], "merchandise_minor": 5_000,
         "paid_at": INSIDE - timedelta(seconds=1)},
        {"order_id": "out-2", "customer_id": held[1], "merchandise_minor": 5_000,
         "paid_at": INSIDE + timedelta(days=31)},
        {"order_id": "cancelled", "customer_id": members[0], "merchandise_minor": 5_000,
         "paid_at": INSIDE + timedelta(days=3), "cancelled": True},
        {"order_id": "guest", "customer_id": None, "merchandise_minor": 5_000,
         "paid_at": INSIDE + timedelta(days=3)},
    ]  # fmt: skip
    await insert_orders(state, shop.shop_id, rows)

    r = await client.get("/api/v1/reports/lift", params={"from": FROM, "to": TO},
                         headers=shop.auth)  # fmt: skip
    assert r.status_code == 200, r.text
    body = r.json()

    def group(ids: list[str]) -> tuple[int, int, list[int]]:
        revenue = [sum(history[c]) for c in ids]
        return len(ids), sum(1 for c in ids if len(history[c]) >= 2), revenue

    nm, xm, rev_m = group(members)
    nh, xh, rev_h = group(held)
    assert body["members"]["customers"] == nm == 80
    assert body["holdout"]["customers"] == nh == 60
    assert body["members"]["repeat_customers"] == xm
    assert body["holdout"]["repeat_customers"] == xh
    assert Decimal(body["members"]["repeat_rate"]) == round(Decimal(xm) / nm, 4)
    assert body["members"]["revenue_minor"] == sum(rev_m)
    assert body["holdout"]["revenue_minor"] == sum(rev_h)
    assert Decimal(body["holdout"]["revenue_per_customer_minor"]) == round(
        Decimal(sum(rev_h)) / nh, 2
    )

    pm, ph = xm / nm, xh / nh
    se = math.sqrt(pm * (1 - pm) / nm + ph * (1 - ph) / nh)
    rate = body["repeat_rate"]
    assert float(rate["difference"]) == pytest.approx(pm - ph, abs=1e-4)
    assert float(rate["ci95_low"]) == pytest.approx(pm - ph - 1.959964 * se, abs=1e-4)
    assert float(rate["ci95_high"]) == pytest.approx(pm - ph + 1.959964 * se, abs=1e-4)
    d, low, high = _welch_here(rev_m, rev_h)
    revenue = body["revenue_per_customer_minor"]
    assert float(revenue["difference"]) == pytest.approx(d, abs=0.01)
    assert float(revenue["ci95_low"]) == pytest.approx(low, abs=0.01)
    assert float(revenue["ci95_high"]) == pytest.approx(high, abs=0.01)
    for figure, (lo, hi) in ((rate, (pm - ph - 1.96 * se, pm - ph + 1.96 * se)),
                             (revenue, (low, high))):  # fmt: skip
        expected = (
            "no_difference" if lo <= 0 <= hi else "members_higher" if lo > 0 else "members_lower"
        )
        assert figure["verdict"] == expected

    r = await client.get("/api/v1/reports/lift.csv", params={"from": FROM, "to": TO},
                         headers=shop.auth)  # fmt: skip
    assert r.status_code == 200
    table = {row[0]: row for row in csv.reader(io.StringIO(r.text))}
    assert table["customers"][1:3] == [str(nm), str(nh)]
    assert table["repeat_rate"][3:7] == [rate["difference"], rate["ci95_low"],
                                         rate["ci95_high"], rate["verdict"]]  # fmt: skip
    assert table["revenue_per_customer_minor"][4] == revenue["ci95_low"]


async def test_a_handful_of_customers_is_too_small_to_say(
    client: httpx.AsyncClient, club: Club
) -> None:
    await club.publish({"rules": [{"key": "purchase", "type": "purchase", "points": 1}]})
    await hold_out(client, club.shop.auth, "50")
    (held,) = customers(5000, held_out=True)
    (member,) = customers(5000, held_out=False)
    paid = INSIDE + timedelta(days=2)
    await club.order(1, paid, "30.00", held)
    await club.order(2, paid, "50.00", member)
    await club.order(3, paid + timedelta(days=1), "20.00", member)
    r = await client.get("/api/v1/reports/lift", params={"from": FROM, "to": TO},
                         headers=club.shop.auth)  # fmt: skip
    body = r.json()
    assert body["members"] | {"repeat_rate": None} == {
        "customers": 1, "repeat_customers": 1, "repeat_rate": None, "revenue_minor": 7_000,
        "revenue_per_customer_minor": "7000.00",
    }  # fmt: skip
    assert body["holdout"]["revenue_per_customer_minor"] == "3000.00"
    for figure in (body["repeat_rate"], body["revenue_per_customer_minor"]):
        assert figure["verdict"] == "too_small"
        assert figure["message"].startswith("sample too small to say")
        assert figure["ci95_low"] is None


async def test_a_period_that_cannot_be_is_refused(client: httpx.AsyncClient, club: Club) -> None:
    for params in ({"from": TO, "to": FROM}, {"from": "2020-01-01", "to": TO},
                   {"from": "yesterday"}):  # fmt: skip
        r = await client.get("/api/v1/reports/lift", params=params, headers=club.shop.auth)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "validation_error"
