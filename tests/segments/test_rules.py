"""The shop's own segments: each condition met and not met, and the precise 422 for a rule
that cannot be stored."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from app.segments.rfm import MemberFacts
from app.segments.rules import SegmentRule
from app.state import AppState
from tests.conftest import ShopifyShop

NOW = datetime(2027, 6, 1, tzinfo=UTC)
MEMBER = MemberFacts(
    customer_id="42", tier="gold", joined_at=datetime(2027, 1, 15, tzinfo=UTC), orders=4,
    spend_minor=250_000, first_paid_at=NOW - timedelta(days=200),
    last_paid_at=NOW - timedelta(days=20), window_orders=4, window_spend_minor=250_000,
)  # fmt: skip
NEVER_BOUGHT = replace(MEMBER, orders=0, spend_minor=0, first_paid_at=None, last_paid_at=None,
                       window_orders=0, window_spend_minor=0)  # fmt: skip


def rule(*conditions: dict[str, Any]) -> SegmentRule:
    return SegmentRule.model_validate({"names": {"en": "Test"}, "conditions": list(conditions)})


@pytest.mark.parametrize(
    ("condition", "member", "met"),
    [
        ({"type": "tier", "in": ["silver", "gold"]}, MEMBER, True),
        ({"type": "tier", "in": ["silver"]}, MEMBER, False),
        ({"type": "orders", "at_least": 4}, MEMBER, True),
        ({"type": "orders", "at_least": 5}, MEMBER, False),
        ({"type": "orders", "at_most": 0}, NEVER_BOUGHT, True),
        ({"type": "orders", "at_least": 1, "at_most": 3}, MEMBER, False),
        ({"type": "spend", "at_least_minor": 250_000}, MEMBER, True),
        ({"type": "spend", "at_least_minor": 250_001}, MEMBER, False),
        ({"type": "spend", "at_most_minor": 100_000}, MEMBER, False),
        ({"type": "last_order", "within_days": 20}, MEMBER, True),
        ({"type": "last_order", "within_days": 19}, MEMBER, False),
        ({"type": "last_order", "before_days": 19}, MEMBER, True),
        ({"type": "last_order", "before_days": 20}, MEMBER, False),
        ({"type": "last_order", "before_days": 1}, NEVER_BOUGHT, False),
        ({"type": "joined", "after": "2027-01-15T00:00:00Z"}, MEMBER, True),
        ({"type": "joined", "after": "2027-01-16T00:00:00+03:30"}, MEMBER, False),
        ({"type": "joined", "before": "2027-01-15T00:00:01Z"}, MEMBER, True),
        ({"type": "joined", "before": "2027-01-15T00:00:00Z"}, MEMBER, False),
    ],
)
def test_each_condition(condition: dict[str, Any], member: MemberFacts, met: bool) -> None:
    assert rule(condition).met(member, None, NOW) is met


def test_an_rfm_condition_reads_the_members_rfm_segment() -> None:
    at_risk = rule({"type": "rfm", "in": ["at_risk", "hibernating"]})
    assert at_risk.met(MEMBER, "hibernating", NOW) is True
    assert at_risk.met(MEMBER, "loyal", NOW) is False
    assert at_risk.met(MEMBER, None, NOW) is False


def test_every_condition_must_hold() -> None:
    both = rule({"type": "tier", "in": ["gold"]}, {"type": "orders", "at_least": 5})
    assert both.met(MEMBER, None, NOW) is False
    assert both.met(replace(MEMBER, orders=5), None, NOW) is True


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"names": {"en": "X"}, "conditions": []}, "body.conditions", "at least 1 item"),
        ({"names": {}, "conditions": [{"type": "orders", "at_least": 1}]}, "body.names",
         "at least one language"),
        ({"names": {"en": "X"}, "conditions": [{"type": "age", "min": 3}]},
         "body.conditions.0", "tier"),
        ({"names": {"en": "X"}, "conditions": [{"type": "orders"}]},
         "body.conditions.0.orders", "give at_least, at_most or both"),
        ({"names": {"en": "X"}, "conditions": [{"type": "orders", "at_least": -1}]},
         "body.conditions.0.orders.at_least", "greater than or equal to 0"),
        ({"names": {"en": "X"}, "conditions": [{"type": "spend", "at_least_minor": 5,
                                                "at_most_minor": 4}]},
         "body.conditions.0.spend", "at_least_minor must not be above"),
        ({"names": {"en": "X"}, "conditions": [{"type": "last_order", "within_days": 3,
                                                "before_days": 9}]},
         "body.conditions.0.last_order", "exactly one"),
        ({"names": {"en": "X"}, "conditions": [{"type": "joined",
                                                "after": "2027-01-01T00:00:00"}]},
         "body.conditions.0.joined.after", "UTC offset"),
        ({"names": {"en": "X"}, "conditions": [{"type": "rfm", "in": ["vip"]}]},
         "body.conditions.0.rfm.in.0", "high_value"),
        ({"names": {"en": "X"}, "conditions": [{"type": "tier", "in": ["Gold!"]}]},
         "body.conditions.0.tier.in.0", "pattern"),
        ({"names": {"en": "X"}, "conditions": [{"type": "tier", "in": ["a"], "x": 1}]},
         "body.conditions.0.tier.x", "Extra inputs"),
    ],
)  # fmt: skip
async def test_a_rule_that_cannot_be_stored_is_refused_at_its_field(
    client: httpx.AsyncClient, shopify_shop: ShopifyShop, body: Any, field: str, words: str
) -> None:
    r = await client.put("/api/v1/segments/vip", json=body, headers=shopify_shop.auth)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "validation_error"
    assert error["details"][0]["field"] == field, error
    assert words in error["details"][0]["message"], error
    assert (await client.get("/api/v1/segments/vip", headers=shopify_shop.auth)).status_code == 404


async def test_keys_vafa_keeps_or_cannot_hold_are_refused(
    client: httpx.AsyncClient, state: AppState, shopify_shop: ShopifyShop
) -> None:
    body = {"names": {"en": "X"}, "conditions": [{"type": "orders", "at_least": 1}]}
    r = await client.put("/api/v1/segments/loyal", json=body, headers=shopify_shop.auth)
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["field"] == "path.segment_key"
    r = await client.put("/api/v1/segments/Not%20a%20key", json=body, headers=shopify_shop.auth)
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["field"] == "path.segment_key"
    r = await client.delete("/api/v1/segments/loyal", headers=shopify_shop.auth)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "segment_in_use"


async def test_a_segment_round_trips_and_is_listed_after_the_rfm_ones(
    client: httpx.AsyncClient, shopify_shop: ShopifyShop
) -> None:
    body = {"names": {"en": "Gold buyers", "fa": "خریداران طلایی"},
            "conditions": [{"type": "tier", "in": ["gold"]},
                           {"type": "joined", "after": "2027-01-01T03:30:00+03:30"}]}  # fmt: skip
    r = await client.put("/api/v1/segments/gold-buyers", json=body, headers=shopify_shop.auth)
    assert r.status_code == 201, r.text
    assert r.json()["conditions"] == [
        {"type": "tier", "in": ["gold"]},
        {"type": "joined", "after": "2027-01-01T00:00:00Z"},  # kept in UTC
    ]
    r = await client.put("/api/v1/segments/gold-buyers", json=body, headers=shopify_shop.auth)
    assert r.status_code == 200
    r = await client.get("/api/v1/segments", headers=shopify_shop.auth)
    listed = [(s["key"], s["kind"]) for s in r.json()["segments"]]
    assert listed == [("high_value", "rfm"), ("loyal", "rfm"), ("new", "rfm"), ("at_risk", "rfm"),
                      ("hibernating", "rfm"), ("gold-buyers", "custom")]  # fmt: skip
    got = (await client.get("/api/v1/segments/gold-buyers", headers=shopify_shop.auth)).json()
    assert got["names"] == {"en": "Gold buyers", "fa": "خریداران طلایی"}
    assert got["members"] == 0
